"""Speech recognition with word timestamps, behind one small interface.

Two backends return the same thing, a list of `{"text", "start", "end"}` dicts (seconds from the
start of the audio):

- `WhisperASR`: openai-whisper, `transcribe(..., word_timestamps=True)`; weights from a local
  checkpoint path or a model name (`"base.en"`, `"medium"`, ... downloaded by openai-whisper).
- `FasterWhisperASR`: faster-whisper (CTranslate2), several times faster on CPU; a CTranslate2 model
  directory or a model name.
"""

from typing import Protocol

import numpy as np

from .audio import SAMPLE_RATE

BACKENDS = ("openai-whisper", "faster-whisper")


class SpeechRecognizer(Protocol):
    def transcribe(self, audio: np.ndarray) -> list[dict]:
        """Words of 16 kHz mono `audio (samples,)` as `{"text", "start", "end"}` dicts, in order."""


class KnownWords:
    """A recogniser stand-in that returns a transcript already known (a script, a synthesis's word times, a
    corrected transcript): `mmlistener.listen` and the app then run on those words instead of an ASR's.

    Args:
        words (`list[dict]`): `{"text", "start", "end"}`, seconds from the start of the audio it will be given.
    """

    def __init__(self, words: list[dict]):
        self.words = [{"text": w["text"], "start": float(w["start"]), "end": float(w["end"])} for w in words]

    def transcribe(self, audio: np.ndarray) -> list[dict]:
        """The known words that end within `audio (samples,)` (16 kHz)."""
        duration = len(audio) / SAMPLE_RATE
        return [dict(word) for word in self.words if word["end"] <= duration]


def _clean_words(raw_words) -> list[dict]:
    words = []
    for text, start, end in raw_words:
        text = text.strip()
        if text:
            words.append({"text": text, "start": float(start), "end": float(max(end, start))})
    return words


class WhisperASR:
    """openai-whisper with word timestamps.

    Args:
        model (`whisper.model.Whisper`): a loaded model (see `from_checkpoint`).
        language (`str`, *optional*, defaults to `"en"`): spoken language; `None` detects it.
        **transcribe_kwargs: passed to `model.transcribe` (e.g. `beam_size`, `temperature`).
    """

    def __init__(self, model, language: str | None = "en", **transcribe_kwargs):
        self.model = model
        self.language = language
        self.transcribe_kwargs = transcribe_kwargs

    @classmethod
    def from_checkpoint(cls, name_or_path: str, device: str = "cpu", **kwargs) -> "WhisperASR":
        """Load with `whisper.load_model`: a name openai-whisper downloads (`"medium.en"`), or a local `.pt`.

        A local file named like an official model (`medium.en.pt`, as openai-whisper caches them) gets that
        model's alignment heads, which word timestamps rely on.
        """
        import os

        try:
            import whisper
        except ImportError as error:
            raise ValueError(
                "the openai-whisper backend needs `pip install --no-deps openai-whisper` (see the README, Install)"
            ) from error
        if name_or_path not in whisper.available_models() and not os.path.isfile(name_or_path):
            raise ValueError(
                f"no Whisper checkpoint at {name_or_path!r} and not a model name ({', '.join(whisper.available_models())})"
            )
        model = whisper.load_model(name_or_path, device=device)
        stem = os.path.basename(name_or_path).removesuffix(".pt")
        if os.path.isfile(name_or_path) and stem in whisper._ALIGNMENT_HEADS:
            model.set_alignment_heads(whisper._ALIGNMENT_HEADS[stem])
        return cls(model, **kwargs)

    def transcribe(self, audio: np.ndarray) -> list[dict]:
        options = {"fp16": False, "condition_on_previous_text": False, "verbose": None}
        options.update(self.transcribe_kwargs)
        result = self.model.transcribe(
            np.asarray(audio, dtype=np.float32), language=self.language, word_timestamps=True, **options
        )
        return _clean_words(
            (word["word"], word["start"], word["end"])
            for segment in result["segments"]
            for word in segment.get("words", [])
        )


class FasterWhisperASR:
    """faster-whisper (CTranslate2) with word timestamps.

    Args:
        model (`faster_whisper.WhisperModel`): a loaded model (see `from_checkpoint`).
        language (`str`, *optional*, defaults to `"en"`): spoken language; `None` detects it.
        **transcribe_kwargs: passed to `model.transcribe` (e.g. `beam_size`, `vad_filter`).
    """

    def __init__(self, model, language: str | None = "en", **transcribe_kwargs):
        self.model = model
        self.language = language
        self.transcribe_kwargs = transcribe_kwargs

    @classmethod
    def from_checkpoint(
        cls, name_or_path: str, device: str = "cpu", compute_type: str = "int8", **kwargs
    ) -> "FasterWhisperASR":
        try:
            from faster_whisper import WhisperModel
        except ImportError as error:
            raise ValueError("the faster-whisper backend needs `pip install faster-whisper`") from error
        return cls(WhisperModel(name_or_path, device=device, compute_type=compute_type), **kwargs)

    def transcribe(self, audio: np.ndarray) -> list[dict]:
        options = {"condition_on_previous_text": False}
        options.update(self.transcribe_kwargs)
        segments, _ = self.model.transcribe(
            np.asarray(audio, dtype=np.float32), language=self.language, word_timestamps=True, **options
        )
        return _clean_words((word.word, word.start, word.end) for segment in segments for word in segment.words or [])


def load_asr(backend: str, checkpoint: str, language: str | None = "en", **kwargs) -> SpeechRecognizer:
    """Build the ASR front end `backend` (one of `BACKENDS`) from a checkpoint path or model name."""
    if backend == "openai-whisper":
        return WhisperASR.from_checkpoint(checkpoint, language=language, **kwargs)
    if backend == "faster-whisper":
        return FasterWhisperASR.from_checkpoint(checkpoint, language=language, **kwargs)
    raise ValueError(f"unknown ASR backend {backend!r}; expected one of {BACKENDS}")


__all__ = ["BACKENDS", "FasterWhisperASR", "KnownWords", "SpeechRecognizer", "WhisperASR", "load_asr", "SAMPLE_RATE"]
