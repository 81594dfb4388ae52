"""Offline text-to-speech for the synthetic corpus: eSpeak NG, words one at a time, prosody set by emotion.

eSpeak NG comes from PyPI (`espeakng-loader` bundles the shared library and its voice data for Linux, macOS and
Windows), so `pip install` is the whole set-up on any machine, no root or system package is needed, and the
pinned release speaks the same samples everywhere (a system espeak-ng differs from one distribution to the next,
and so would the corpus). It is called in-process through its C API (`ctypes`).

Each word is synthesised on its own and trimmed to its voiced extent, so the corpus knows where every word starts
and ends to the sample (the words' times are the synthesis's, not an estimate), and the pauses between words and
utterances are real silence. The speaker's emotion sets the prosody (`EMOTION_PROSODY`: speaking rate, pitch,
pitch range and loudness), on top of the voice's own (`Voice`).
"""

import ctypes
import functools
import threading
from dataclasses import dataclass

import numpy as np

SAMPLE_RATE = 16_000  # the front ends' rate (mmlistener.processing.audio.SAMPLE_RATE)
_SYNCHRONOUS = 2  # espeak_AUDIO_OUTPUT: AUDIO_OUTPUT_SYNCHRONOUS
_CHARS_UTF8 = 1
_RATE, _PITCH, _RANGE = 1, 3, 4  # espeak_PARAMETER
# Voice variants with breath ("+f2", ...) draw noise from eSpeak NG's random generator, which starts from an unseeded
# state: seeded before every word, the same words said in the same order give the same samples in every process (the
# corpus is the same from run to run). The engine's filters still carry over from one word to the next (a word's
# samples move by about 1e-6 with what was said before it), which the corpus's fixed order of first use makes fixed.
_RAND_SEED = 0
_TRIM_LEVEL = 0.01  # a word's audio starts and ends where |sample| first / last reaches this (-40 dBFS)
_HEADROOM_DB = -8.0  # keeps the loudest word of any voice and emotion below full scale


@dataclass(frozen=True)
class Voice:
    """One synthetic speaker's voice.

    Args:
        name (`str`): eSpeak NG voice with a variant, e.g. `"en+m3"` (`espeak-ng --voices=variant` lists them).
        rate (`int`): speaking rate in words per minute at Neutral.
        pitch (`int`): base pitch, 0-99 (eSpeak's scale; about 50 is a typical male voice, 70 a female one).
        gain_db (`float`): loudness of the voice at Neutral, dB relative to eSpeak's output.
    """

    name: str
    rate: int = 170
    pitch: int = 50
    gain_db: float = 0.0


@dataclass(frozen=True)
class Prosody:
    """How an emotion changes a voice: rate factor, pitch and range offsets (eSpeak's 0-99 scale), loudness."""

    rate: float = 1.0
    pitch: int = 0
    pitch_range: int = 50
    gain_db: float = 0.0


# The corpus's speakers (train, validation and test alike) and one voice none of them has, at its own rate, for
# transfer to a voice the model never heard (`bench/heldout_voice.py`).
CORPUS_VOICES = (
    Voice("en+m1", rate=165, pitch=45),
    Voice("en+f2", rate=175, pitch=68, gain_db=-1.0),
    Voice("en-us+m3", rate=160, pitch=40, gain_db=1.0),
    Voice("en+f4", rate=180, pitch=72),
    Voice("en-us+m5", rate=170, pitch=52, gain_db=-2.0),
    Voice("en+f1", rate=168, pitch=62, gain_db=0.5),
)
HELDOUT_VOICE = Voice("en-us+f3", rate=190, pitch=66, gain_db=-1.5)

# AffectNet order: 0 Neutral, 1 Happy, 2 Sad, 3 Surprise, 6 Anger (the classes the corpus's speakers visit).
# Anger and Surprise loud, Sad quiet, slow and flat, Happy and Surprise high.
EMOTION_PROSODY = {
    0: Prosody(),
    1: Prosody(rate=1.08, pitch=12, pitch_range=70, gain_db=2.0),
    2: Prosody(rate=0.78, pitch=-10, pitch_range=20, gain_db=-9.0),
    3: Prosody(rate=1.04, pitch=22, pitch_range=90, gain_db=5.0),
    6: Prosody(rate=1.14, pitch=4, pitch_range=60, gain_db=8.0),
}


def _library_and_data():
    try:
        import espeakng_loader
    except ImportError:
        raise ImportError(
            "the spoken synthetic corpus needs eSpeak NG: `pip install espeakng-loader` (a core requirement of "
            "mmlistener; see README, Install)"
        ) from None
    return espeakng_loader.get_library_path(), espeakng_loader.get_data_path()


class _Event(ctypes.Structure):  # espeak_EVENT (speak_lib.h); only its layout matters here
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", ctypes.c_char * 8),
    ]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


class _Espeak:
    """The process's one eSpeak NG engine (its C state is global): synthesis under a lock."""

    def __init__(self):
        library_path, data_path = _library_and_data()
        self.library = ctypes.CDLL(library_path)
        self.sample_rate = self.library.espeak_Initialize(_SYNCHRONOUS, 0, data_path.encode(), 0)
        if self.sample_rate <= 0:
            raise RuntimeError(f"eSpeak NG failed to start (data at {data_path})")
        self._chunks: list[np.ndarray] = []
        self._callback = _CALLBACK(self._collect)  # kept referenced: the library calls it
        self.library.espeak_SetSynthCallback(self._callback)
        self.lock = threading.Lock()

    def _collect(self, wav, count, events) -> int:
        if count > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
        return 0

    def speak(self, text: str, voice: str, rate: int, pitch: int, pitch_range: int) -> np.ndarray:
        """Samples `(n,)` int16 at `self.sample_rate` of `text` in `voice`."""
        with self.lock:
            if self.library.espeak_SetVoiceByName(voice.encode()) != 0:
                raise ValueError(f"eSpeak NG has no voice {voice!r}")
            for parameter, value in ((_RATE, rate), (_PITCH, pitch), (_RANGE, pitch_range)):
                self.library.espeak_SetParameter(parameter, int(value), 0)
            self._chunks = []
            self.library.espeak_ng_SetRandSeed(_RAND_SEED)
            encoded = text.encode()
            self.library.espeak_Synth(encoded, len(encoded) + 1, 0, 0, 0, _CHARS_UTF8, None, None)
            return np.concatenate(self._chunks) if self._chunks else np.zeros(0, dtype=np.int16)


@functools.lru_cache(maxsize=1)
def _engine() -> _Espeak:
    return _Espeak()


@functools.lru_cache(maxsize=8192)
def _word_audio(text: str, voice: Voice, prosody: Prosody) -> np.ndarray:
    import soxr

    engine = _engine()
    rate = max(80, min(450, round(voice.rate * prosody.rate)))
    pitch = max(0, min(99, voice.pitch + prosody.pitch))
    samples = engine.speak(text, voice.name, rate, pitch, prosody.pitch_range).astype(np.float32) / 32768.0
    audio = soxr.resample(samples, engine.sample_rate, SAMPLE_RATE, quality="HQ").astype(np.float32)
    loud = np.flatnonzero(np.abs(audio) >= _TRIM_LEVEL)
    if loud.size == 0:
        raise ValueError(f"eSpeak NG produced no sound for {text!r} in voice {voice.name!r}")
    audio = audio[loud[0] : loud[-1] + 1] * np.float32(10 ** ((_HEADROOM_DB + voice.gain_db + prosody.gain_db) / 20))
    audio.setflags(write=False)  # cached: shared by every caller
    return audio


def synthesize_word(text: str, voice: Voice, emotion: int = 0) -> np.ndarray:
    """One word spoken by `voice` with the prosody of `emotion` (AffectNet id; see `EMOTION_PROSODY`).

    Returns:
        `np.ndarray` of shape `(samples,)`, float32 at 16 kHz, from the word's first to its last audible sample
        (read-only: the same array is returned for the same arguments).
    """
    if emotion not in EMOTION_PROSODY:
        raise ValueError(f"no prosody for emotion {emotion}: one of {sorted(EMOTION_PROSODY)}")
    return _word_audio(text, voice, EMOTION_PROSODY[emotion])


__all__ = ["CORPUS_VOICES", "EMOTION_PROSODY", "HELDOUT_VOICE", "Prosody", "SAMPLE_RATE", "Voice", "synthesize_word"]
