"""mmlistener: multimodal, multi-identity listening head generation."""

from transformers import AutoConfig, AutoModel

from .modeling.configuration_emotion import EmotionRecognizerConfig
from .modeling.configuration_listener import ListenerConfig, TokenLayout
from .modeling.modeling_emotion import EmotionRecognizer
from .pipeline import ListenerPipeline
from .processing.processing_listener import ListenerProcessor

__version__ = "0.1.0"

AutoConfig.register(ListenerConfig.model_type, ListenerConfig)
AutoConfig.register(EmotionRecognizerConfig.model_type, EmotionRecognizerConfig)
AutoModel.register(EmotionRecognizerConfig, EmotionRecognizer)

__all__ = [
    "EmotionRecognizer",
    "EmotionRecognizerConfig",
    "ListenerPipeline",
    "ListenerProcessor",
    "ListenerConfig",
    "TokenLayout",
]
