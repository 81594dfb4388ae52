"""A weight-free acoustic tokenizer: prosody and spectral-shape codes of 16 kHz speech by signal processing.

[`ProsodyTokenizer`] gives the two 50 Hz code streams [`SpeechTokenizerCodes`] gives (`encode(audio) ->
(content_codes, acoustic_codes)`, code `k` covering samples `[320 k, 320 (k + 1))`, `ceil(samples / 320)` codes),
with no checkpoint: every code is a quantized measurement of the audio around its frame, the same on any machine.

Analysis of frame `k` (its centre `c = 320 k + 160`):

- pitch: `librosa.yin` over the `PITCH_WINDOW` (800 samples, 50 ms) `[c - 400, c + 400)`, 60-500 Hz;
  the frame is voiced when the normalized autocorrelation of that window at the YIN period reaches
  `VOICING_THRESHOLD`;
- loudness (dBFS: `10 log10` of the Hann-weighted mean square, full scale 1.0), spectral brightness (the power
  spectrum's centroid) and the cepstrum (DCT of the `MEL_BANDS` log mel energies in dB, floored `MEL_FLOOR`
  60 dB below the strongest band) over the `SPECTRUM_WINDOW` (512 samples, 32 ms, Hann) `[c - 256, c + 256)`;
- pitch movement: the semitone slope between the voiced neighbours `k - 1` and `k + 1` (one-sided where only one
  of them is voiced or exists).

So code `k` depends on samples `[320 k - 560, 320 (k + 1) + 560)` only (`LOOKBEHIND_SAMPLES`,
`LOOKAHEAD_SAMPLES`: 35 ms either side of the code's own 20 ms), zeros standing for samples before the first and
after the last. Nothing carries from one frame to the next, so a stream ([`StreamingProsodyCodes`]) gives exactly
the offline codes, final `LOOKAHEAD_SAMPLES` after a code's end.

Acoustic codes (`ACOUSTIC_CODES` = 536 used of the model's 1024), by offset:

- `[0, 16)` silence (`SILENCE_CODES`), loudness below `SILENCE_DB` (-54 dBFS): code
  `15 - floor((SILENCE_DB - dB) / SILENCE_STEP_DB)`, clipped to `[0, 15]` (4 dB steps; 0 for -114 dBFS and below,
  digital silence included);
- `[16, 80)` unvoiced speech (`UNVOICED_OFFSET`): `16 + loudness * BRIGHTNESS_BINS + brightness`;
- `[80, 536)` voiced speech (`VOICED_OFFSET`): `80 + (loudness * PITCH_BINS + pitch) * MOVEMENTS + movement`;

with `loudness = floor((dB - SILENCE_DB) / LOUDNESS_STEP_DB)` in `[0, LOUDNESS_BINS)` (8 bins of 6 dB, the last
open: -12 dBFS and above), `brightness = floor(2 log2(centroid / 500 Hz))` in `[0, BRIGHTNESS_BINS)` (8
half-octave bins, the first below 707 Hz, the last from 5657 Hz), `pitch = floor(12 log2(f0 / 60 Hz) /
PITCH_STEP_SEMITONES)` in `[0, PITCH_BINS)` (19 bins of 2 semitones over 60-538 Hz, absolute: the same pitch
gives the same bin in any voice) and `movement` 0 falling, 1 flat, 2 rising (`FALLING`, `FLAT`, `RISING`): the
slope beyond `MOVEMENT_SEMITONES` (0.2 semitones per 20 ms frame, 10 semitones per second) down or up.

Content codes (`CONTENT_CODES` = 988), a phone-like spectral shape: `[0, 16)` silence as above, else
`16 + sum_i bin_i * stride_i` over the cepstral coefficients `c1` .. `c6` of the frame (`CEPSTRAL_EDGES`: `c1`, the
spectral tilt, in 4 bins, `c2` .. `c6` in 3 bins each, `c1` the most significant digit; the edges are round
values near the coefficients' quartiles and tertiles in eSpeak NG speech, so that each bin is used). The cepstrum
leaves out `c0`, so the content codes do not change with the level of the audio.

Pitch: `librosa.yin` is frame-local (each frame's period comes from its own window: no smoothing or path search
across frames) and vectorised, a small part of the tokenizer's cost (`bench/acoustic_tokenizers.py` prints the
cost per group). The other trackers are not frame-local: pYIN (`librosa.pyin`) and Praat (`parselmouth`,
`To Pitch`) choose a path over the whole clip (Viterbi), and WORLD (`pyworld.dio`, `harvest`) filters the whole
signal, so their frames change with audio far away and no stream could reproduce them. YIN gives no voicing
decision, so the normalized autocorrelation at its period gives it. librosa is imported on the first encode,
not with the package: with numba, that first call takes a few seconds (the bench prints it); librosa compiles its
parabolic interpolation once per install and caches it. The codes follow librosa's YIN (`librosa>=0.11`, whose
difference function is taken over the whole frame).

Determinism: every step works on each frame's own window with operations whose result for a row does not depend
on the other rows in the batch (per-row FFTs, sums along the last axis, element-wise maths; no BLAS products), so
the codes of a frame are the same whichever block of frames it is computed in.
"""

import numpy as np

from .audio import SAMPLE_RATE
from .streaming_codes import HOP_SAMPLES, checked_audio, code_count

# Analysis windows, centred on each frame's centre (`320 k + 160`).
PITCH_WINDOW = 800  # samples (50 ms): YIN's frame, long enough for 3 periods at 60 Hz
SPECTRUM_WINDOW = 512  # samples (32 ms), Hann: loudness, brightness, cepstrum
WINDOW_START = HOP_SAMPLES // 2 - PITCH_WINDOW // 2  # -240: frame k's pitch window starts at 320 k - 240
LOOKAHEAD_SAMPLES = WINDOW_START + PITCH_WINDOW  # 560 (35 ms): frame k + 1's window ends 560 after code k
LOOKBEHIND_SAMPLES = HOP_SAMPLES - WINDOW_START  # 560 (35 ms): frame k - 1's window starts 560 before code k
LOOKAHEAD_MS = 1000 * LOOKAHEAD_SAMPLES / SAMPLE_RATE  # 35.0

# Silence and loudness (dBFS: 10 log10 of the Hann-weighted mean square, full scale 1.0).
SILENCE_CODES = 16
SILENCE_DB = -54.0
SILENCE_STEP_DB = 4.0
LOUDNESS_BINS = 8
LOUDNESS_STEP_DB = 6.0

# Unvoiced speech: loudness x brightness (spectral centroid, half-octave bins from 500 Hz).
BRIGHTNESS_BINS = 8
BRIGHTNESS_BASE_HZ = 500.0
UNVOICED_OFFSET = SILENCE_CODES  # 16
UNVOICED_CODES = LOUDNESS_BINS * BRIGHTNESS_BINS  # 64

# Voiced speech: loudness x pitch (absolute semitone bins) x movement.
PITCH_MIN_HZ = 60.0
PITCH_MAX_HZ = 500.0
PITCH_STEP_SEMITONES = 2.0
PITCH_BINS = 19  # 60 Hz * 2 ** (19 * 2 / 12) = 538 Hz > PITCH_MAX_HZ
VOICING_THRESHOLD = 0.6  # normalized autocorrelation at the YIN period
YIN_TROUGH_THRESHOLD = 0.1
MOVEMENT_SEMITONES = 0.2  # per frame (20 ms)
FALLING, FLAT, RISING = 0, 1, 2
MOVEMENTS = 3
VOICED_OFFSET = UNVOICED_OFFSET + UNVOICED_CODES  # 80
VOICED_CODES = LOUDNESS_BINS * PITCH_BINS * MOVEMENTS  # 456
ACOUSTIC_CODES = VOICED_OFFSET + VOICED_CODES  # 536

# Content: coarse bins of the cepstral coefficients c1 .. c6 (dB, orthonormal DCT of the log mel energies).
MEL_BANDS = 24
MEL_MIN_HZ = 100.0
MEL_MAX_HZ = 7600.0
MEL_FLOOR = 1e-6  # mel energies 60 dB below the frame's strongest band count as that (-60 dB)
CEPSTRAL_EDGES = (  # bin edges of c1, c2, .., c6 in dB: round values near the quartiles (c1) and tertiles
    (5.0, 35.0, 50.0),  # of the coefficients of eSpeak NG English speech (six voices, calm to loud)
    (0.0, 15.0),
    (15.0, 35.0),
    (-15.0, 0.0),
    (0.0, 12.0),
    (-8.0, 4.0),
)
CONTENT_OFFSET = SILENCE_CODES  # 16
CONTENT_CODES = CONTENT_OFFSET + int(np.prod([len(edges) + 1 for edges in CEPSTRAL_EDGES]))  # 988

_BLOCK_FRAMES = 256  # frames analysed at once offline: bounds the memory of a long clip


def _yin(windows: np.ndarray) -> np.ndarray:
    """YIN periods' frequencies `(frames,)` in Hz of `windows` `(frames, PITCH_WINDOW)`."""
    import librosa

    # one frame per window: librosa frames a 1-D signal, so each window is its own signal (a row)
    return librosa.yin(
        windows,
        fmin=PITCH_MIN_HZ,
        fmax=PITCH_MAX_HZ,
        sr=SAMPLE_RATE,
        frame_length=PITCH_WINDOW,
        hop_length=HOP_SAMPLES,
        trough_threshold=YIN_TROUGH_THRESHOLD,
        center=False,
    )[:, 0]


class _Analysis:
    """The constant arrays of the analysis: the Hann window, the mel filters, the DCT rows, the bin centres."""

    def __init__(self):
        import librosa

        self.hann = np.hanning(SPECTRUM_WINDOW + 2)[1:-1]  # no zero end points: every sample counts
        self.frequencies = np.fft.rfftfreq(SPECTRUM_WINDOW, 1 / SAMPLE_RATE)
        self.mel = librosa.filters.mel(
            sr=SAMPLE_RATE, n_fft=SPECTRUM_WINDOW, n_mels=MEL_BANDS, fmin=MEL_MIN_HZ, fmax=MEL_MAX_HZ, norm=None
        ).astype(np.float64)  # (MEL_BANDS, bins)
        orders = np.arange(1, len(CEPSTRAL_EDGES) + 1)[:, None]
        bands = np.arange(MEL_BANDS)[None]
        self.dct = np.sqrt(2 / MEL_BANDS) * np.cos(np.pi * orders * (bands + 0.5) / MEL_BANDS)  # (6, MEL_BANDS)
        self.strides = np.cumprod([1] + [len(edges) + 1 for edges in CEPSTRAL_EDGES[:0:-1]])[::-1]


_ANALYSIS = None


def _analysis() -> _Analysis:
    global _ANALYSIS
    if _ANALYSIS is None:
        _ANALYSIS = _Analysis()
    return _ANALYSIS


def _frame_features(windows: np.ndarray) -> dict[str, np.ndarray]:
    """Per-frame measurements of `windows` `(frames, PITCH_WINDOW)` float64 (each a frame's pitch window).

    Returns:
        `dict` of `(frames,)` arrays: `db` (loudness, dBFS), `voiced` (bool), `semitones` (pitch above 60 Hz,
        NaN where unvoiced), `centroid` (Hz), and `cepstrum` `(frames, 6)` (c1 .. c6, dB).
    """
    analysis = _analysis()
    offset = (PITCH_WINDOW - SPECTRUM_WINDOW) // 2
    spectral = windows[:, offset : offset + SPECTRUM_WINDOW]
    db = 10 * np.log10(np.sum(analysis.hann * spectral**2, axis=-1) / np.sum(analysis.hann) + 1e-30)
    power = np.abs(np.fft.rfft(spectral * analysis.hann, axis=-1)) ** 2  # (frames, bins)
    centroid = np.sum(power * analysis.frequencies, axis=-1) / (np.sum(power, axis=-1) + 1e-30)
    mel = np.sum(power[:, None, :] * analysis.mel, axis=-1)  # (frames, MEL_BANDS); no BLAS: exact per row
    floor = MEL_FLOOR * np.max(mel, axis=-1, keepdims=True) + 1e-30  # relative: the shape, not the level
    log_mel = 10 * np.log10(mel + floor)
    cepstrum = np.sum(log_mel[:, None, :] * analysis.dct, axis=-1)  # (frames, 6)

    f0 = _yin(windows)
    period = np.clip(np.rint(SAMPLE_RATE / f0), 1, PITCH_WINDOW - 1).astype(np.int64)
    index = np.arange(PITCH_WINDOW)
    inside = index[None] < PITCH_WINDOW - period[:, None]  # the pairs (n, n + period) within the window
    later = np.take_along_axis(windows, np.minimum(index[None] + period[:, None], PITCH_WINDOW - 1), axis=-1)
    early = np.where(inside, windows, 0.0)
    later = np.where(inside, later, 0.0)
    energy = np.sum(early**2, axis=-1) * np.sum(later**2, axis=-1)
    periodicity = np.sum(early * later, axis=-1) / np.sqrt(energy + 1e-30)
    voiced = (periodicity >= VOICING_THRESHOLD) & (f0 >= PITCH_MIN_HZ) & (f0 <= PITCH_MAX_HZ) & (db >= SILENCE_DB)
    semitones = np.where(voiced, 12 * np.log2(f0 / PITCH_MIN_HZ), np.nan)
    return {"db": db, "voiced": voiced, "semitones": semitones, "centroid": centroid, "cepstrum": cepstrum}


def _movement(semitones: np.ndarray) -> np.ndarray:
    """`FALLING` / `FLAT` / `RISING` of frames `1 .. n - 2` of `semitones` `(n,)` (pitch in semitones, NaN where
    unvoiced or missing): the slope to the voiced neighbours, central where both are voiced, else one-sided."""
    middle, previous, following = semitones[1:-1], semitones[:-2], semitones[2:]
    both = ~np.isnan(previous) & ~np.isnan(following)
    slope = np.where(
        both,
        (following - previous) / 2,
        np.where(~np.isnan(following), following - middle, np.where(~np.isnan(previous), middle - previous, 0.0)),
    )
    slope = np.nan_to_num(slope)  # unvoiced frames: their movement is not used
    return np.where(slope > MOVEMENT_SEMITONES, RISING, np.where(slope < -MOVEMENT_SEMITONES, FALLING, FLAT))


def _codes(padded: np.ndarray, start: int, first: int, stop: int, total: int) -> tuple[np.ndarray, np.ndarray]:
    """Codes `[first, stop)` of a clip of `total` codes, as `(content, acoustic)` int arrays.

    `padded` holds the clip's samples from `320 start + WINDOW_START` on (zeros before the clip's first sample and
    after its last), through the pitch window of frame `min(stop, total - 1)`; `start <= max(first - 1, 0)`.
    """
    low, high = max(first - 1, 0), min(stop + 1, total)  # the frames measured: the codes and their neighbours
    begin = (low - start) * HOP_SAMPLES
    span = padded[begin : begin + (high - low - 1) * HOP_SAMPLES + PITCH_WINDOW]
    windows = np.lib.stride_tricks.sliding_window_view(span, PITCH_WINDOW)[::HOP_SAMPLES]
    features = _frame_features(np.ascontiguousarray(windows))
    before, after = [] if first > 0 else [np.nan], [] if stop < total else [np.nan]  # missing neighbours
    semitones = np.concatenate([before, features["semitones"], after])  # frames first - 1 .. stop
    keep = slice(first - low, first - low + stop - first)
    db, voiced = features["db"][keep], features["voiced"][keep]
    movement = _movement(semitones)

    silent = db < SILENCE_DB
    silence = np.clip(SILENCE_CODES - 1 - np.floor((SILENCE_DB - db) / SILENCE_STEP_DB), 0, SILENCE_CODES - 1)
    loudness = np.clip(np.floor((db - SILENCE_DB) / LOUDNESS_STEP_DB), 0, LOUDNESS_BINS - 1)
    centroid = np.maximum(features["centroid"][keep], 1.0)
    brightness = np.clip(np.floor(2 * np.log2(centroid / BRIGHTNESS_BASE_HZ)), 0, BRIGHTNESS_BINS - 1)
    pitch = np.clip(np.floor(np.nan_to_num(features["semitones"][keep]) / PITCH_STEP_SEMITONES), 0, PITCH_BINS - 1)
    unvoiced_code = UNVOICED_OFFSET + loudness * BRIGHTNESS_BINS + brightness
    voiced_code = VOICED_OFFSET + (loudness * PITCH_BINS + pitch) * MOVEMENTS + movement
    acoustic = np.where(silent, silence, np.where(voiced, voiced_code, unvoiced_code))

    cepstrum = features["cepstrum"][keep]
    shape = sum(
        np.searchsorted(edges, cepstrum[:, order], side="right") * stride
        for order, (edges, stride) in enumerate(zip(CEPSTRAL_EDGES, _analysis().strides))
    )
    content = np.where(silent, silence, CONTENT_OFFSET + shape)
    return content.astype(np.int64), acoustic.astype(np.int64)


class ProsodyTokenizer:
    """Content and acoustic codes of 16 kHz mono speech without weights: a drop-in for [`SpeechTokenizerCodes`].

    The code layout, the analysis and the look-ahead are in the module's docstring and constants. The codes are
    deterministic and frame-local: code `k` depends on samples `[320 k - 560, 320 (k + 1) + 560)` only.

    Example:

    ```python
    >>> import numpy as np
    >>> tokenizer = ProsodyTokenizer()
    >>> t = np.arange(16000) / 16000
    >>> content, acoustic = tokenizer.encode((0.1 * np.sin(2 * np.pi * 150 * t)).astype(np.float32))
    >>> len(content), len(acoustic)
    (50, 50)
    ```
    """

    lookahead_samples = LOOKAHEAD_SAMPLES
    num_acoustic_codes = ACOUSTIC_CODES
    num_content_codes = CONTENT_CODES

    def encode(self, audio: np.ndarray) -> tuple[list[int], list[int]]:
        """Codes of one clip.

        Args:
            audio (`np.ndarray` of shape `(samples,)`): 16 kHz mono float, finite, at least one sample.

        Returns:
            `(content_codes, acoustic_codes)`: two int lists of `ceil(samples / 320)` codes at 50 Hz.
        """
        audio = _checked(audio)
        if len(audio) == 0:
            raise ValueError("audio is empty: expected at least one sample of 16 kHz mono audio")
        total = code_count(len(audio))
        after = (total - 1) * HOP_SAMPLES + PITCH_WINDOW + WINDOW_START - len(audio)  # the last window's padding
        padded = np.concatenate([np.zeros(-WINDOW_START), audio, np.zeros(max(after, 0))])
        content, acoustic = [], []
        for first in range(0, total, _BLOCK_FRAMES):
            start = max(first - 1, 0)
            begin = start * HOP_SAMPLES
            block = padded[begin : begin + (_BLOCK_FRAMES + 2) * HOP_SAMPLES + PITCH_WINDOW]
            codes = _codes(block, start, first, min(first + _BLOCK_FRAMES, total), total)
            content.append(codes[0])
            acoustic.append(codes[1])
        return np.concatenate(content).tolist(), np.concatenate(acoustic).tolist()

    def streaming(self) -> "StreamingProsodyCodes":
        """A [`StreamingProsodyCodes`] over this tokenizer: the same codes, pushed audio in, final codes out."""
        return StreamingProsodyCodes(self)


def _checked(audio) -> np.ndarray:
    """`audio` as float64 `(samples,)`, or a ValueError naming the problem (not 1-D, NaN or infinite)."""
    array = np.asarray(audio)
    if array.ndim != 1:
        raise ValueError(
            f"expected 16 kHz mono audio of shape (samples,), got shape {array.shape}: down-mix stereo first"
        )
    return checked_audio(array).astype(np.float64)


class StreamingProsodyCodes:
    """[`ProsodyTokenizer`] codes of live 16 kHz audio, each final `LOOKAHEAD_SAMPLES` (35 ms) after its end.

    The interface of [`SlidingWindowCodes`]: push audio in chunks of any size; each push returns the codes that
    became final with it, `finish()` the rest at the end of a turn (the tail as `encode` gives it, zeros after the
    last sample). Pushed and finished codes together equal `ProsodyTokenizer.encode` of the whole audio exactly,
    however it was chunked; the buffer holds at most the last few windows (memory does not grow with the stream).

    Args:
        tokenizer ([`ProsodyTokenizer`], *optional*): the tokenizer (a new one by default).

    Example (`chunks` arrays of 16 kHz samples):

    ```python
    stream = ProsodyTokenizer().streaming()
    for chunk in chunks:
        codes = stream.push(chunk)  # {"content": [...], "acoustic": [...]}
    codes = stream.finish()  # the last codes; the stream is then empty, as after reset()
    ```
    """

    def __init__(self, tokenizer: ProsodyTokenizer | None = None):
        self.codec = tokenizer if tokenizer is not None else ProsodyTokenizer()
        self.lookahead_samples = LOOKAHEAD_SAMPLES  # a code is final this many samples after its end
        self.reset()

    def reset(self) -> None:
        """Forget all audio: the next push starts a new clip at code 0."""
        self._buffer = np.zeros(-WINDOW_START)  # padded samples from frame `_start`'s pitch window on
        self._start = 0
        self._final = 0  # codes returned so far
        self._samples = 0

    @property
    def samples(self) -> int:
        """Samples pushed since the last reset."""
        return self._samples

    def push(self, audio) -> dict[str, list[int]]:
        """Add the next samples and return the codes that became final.

        Args:
            audio (`np.ndarray` of shape `(samples,)`): the next 16 kHz mono samples (any count, 0 included).

        Returns:
            `{"content": [...], "acoustic": [...]}`: the next codes, those with `LOOKAHEAD_SAMPLES` after them.
        """
        audio = _checked(audio)
        self._buffer = np.concatenate([self._buffer, audio])
        self._samples += len(audio)
        stop = max(0, (self._samples - LOOKAHEAD_SAMPLES) // HOP_SAMPLES)  # code k needs 320 (k + 1) + 560
        if stop <= self._final:
            return {"content": [], "acoustic": []}
        content, acoustic = _codes(self._buffer, self._start, self._final, stop, stop + 1)
        self._final = stop
        keep = max(stop - 1, 0)  # frame `stop - 1` is the next code's previous neighbour
        self._buffer = self._buffer[(keep - self._start) * HOP_SAMPLES :]
        self._start = keep
        return {"content": content.tolist(), "acoustic": acoustic.tolist()}

    def finish(self) -> dict[str, list[int]]:
        """The codes not yet final, with zeros after the last sample as in `encode`; then start over as after
        `reset()`.

        Returns:
            `{"content": [...], "acoustic": [...]}`: together with the pushes', `ceil(samples / 320)` codes each.
        """
        total = code_count(self._samples)
        codes = {"content": [], "acoustic": []}
        if self._final < total:
            needed = (total - 1 - self._start) * HOP_SAMPLES + PITCH_WINDOW
            padded = np.concatenate([self._buffer, np.zeros(max(needed - len(self._buffer), 0))])
            content, acoustic = _codes(padded, self._start, self._final, total, total)
            codes = {"content": content.tolist(), "acoustic": acoustic.tolist()}
        self.reset()
        return codes


__all__ = [
    "ACOUSTIC_CODES",
    "CONTENT_CODES",
    "LOOKAHEAD_MS",
    "LOOKAHEAD_SAMPLES",
    "ProsodyTokenizer",
    "StreamingProsodyCodes",
]
