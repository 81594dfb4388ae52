"""The speaker's audio, chunk by chunk, to the features a [`ListenerStream`] reads.

Chunks of any size and any fixed sample rate are down-mixed and resampled to 16 kHz as they come (soxr's
streaming resampler), then handed to the incremental front ends the processor's modalities need:

- words: [`LocalAgreementASR`] over the processor's recogniser (words come out once stable, late);
- acoustic / content codes: the processor's codec's streamer (`processor.code_streamer()`): a
  [`SlidingWindowCodes`] over SpeechTokenizer (codes come out once they have their right context), or a
  [`StreamingProsodyCodes`] (the weight-free tokenizer's exact codes, 35 ms after each code's end);
- emotion: Neutral for each group the audio has covered, unless the stream derives emotion from the speaker's
  frames (`push_speaker_frames`); for a processor with `emotion_without_face="omit"` these ids only close the
  groups, which the stream writes without an emotion block.
"""

import numpy as np

from ..modeling.constants import NEUTRAL
from ..processing.audio import SAMPLE_RATE, to_mono
from ..processing.processing_listener import CODE_STREAMS


class AudioInputs:
    """Resampling and the incremental speech front ends of one stream.

    Args:
        processor ([`ListenerProcessor`]): its `modalities`, `fps` and `group_size`; its `asr` and
            `acoustic_codec` are wrapped when `asr` / `codes` are not given.
        asr ([`LocalAgreementASR`], *optional*): incremental words; by default local agreement over the processor's
            recogniser, transcribing in a background thread.
        codes ([`SlidingWindowCodes`] or [`StreamingProsodyCodes`], *optional*): incremental codes (for acoustic /
            content codes); by default the streamer of the processor's `acoustic_codec`.
        neutral_emotion (`bool`): give Neutral emotion ids as audio covers groups (emotion is a modality and no
            speaker frames will give it).
    """

    def __init__(self, processor, asr=None, codes=None, neutral_emotion: bool = True):
        self.fps, self.group_size = processor.fps, processor.group_size
        self.asr = asr
        if self.asr is None and "words" in processor.modalities:
            from ..processing.incremental_asr import LocalAgreementASR

            self.asr = LocalAgreementASR(processor.asr, background=True)
        self.codes = codes
        if self.codes is None and any(name in processor.modalities for name in CODE_STREAMS):
            self.codes = processor.code_streamer()
        self.neutral_emotion = neutral_emotion and "emotion" in processor.modalities
        self.reset()

    def reset(self) -> None:
        self.sampling_rate = None
        self._resampler = None
        self.seconds = 0.0  # audio received, in seconds
        self.samples = 0  # 16 kHz samples received
        self.emotion_groups = 0  # Neutral ids given
        for front_end in (self.asr, self.codes):
            if front_end is not None:
                front_end.reset()

    def push(self, chunk, sampling_rate: int) -> dict:
        """Features that became known with the next chunk of audio.

        Args:
            chunk (`np.ndarray` of shape `(samples,)`, `(samples, channels)` or `(channels, samples)`): the next
                audio, float (down-mixed by `processing.audio.to_mono`).
            sampling_rate (`int`): its rate; the same for every chunk of a turn.

        Returns:
            `dict` of `ListenerStream.push_features` arguments (`words`, `acoustic_codes`, `content_codes`,
            `emotion_ids`), each present when its front end runs.
        """
        mono = self.checked(chunk, sampling_rate)
        self.seconds += len(mono) / sampling_rate
        return self._features(self._resampled(mono, sampling_rate), final=False)

    def close(self) -> None:
        """End the ASR's background thread (see `LocalAgreementASR.close`); `reset()` starts a new turn."""
        if self.asr is not None:
            self.asr.close()

    def finish(self) -> dict:
        """The features that the end of the audio releases (the front ends' tails, the last partial group)."""
        tail = self._resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True) if self._resampler else None
        return self._features(np.zeros(0, dtype=np.float32) if tail is None else tail, final=True)

    def checked(self, chunk, sampling_rate: int) -> np.ndarray:
        """The chunk down-mixed to mono `(samples,)` at its own rate, or a ValueError (bad rate, NaN); changes nothing."""
        if sampling_rate is None or int(sampling_rate) != sampling_rate or sampling_rate <= 0:
            raise ValueError(f"sampling_rate must be a positive integer, got {sampling_rate!r}")
        if self.sampling_rate not in (None, sampling_rate):
            raise ValueError(
                f"this turn's audio is at {self.sampling_rate} Hz, the chunk says {sampling_rate} Hz: one rate per turn"
            )
        mono = to_mono(chunk)
        if not np.isfinite(mono).all():
            raise ValueError("the audio chunk contains NaN or infinite samples")
        return mono

    def _resampled(self, mono: np.ndarray, sampling_rate: int) -> np.ndarray:
        """A checked mono chunk at 16 kHz (the resampler is made by the turn's first chunk)."""
        if self.sampling_rate is None:
            self.sampling_rate = int(sampling_rate)
            if self.sampling_rate != SAMPLE_RATE:
                import soxr

                self._resampler = soxr.ResampleStream(self.sampling_rate, SAMPLE_RATE, 1, dtype="float32")
        return mono if self._resampler is None else self._resampler.resample_chunk(mono)

    def _features(self, audio: np.ndarray, final: bool) -> dict:
        self.samples += len(audio)
        features = {}
        if self.asr is not None:
            words = self.asr.push(audio)
            features["words"] = words + self.asr.finish() if final else words
        if self.codes is not None:
            codes = self.codes.push(audio)
            if final:
                tail = self.codes.finish()
                codes = {name: codes[name] + tail[name] for name in CODE_STREAMS}
            features.update(acoustic_codes=codes["acoustic"], content_codes=codes["content"])
        if self.neutral_emotion:
            frames = self.samples * self.fps // SAMPLE_RATE
            groups = -(-frames // self.group_size) if final else frames // self.group_size
            features["emotion_ids"] = [NEUTRAL] * (groups - self.emotion_groups)
            self.emotion_groups = groups
        return features


__all__ = ["AudioInputs"]
