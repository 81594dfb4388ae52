"""mmlistener: multimodal, multi-identity listening head generation."""

from transformers import AutoConfig

from .modeling.configuration_listener import ListenerConfig, TokenLayout

__version__ = "0.1.0"

AutoConfig.register(ListenerConfig.model_type, ListenerConfig)

__all__ = [
    "ListenerConfig",
    "TokenLayout",
]
