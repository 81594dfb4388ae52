"""Models. Files here import nothing else from mmlistener: they travel with saved weights as remote code."""

from .quantization import QUANTIZATION_METHODS, quantize_backbone

__all__ = ["QUANTIZATION_METHODS", "quantize_backbone"]
