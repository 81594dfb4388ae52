"""EmotionRecognizer: emotion class, valence and arousal from FLAME codes (EMOCA's EmoDECA MLP head)."""

from dataclasses import dataclass

import torch
from torch import nn
from transformers import PreTrainedModel
from transformers.utils import ModelOutput

from .configuration_emotion import EmotionRecognizerConfig


@dataclass
class EmotionRecognizerOutput(ModelOutput):
    """Output of [`EmotionRecognizer`].

    Args:
        logits (`torch.FloatTensor` of shape `(..., num_classes)`): expression class logits
            (softmax gives the class probabilities; EMOCA reports their log-softmax).
        valence (`torch.FloatTensor` of shape `(...)`): valence, roughly in [-1, 1].
        arousal (`torch.FloatTensor` of shape `(...)`): arousal, roughly in [-1, 1].
    """

    logits: torch.FloatTensor | None = None
    valence: torch.FloatTensor | None = None
    arousal: torch.FloatTensor | None = None

    @property
    def probabilities(self) -> torch.FloatTensor:
        """Class probabilities `(..., num_classes)`."""
        return self.logits.softmax(dim=-1)


class EmotionMLPBlock(nn.Module):
    """`Linear -> BatchNorm1d -> LeakyReLU`, one hidden layer of the recogniser."""

    def __init__(self, config: EmotionRecognizerConfig, in_features: int):
        super().__init__()
        self.linear = nn.Linear(in_features, config.hidden_size)
        self.norm = nn.BatchNorm1d(config.hidden_size, eps=config.batch_norm_eps)
        self.activation = nn.LeakyReLU(config.negative_slope)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.activation(self.norm(self.linear(hidden)))


_ACTIVATIONS = {"none": nn.Identity, "tanh": nn.Tanh}


class EmotionRecognizerPreTrainedModel(PreTrainedModel):
    config_class = EmotionRecognizerConfig
    base_model_prefix = "emotion"
    main_input_name = "expression"
    _no_split_modules = ["EmotionMLPBlock"]


class EmotionRecognizer(EmotionRecognizerPreTrainedModel):
    r"""EMOCA's emotion-from-codes MLP: `[shape, expression, jaw] -> hidden x L -> [logits, valence, arousal]`.

    Load EMOCA's released weights with `mmlistener.modeling.convert_emoca_emotion`, or train your own.

    Example:

    ```python
    >>> import torch
    >>> from mmlistener import EmotionRecognizer, EmotionRecognizerConfig
    >>> model = EmotionRecognizer(EmotionRecognizerConfig(hidden_size=32)).eval()
    >>> out = model(shape=torch.zeros(4, 100), expression=torch.zeros(4, 50), jaw_pose=torch.zeros(4, 3))
    >>> tuple(out.logits.shape), tuple(out.valence.shape)
    ((4, 8), (4,))

    ```
    """

    def __init__(self, config: EmotionRecognizerConfig):
        super().__init__(config)
        widths = [config.input_size] + [config.hidden_size] * config.num_hidden_layers
        self.layers = nn.ModuleList(EmotionMLPBlock(config, width) for width in widths[:-1])
        self.head = nn.Linear(widths[-1], config.output_size)
        self.valence_activation = _ACTIVATIONS[config.valence_activation]()
        self.arousal_activation = _ACTIVATIONS[config.arousal_activation]()
        self.post_init()

    def _check(self, name: str, tensor: torch.Tensor, size: int) -> None:
        if tensor.shape[-1] != size:
            raise ValueError(f"{name} must end in {size} dims, got shape {tuple(tensor.shape)}")

    def forward(
        self,
        shape: torch.FloatTensor,
        expression: torch.FloatTensor,
        jaw_pose: torch.FloatTensor,
        return_dict: bool | None = None,
    ) -> EmotionRecognizerOutput | tuple:
        r"""
        Args:
            shape (`torch.FloatTensor` of shape `(N, shape_dim)`): FLAME shape (identity) coefficients.
            expression (`torch.FloatTensor` of shape `(N, expression_dim)`): FLAME expression coefficients.
            jaw_pose (`torch.FloatTensor` of shape `(N, jaw_dim)`): jaw rotation (axis-angle).

        Returns:
            [`EmotionRecognizerOutput`] with `logits (N, num_classes)`, `valence (N,)`, `arousal (N,)`.
        """
        config = self.config
        self._check("shape", shape, config.shape_dim)
        self._check("expression", expression, config.expression_dim)
        self._check("jaw_pose", jaw_pose, config.jaw_dim)
        if not shape.shape[0] == expression.shape[0] == jaw_pose.shape[0]:
            raise ValueError(
                f"shape, expression and jaw_pose must share the batch size, got {shape.shape[0]}, "
                f"{expression.shape[0]} and {jaw_pose.shape[0]}"
            )
        hidden = torch.cat([shape, expression, jaw_pose], dim=-1).to(self.head.weight.dtype)
        for layer in self.layers:
            hidden = layer(hidden)
        output = self.head(hidden)
        logits = output[:, : config.num_classes]
        valence = self.valence_activation(output[:, config.num_classes])
        arousal = self.arousal_activation(output[:, config.num_classes + 1])
        return_dict = return_dict if return_dict is not None else config.return_dict
        if not return_dict:
            return logits, valence, arousal
        return EmotionRecognizerOutput(logits=logits, valence=valence, arousal=arousal)

    @torch.no_grad()
    def predict_from_motion(self, motion: torch.Tensor, shape: torch.Tensor) -> EmotionRecognizerOutput:
        r"""Per-frame emotion of motion sequences (inference; call `.eval()` first when training).

        Args:
            motion (`torch.FloatTensor` of shape `(frames, 56)` or `(batch, frames, 56)`): raw 3DMM motion,
                expression at `config.motion_expression_start`, jaw at `config.motion_jaw_start`.
            shape (`torch.FloatTensor` of shape `(shape_dim,)` or `(batch, shape_dim)`): the face's beta.

        Returns:
            [`EmotionRecognizerOutput`] with `logits (..., frames, num_classes)`, `valence (..., frames)`,
            `arousal (..., frames)`, leading dims as in `motion`.
        """
        config = self.config
        motion = torch.as_tensor(motion, dtype=torch.float32, device=self.device)
        shape = torch.as_tensor(shape, dtype=torch.float32, device=self.device)
        unbatched = motion.ndim == 2
        if unbatched:
            motion, shape = motion[None], shape.reshape(1, -1)
        if motion.ndim != 3 or shape.ndim != 2 or shape.shape[0] != motion.shape[0]:
            raise ValueError(
                f"expected motion (frames, dims) with shape (shape_dim,), or (batch, frames, dims) with "
                f"(batch, shape_dim); got motion {tuple(motion.shape)} and shape {tuple(shape.shape)}"
            )
        needed = max(config.motion_expression_start + config.expression_dim, config.motion_jaw_start + config.jaw_dim)
        if motion.shape[-1] < needed:
            raise ValueError(f"motion frames need at least {needed} dims, got shape {tuple(motion.shape)}")
        if not (torch.isfinite(motion).all() and torch.isfinite(shape).all()):
            raise ValueError("motion or shape contains NaN or infinite values")
        batch, frames = motion.shape[:2]
        if frames == 0:
            raise ValueError("motion has no frames")
        start = config.motion_expression_start
        expression = motion[..., start : start + config.expression_dim].reshape(batch * frames, -1)
        jaw = motion[..., config.motion_jaw_start : config.motion_jaw_start + config.jaw_dim].reshape(batch * frames, -1)
        shape = shape[:, None].expand(batch, frames, -1).reshape(batch * frames, -1)
        out = self(shape=shape, expression=expression, jaw_pose=jaw)
        leading = (frames,) if unbatched else (batch, frames)
        return EmotionRecognizerOutput(
            logits=out.logits.reshape(*leading, -1),
            valence=out.valence.reshape(leading),
            arousal=out.arousal.reshape(leading),
        )


EmotionRecognizer.register_for_auto_class("AutoModel")

__all__ = ["EmotionRecognizer", "EmotionRecognizerOutput", "EmotionRecognizerPreTrainedModel"]
