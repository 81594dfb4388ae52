"""Words of a growing recording as they become stable: local agreement over any `SpeechRecognizer`.

An ASR run over a recording that is still growing revises its last words as more audio arrives. The
live listener must not take back a word it has placed, so it takes a word only once it is stable:

- **Rolling buffer.** Every `update_seconds` of new audio, the recogniser transcribes the buffer (the audio
  since the last cut, at most `max_buffer_seconds`).
- **Local agreement.** The words after the confirmed ones form the hypothesis; its longest prefix that
  the previous transcription also gave (the same texts, compared case- and punctuation-blind and joined, so that
  the same speech cut into other words agrees) is confirmed, with the times of the newer transcription. A word is thus confirmed one or two updates after it is spoken.
- **After the confirmed words.** A recogniser moves a word's times between two transcriptions (tens of ms) and
  may cut the same speech into other words ("New York" once, "New", "York" the next time), so where the
  confirmed words stop is found by their texts, not their times: the transcription's first words whose texts,
  joined, are those of the words confirmed in the buffer are the confirmed ones, whatever their times (a word
  said twice stays two words). Only when the transcription does not start with them (it revised a confirmed
  word) do times decide: a word whose middle lies before the last confirmed word's end is audio already
  confirmed. No word is confirmed twice.
- **Endpointing** (voice activity, silero VAD as shipped by faster-whisper): when the buffer holds no speech
  it is not transcribed; when its speech ended at least `endpoint_seconds` before the buffer's end, the
  utterance is over and its whole hypothesis is confirmed at once, and the buffer is cut after it.
- **Cutting.** A buffer longer than `max_buffer_seconds` is cut at the end of the last confirmed word (or,
  with none, `max_buffer_seconds` before its end: those words are lost, and a warning says so).

With `background=True` the transcriptions run in a thread, so `push` never waits for the recogniser; the
words confirmed so far come out of the next `push`. Without it, `push` transcribes the audio up to every
multiple of `update_seconds` it crosses: the words and their `known` times do not depend on the chunking
(deterministic; used by tests and offline runs).
"""

import string
import threading
import warnings

import numpy as np

from .audio import SAMPLE_RATE

PUNCTUATION = str.maketrans("", "", string.punctuation)


def normalized(text: str) -> str:
    """A word's text for comparisons between transcriptions: lower case, no punctuation or spaces."""
    return "".join(text.translate(PUNCTUATION).lower().split())


def after_confirmed(words: list[dict], confirmed: list[str]) -> list[dict] | None:
    """The words of a transcription after those that say the `confirmed` texts (normalized), or `None` when its
    first words do not say them.

    The texts are compared joined, so a re-segmentation matches: `confirmed` `["newyork"]` is said by the words
    `"New", "York"` and `["new", "york"]` by `"New York"`. A word that says the end of the confirmed texts and more
    (`["no"]`, then `"nono"`) is cut: its remaining text comes out as a word, its start moved in proportion.
    """
    target, joined = "".join(confirmed), ""
    for index, word in enumerate(words):
        if joined == target:
            return words[index:]
        text = normalized(word["text"])
        if target.startswith(joined + text):
            joined += text
        elif (joined + text).startswith(target):
            said = len(target) - len(joined)
            start = word["start"] + (word["end"] - word["start"]) * said / len(text)
            return [dict(word, text=text[said:], start=start), *words[index + 1 :]]
        else:
            return None
    return [] if joined == target else None


def agreed_prefix(hypothesis: list[dict], previous: list[dict]) -> int:
    """Length of the longest prefix of `hypothesis` whose texts, joined, begin the joined texts of `previous`
    (normalized): a re-segmentation agrees ("New", "York" with "New York"; "no", "no" with "nono")."""
    said, joined, count = "".join(normalized(word["text"]) for word in previous), "", 0
    for word in hypothesis:
        joined += normalized(word["text"])
        if not said.startswith(joined):
            break
        count += 1
    return count


class LocalAgreementASR:
    """Confirmed words of a live recording (see the module docstring for the policy).

    Args:
        recognizer (`SpeechRecognizer`): `transcribe(audio (samples,)) -> [{"text", "start", "end"}]`, as
            `WhisperASR` or `FasterWhisperASR`.
        update_seconds (`float`, defaults to 1.0): new audio between two transcriptions.
        max_buffer_seconds (`float`, defaults to 15.0): longest buffer transcribed (Whisper reads 30 s at most).
        vad (`bool`, defaults to `True`): skip silence and end utterances with silero VAD (needs faster-whisper,
            the `faster` extra); `False` transcribes every update and cuts only long buffers.
        endpoint_seconds (`float`, defaults to 0.5): silence after speech that ends an utterance.
        background (`bool`, defaults to `False`): transcribe in a thread (live use).
    """

    def __init__(
        self,
        recognizer,
        update_seconds: float = 1.0,
        max_buffer_seconds: float = 15.0,
        vad: bool = True,
        endpoint_seconds: float = 0.5,
        background: bool = False,
    ):
        if not 0 < update_seconds < max_buffer_seconds:
            raise ValueError(
                f"need 0 < update_seconds < max_buffer_seconds, got {update_seconds} and {max_buffer_seconds}"
            )
        if endpoint_seconds <= 0:
            raise ValueError(f"endpoint_seconds must be positive, got {endpoint_seconds}")
        self.recognizer = recognizer
        self.update_samples = round(update_seconds * SAMPLE_RATE)
        self.max_buffer_samples = round(max_buffer_seconds * SAMPLE_RATE)
        self.endpoint_samples = round(endpoint_seconds * SAMPLE_RATE)
        self.speech_in = _silero_vad() if vad else None
        self.background = background
        self._lock = threading.Condition()
        self._worker = None
        self.reset()

    def reset(self) -> None:
        """Forget the recording (a new turn); a background transcription still running is waited for."""
        self._stop_worker()
        self.buffer = np.zeros(0, dtype=np.float32)
        self._pending: list[np.ndarray] = []  # chunks pushed since the last transcription, joined to the buffer then
        self.offset = 0  # samples of the recording before the buffer
        self.received = 0  # samples pushed so far
        self.transcribed = 0  # `received` at the last transcription
        self.committed_end = 0.0  # end (s) of the last confirmed word
        self.in_buffer: list[tuple[str, float]] = []  # (normalized text, middle in s) of the confirmed words heard in the buffer
        self.previous: list[dict] = []  # the last transcription's words after the confirmed ones
        self.confirmed: list[dict] = []  # confirmed, not yet returned
        self.error: BaseException | None = None
        self._final = self._cancelled = False
        if self.background:
            self._worker = threading.Thread(target=self._work, name="LocalAgreementASR", daemon=True)
            self._worker.start()

    # -- public ----------------------------------------------------------------------------------------

    def push(self, audio: np.ndarray) -> list[dict]:
        """Add the next 16 kHz mono samples; return the words confirmed since the last call.

        Returns:
            `list[dict]` of `{"text", "start", "end", "known"}`, seconds from the recording's first sample, in order;
            `known` is the recording's time when the word was confirmed (the end of the audio transcribed).
        """
        audio = np.asarray(audio, dtype=np.float32)
        if audio.ndim != 1:
            raise ValueError(f"audio chunks must be mono (samples,), got shape {audio.shape}")
        with self._lock:
            if self._final:
                raise ValueError("the recording is finished: call reset() to start a new one")
            self._pending.append(audio)
            self.received += len(audio)
            self._lock.notify_all()
        while not self.background and self.received - self.transcribed >= self.update_samples:
            self._update(final=False, upto=self.transcribed + self.update_samples)
        return self._take()

    def finish(self) -> list[dict]:
        """End of the recording: transcribe what is left, confirm every word, return those not returned yet."""
        with self._lock:
            self._final = True
            self._lock.notify_all()
        if self.background:
            self._stop_worker(cancel=False)
        else:
            self._update(final=True)
        return self._take()

    def close(self) -> None:
        """End the background thread now (its last transcription skipped) and refuse further audio; `reset()`
        starts a new recording (and a new thread)."""
        self._stop_worker()
        with self._lock:
            self._final = True

    # -- inside ----------------------------------------------------------------------------------------

    def _take(self) -> list[dict]:
        with self._lock:
            if self.error is not None:
                raise RuntimeError(f"the speech recogniser failed: {self.error}") from self.error
            words, self.confirmed = self.confirmed, []
        return words

    def _update(self, final: bool, upto: int | None = None) -> None:
        """Transcribe the buffer up to sample `upto` of the recording (all of it by default) and confirm the stable
        words (all of them when `final`); each confirmed word's `known` is `upto` in seconds."""
        with self._lock:
            if self._pending:
                self.buffer, self._pending = np.concatenate([self.buffer, *self._pending]), []
            upto = self.received if upto is None else upto
            buffer, offset, self.transcribed = self.buffer[: upto - self.offset], self.offset, upto
        seconds = offset / SAMPLE_RATE
        speech_end = None
        if self.speech_in is not None and len(buffer):
            spans = self.speech_in(buffer)
            if not spans:  # silence: nothing to transcribe; keep only a little of it as the onset's lead-in
                self._cut(max(0, len(buffer) - self.endpoint_samples))
                self.previous = []
                return
            speech_end = spans[-1]["end"]
        words = self.recognizer.transcribe(buffer) if len(buffer) else []
        known = upto / SAMPLE_RATE
        words = [dict(word, start=word["start"] + seconds, end=word["end"] + seconds, known=known) for word in words]
        hypothesis = self._after_confirmed(words)
        ended = speech_end is not None and len(buffer) - speech_end >= self.endpoint_samples
        count = len(hypothesis) if final or ended else agreed_prefix(hypothesis, self.previous)
        accepted, self.previous = hypothesis[:count], hypothesis[count:]
        if accepted:
            self.committed_end = max(self.committed_end, accepted[-1]["end"])
            self.in_buffer += [(normalized(word["text"]), (word["start"] + word["end"]) / 2) for word in accepted]
        with self._lock:
            self.confirmed.extend(accepted)
        if ended:  # every word confirmed: nothing is left in `previous`
            self._cut(speech_end)
        elif len(buffer) > self.max_buffer_samples:
            self._cut_long(len(buffer))

    def _after_confirmed(self, words: list[dict]) -> list[dict]:
        """The words of a transcription that follow the confirmed ones (see the module docstring)."""
        after = after_confirmed(words, [text for text, _ in self.in_buffer])
        if after is not None:
            return after
        return [word for word in words if (word["start"] + word["end"]) / 2 > self.committed_end]

    def _cut_long(self, length: int) -> None:
        """Cut a buffer over `max_buffer_samples` at the last confirmed word's end, or lose its oldest audio."""
        committed = round(self.committed_end * SAMPLE_RATE) - self.offset
        if 0 < committed:
            self._cut(min(committed, length))
            return
        warnings.warn(
            f"no word was confirmed in {self.max_buffer_samples / SAMPLE_RATE:.0f} s of speech: the oldest audio "
            "is dropped unrecognised", UserWarning, stacklevel=3,
        )  # fmt: skip
        self.previous = []
        self._cut(length - self.max_buffer_samples)

    def _cut(self, samples: int) -> None:
        """Drop the buffer's first `samples` samples."""
        with self._lock:
            self.buffer = self.buffer[samples:]
            self.offset += samples
        start = self.offset / SAMPLE_RATE  # a confirmed word whose middle is cut off is no longer heard
        self.in_buffer = [(text, middle) for text, middle in self.in_buffer if middle > start]

    def _work(self) -> None:
        """The background loop: transcribe whenever `update_samples` arrived, once more at the end."""
        while True:
            with self._lock:
                self._lock.wait_for(lambda: self._final or self.received - self.transcribed >= self.update_samples)
                final, cancelled = self._final, self._cancelled
            if cancelled:
                return
            try:
                self._update(final=final)
            except Exception as error:  # noqa: BLE001 (handed to the caller by the next push)
                with self._lock:
                    self.error = error
                return
            if final:
                return

    def _stop_worker(self, cancel: bool = True) -> None:
        """Wait for the background thread: `cancel` skips its last transcription (a reset), else it runs it."""
        if self._worker is not None and self._worker.is_alive():
            with self._lock:
                self._final, self._cancelled = True, cancel
                self._lock.notify_all()
            self._worker.join()
        self._worker = None


def _silero_vad():
    """`speech_in(audio) -> [{"start", "end"}]` (samples) by silero VAD as faster-whisper ships it."""
    try:
        from faster_whisper.vad import VadOptions, get_speech_timestamps
    except ImportError as error:
        raise ValueError(
            "voice activity detection (silero VAD) needs faster-whisper: pip install 'mmlistener[faster]' (or "
            "faster-whisper), or turn it off (vad=False; mmlistener-stream --vad false)"
        ) from error
    options = VadOptions(min_silence_duration_ms=250, speech_pad_ms=100)
    return lambda audio: get_speech_timestamps(audio, options, sampling_rate=SAMPLE_RATE)


__all__ = ["LocalAgreementASR", "after_confirmed", "agreed_prefix", "normalized"]
