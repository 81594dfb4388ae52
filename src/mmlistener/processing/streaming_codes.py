"""Acoustic and content codes of live audio: SpeechTokenizer re-encoded over a sliding window.

SpeechTokenizer's encoder is not causal: every convolution pads symmetrically and a bidirectional LSTM runs over
the whole input, so a code depends on the audio after it and, through the LSTM, on every sample of what was
encoded. No chunk-by-chunk encoding gives the codes of `SpeechTokenizerCodes.encode` on the whole clip.
[`SlidingWindowCodes`] re-encodes a window of recent audio every `hop_seconds` (a block of codes) and keeps the codes that have
`right_context_seconds` of audio after them. Its codes depend on the audio alone, never on how the audio was
chunked, and [`sliding_window_encode`] gives the same codes for a whole clip. A model meant to run on live audio
should be trained on codes extracted that way (`mmlistener.data.preparation`: `acoustic_codes_mode="streaming"`),
with the settings it will stream with.

The schedule, counting codes from the first sample (code `k` covers samples `[320 k, 320 (k + 1))`), with
`W`, `R` the window and right context in codes and `h = 50 * hop_seconds` the hop in codes (a fraction allowed):

- block `b` ends with code `e_b - 1`, `e_b = floor((b + 1) h) + 1`: the first code that ends after the block's
  boundary `(b + 1) h` is its last. With a hop of one group (`ListenerProcessor.group_seconds`, e.g. 8 frames at
  30 fps: `h = 40 / 3`), the blocks end with the codes that close each group of a listener stream
  (`mmlistener.streaming`), so a group waits for no code beyond its own: `ListenerProcessor.code_streamer` sets
  it so;
- block `b` (codes `[e_{b-1}, e_b)`) becomes final once the audio through code `e = e_b + R` is known
  (`e * 320` samples); its codes are those of encoding samples `[320 s, 320 e)` with `s = max(0, e - W)` (the
  window's code `j` is code `s + j` of the stream);
- at the end of the audio (`finish`), the codes not yet final, up to `N = ceil(samples / 320)`, come from encoding
  samples `[320 s, samples)` with `s = max(0, N - W)`. `N` is the count `encode` gives for the whole clip:
  SEANet pads each strided convolution to whole frames, so a partial last hop still gives a code.

Latency and cost: a group's codes are final `R` codes (20 ms each) after the code that closes it, plus the time
of one encode; each block costs one encode of `W` codes (`W / h` times the work of encoding the audio once).
A longer window gives the LSTM more left context; a longer right context moves the kept codes away from the
window's right edge, where the padding and the backward LSTM see no future audio.
"""

import math

import numpy as np

from .audio import SAMPLE_RATE
from .speech_tokenizer import CODE_RATE

HOP_SAMPLES = SAMPLE_RATE // CODE_RATE  # 320 samples per code
DEFAULT_WINDOW_SECONDS = 1.0
DEFAULT_RIGHT_CONTEXT_SECONDS = 0.2


def code_count(samples: int) -> int:
    """Codes `SpeechTokenizerCodes.encode` gives for `samples` samples: `ceil(samples / 320)`."""
    return -(-samples // HOP_SAMPLES)


def _seconds_to_codes(seconds: float, name: str, minimum: int) -> int:
    codes = float(seconds) * CODE_RATE
    if not math.isfinite(codes) or codes < minimum or abs(codes - round(codes)) > 1e-6:
        low = "positive" if minimum > 0 else "non-negative"
        raise ValueError(f"{name} must be a {low} multiple of {1 / CODE_RATE} s (one code), got {seconds!r}")
    return round(codes)


def window_settings(window_seconds: float, right_context_seconds: float, hop_seconds: float) -> tuple[int, int, float]:
    """`(W, R, h)`: the window and the right context in codes, and the hop in codes (a fraction allowed); a
    ValueError for settings that cannot work (non-positive window or hop, negative right context, a window shorter
    than the longest block and its right context)."""
    window = _seconds_to_codes(window_seconds, "window_seconds", 1)
    right_context = _seconds_to_codes(right_context_seconds, "right_context_seconds", 0)
    try:
        hop = round(float(hop_seconds) * CODE_RATE, 6)  # 0.14 s is 7 codes, not 7.000000000000001
    except (TypeError, ValueError):
        hop = math.nan
    if isinstance(hop_seconds, bool) or not math.isfinite(hop) or hop < 1:
        raise ValueError(f"hop_seconds must be at least one code ({1 / CODE_RATE} s), got {hop_seconds!r}")
    longest = math.ceil(hop) + 1
    if window < longest + right_context:
        raise ValueError(
            f"the window ({window} codes) must hold a block (up to {longest} codes) and its right context "
            f"({right_context} codes): window_seconds >= {(longest + right_context) / CODE_RATE} s"
        )
    return window, right_context, hop


def block_end(block: int, hop: float) -> int:
    """`e_b`: the codes final once block `block` is, `floor((block + 1) * hop) + 1` (see the module docstring)."""
    return math.floor((block + 1) * hop + 1e-6) + 1


def checked_audio(audio) -> np.ndarray:
    """`audio` as float32 `(samples,)`, or a ValueError unless it is 1-D and finite."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1:
        raise ValueError(f"expected 16 kHz mono audio of shape (samples,), got shape {audio.shape}")
    if not np.isfinite(audio).all():
        raise ValueError("audio contains NaN or infinite samples")
    return audio


def _window_codes(codec, audio: np.ndarray, first: int, stop: int) -> tuple[list[int], list[int]]:
    """Codes `[first, stop)` of one window: `audio` (`(samples,)`) starts at a code boundary; its code `first` is
    the first kept. Returns `(content, acoustic)`."""
    content, acoustic = codec.encode(audio)
    if len(content) != code_count(len(audio)):
        raise ValueError(
            f"the codec gave {len(content)} codes for {len(audio)} samples; sliding windows need "
            f"ceil(samples / {HOP_SAMPLES}) (SpeechTokenizer at {SAMPLE_RATE} Hz)"
        )
    return content[first:stop], acoustic[first:stop]


def sliding_window_encode(
    codec,
    audio,
    hop_seconds: float,
    window_seconds: float = DEFAULT_WINDOW_SECONDS,
    right_context_seconds: float = DEFAULT_RIGHT_CONTEXT_SECONDS,
) -> tuple[list[int], list[int]]:
    """The codes [`SlidingWindowCodes`] gives for a whole clip: the offline extraction done the streaming way.

    Args:
        codec ([`SpeechTokenizerCodes`]): the speech tokenizer.
        audio (`np.ndarray` of shape `(samples,)`): 16 kHz mono.
        hop_seconds, window_seconds, right_context_seconds: as for [`SlidingWindowCodes`].

    Returns:
        `(content_codes, acoustic_codes)`: two int lists of `ceil(samples / 320)` codes, as `codec.encode`.
    """
    stream = SlidingWindowCodes(codec, hop_seconds, window_seconds, right_context_seconds)
    pushed, tail = stream.push(audio), stream.finish()
    return pushed["content"] + tail["content"], pushed["acoustic"] + tail["acoustic"]


class SlidingWindowCodes:
    """Content and acoustic codes of live 16 kHz audio, final once they have enough right context.

    Push audio in chunks of any size; each push returns the codes that became final with it, `finish()` the rest
    at the end of a turn. Pushed and finished codes together equal [`sliding_window_encode`] of the whole audio,
    however it was chunked. The schedule, latency and cost are in the module's docstring.

    Args:
        codec ([`SpeechTokenizerCodes`]): the speech tokenizer (its `encode(audio) -> (content, acoustic)`).
        hop_seconds (`float`): audio per block, one window encode each, at least one code (0.02 s); a listener
            stream's group (`ListenerProcessor.group_seconds`) makes blocks end with the codes that close its groups.
        window_seconds (`float`, defaults to 1.0): audio encoded per block, a multiple of 0.02 s.
        right_context_seconds (`float`, defaults to 0.2): audio after a block before it is final (the latency), a
            multiple of 0.02 s; with 0 each block ends at its window's right edge.

    Example (`codec` a [`SpeechTokenizerCodes`], `chunks` arrays of 16 kHz samples):

    ```python
    stream = SlidingWindowCodes(codec, hop_seconds=8 / 30)  # one group of 8 frames at 30 fps
    for chunk in chunks:
        codes = stream.push(chunk)  # {"content": [...], "acoustic": [...]}, often empty
    codes = stream.finish()  # the last codes; the stream is then empty, as after reset()
    ```
    """

    def __init__(
        self,
        codec,
        hop_seconds: float,
        window_seconds: float = DEFAULT_WINDOW_SECONDS,
        right_context_seconds: float = DEFAULT_RIGHT_CONTEXT_SECONDS,
    ):
        self.window, self.right_context, self.hop = window_settings(window_seconds, right_context_seconds, hop_seconds)
        self.codec = codec
        self.reset()

    def reset(self) -> None:
        """Forget all audio: the next push starts a new clip at code 0."""
        self._audio = np.zeros(0, dtype=np.float32)  # the samples from global sample `_offset` on
        self._offset = 0
        self._block = 0  # the next block

    @property
    def samples(self) -> int:
        """Samples pushed since the last reset."""
        return self._offset + len(self._audio)

    @property
    def _final(self) -> int:
        """Codes returned so far: the start of the next block."""
        return block_end(self._block - 1, self.hop) if self._block else 0

    def _encode(self, first: int, end_sample: int, stop: int) -> tuple[list[int], list[int]]:
        """Codes `[_final, stop)` from the window of global codes `first`.. ending at global sample `end_sample`."""
        window = self._audio[first * HOP_SAMPLES - self._offset : end_sample - self._offset]
        return _window_codes(self.codec, window, self._final - first, stop - first)

    def push(self, audio) -> dict[str, list[int]]:
        """Add the next samples and return the codes that became final.

        Args:
            audio (`np.ndarray` of shape `(samples,)`): the next 16 kHz mono samples (any count, 0 included).

        Returns:
            `{"content": [...], "acoustic": [...]}`: the next codes of each stream, whole blocks only.
        """
        self._audio = np.concatenate([self._audio, checked_audio(audio)])
        final = {"content": [], "acoustic": []}
        while (stop := block_end(self._block, self.hop)) + self.right_context <= self.samples // HOP_SAMPLES:
            end = stop + self.right_context  # the window of codes `[end - window, end)` makes the block final
            content, acoustic = self._encode(max(0, end - self.window), end * HOP_SAMPLES, stop)
            final["content"] += content
            final["acoustic"] += acoustic
            self._block += 1
        keep = max(0, self._final + 1 - self.window) * HOP_SAMPLES  # no later window starts before this
        self._audio, self._offset = self._audio[keep - self._offset :], keep
        return final

    def finish(self) -> dict[str, list[int]]:
        """The codes not yet final, encoded with the right context there is; then start over as after `reset()`.

        Returns:
            `{"content": [...], "acoustic": [...]}`: together with the pushes', `ceil(samples / 320)` codes each.
        """
        total = code_count(self.samples)
        content, acoustic = [], []
        if self._final < total:
            content, acoustic = self._encode(max(0, total - self.window), self.samples, total)
        self.reset()
        return {"content": content, "acoustic": acoustic}


__all__ = [
    "DEFAULT_RIGHT_CONTEXT_SECONDS",
    "DEFAULT_WINDOW_SECONDS",
    "HOP_SAMPLES",
    "SlidingWindowCodes",
    "block_end",
    "checked_audio",
    "code_count",
    "sliding_window_encode",
    "window_settings",
]
