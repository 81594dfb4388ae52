"""Turning speaker clips (words, audio, motion) into model inputs."""

from .asr import FasterWhisperASR, KnownWords, WhisperASR, load_asr
from .audio import SAMPLE_RATE, load_audio, prepare_audio
from .emotion import group_emotion_ids
from .processing_listener import DEFAULT_MODALITIES, MODALITIES, ListenerProcessor
from .prosody_tokenizer import ProsodyTokenizer, StreamingProsodyCodes
from .speech_tokenizer import SpeechTokenizerCodes, import_speechtokenizer_model
from .streaming_codes import SlidingWindowCodes, sliding_window_encode
from .tokenizer import gpt2_tokenizer_from_tiktoken, tiktoken_gpt2_encoding

__all__ = [
    "DEFAULT_MODALITIES",
    "MODALITIES",
    "SAMPLE_RATE",
    "FasterWhisperASR",
    "KnownWords",
    "ListenerProcessor",
    "ProsodyTokenizer",
    "SlidingWindowCodes",
    "SpeechTokenizerCodes",
    "StreamingProsodyCodes",
    "WhisperASR",
    "gpt2_tokenizer_from_tiktoken",
    "group_emotion_ids",
    "import_speechtokenizer_model",
    "load_asr",
    "load_audio",
    "prepare_audio",
    "sliding_window_encode",
    "tiktoken_gpt2_encoding",
]
