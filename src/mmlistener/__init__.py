"""mmlistener: multimodal, multi-identity listening head generation."""

from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, AutoProcessor

from .modeling.configuration_emotion import EmotionRecognizerConfig
from .modeling.configuration_identity_vqvae import IdentityVQVAEConfig
from .modeling.configuration_listener import ListenerConfig
from .modeling.modeling_emotion import EmotionRecognizer
from .modeling.modeling_identity_vqvae import IdentityVQVAE
from .modeling.modeling_listener import ListenerForCausalLM, ListenerGenerationConfig
from .modeling.token_layout import TokenLayout
from .pipeline import ListenerPipeline
from .processing.processing_listener import ListenerProcessor

__version__ = "0.1.0"

AutoConfig.register(ListenerConfig.model_type, ListenerConfig)
AutoModelForCausalLM.register(ListenerConfig, ListenerForCausalLM)
AutoConfig.register(EmotionRecognizerConfig.model_type, EmotionRecognizerConfig)
AutoModel.register(EmotionRecognizerConfig, EmotionRecognizer)
AutoProcessor.register(ListenerConfig, ListenerProcessor)
AutoConfig.register(IdentityVQVAEConfig.model_type, IdentityVQVAEConfig)
AutoModel.register(IdentityVQVAEConfig, IdentityVQVAE)

__all__ = [
    "EmotionRecognizer",
    "EmotionRecognizerConfig",
    "IdentityVQVAE",
    "IdentityVQVAEConfig",
    "ListenerPipeline",
    "ListenerProcessor",
    "ListenerConfig",
    "ListenerForCausalLM",
    "ListenerGenerationConfig",
    "TokenLayout",
]
