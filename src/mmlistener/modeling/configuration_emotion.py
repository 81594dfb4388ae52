"""Configuration of the emotion recogniser (EMOCA's emotion-from-3DMM-codes MLP)."""

from transformers import PreTrainedConfig

AFFECTNET_LABELS = ("Neutral", "Happy", "Sad", "Surprise", "Fear", "Disgust", "Anger", "Contempt")
AFFECT_ACTIVATIONS = ("none", "tanh")


class EmotionRecognizerConfig(PreTrainedConfig):
    r"""Configuration of [`EmotionRecognizer`]: an MLP from FLAME codes to emotion.

    The input of one frame is `[shape (shape_dim), expression (expression_dim), jaw pose (jaw_dim)]`;
    `num_hidden_layers` blocks of `Linear(hidden_size) -> BatchNorm1d -> LeakyReLU(negative_slope)`
    follow, then one linear layer with `num_classes` expression logits, valence and arousal.

    Args:
        shape_dim (`int`, defaults to 100): FLAME identity shape coefficients (beta).
        expression_dim (`int`, defaults to 50): FLAME expression coefficients.
        jaw_dim (`int`, defaults to 3): jaw pose (axis-angle).
        hidden_size (`int`, defaults to 2048): width of each hidden layer.
        num_hidden_layers (`int`, defaults to 4): hidden `Linear -> BatchNorm1d -> LeakyReLU` blocks.
        num_classes (`int`, defaults to 8): expression classes (AffectNet order, see `id2label`).
        negative_slope (`float`, defaults to 0.2): LeakyReLU slope.
        batch_norm_eps (`float`, defaults to 1e-5): BatchNorm1d epsilon.
        valence_activation (`str`, defaults to `"none"`): `"none"` or `"tanh"`, applied to valence
            (EMOCA's `v_activation` in the checkpoint's training config).
        arousal_activation (`str`, defaults to `"none"`): same for arousal (`a_activation`).
        motion_expression_start (`int`, defaults to 0): where expression starts in a 56-dim motion frame.
        motion_jaw_start (`int`, defaults to 53): where the jaw pose starts in a 56-dim motion frame.

    Example:

    ```python
    >>> from mmlistener import EmotionRecognizer, EmotionRecognizerConfig
    >>> config = EmotionRecognizerConfig(hidden_size=32)
    >>> model = EmotionRecognizer(config)
    >>> config.input_size, config.id2label[1]
    (153, 'Happy')

    ```
    """

    model_type = "mmlistener_emotion"

    shape_dim: int = 100
    expression_dim: int = 50
    jaw_dim: int = 3
    hidden_size: int = 2048
    num_hidden_layers: int = 4
    num_classes: int = 8
    negative_slope: float = 0.2
    batch_norm_eps: float = 1e-5
    valence_activation: str = "none"
    arousal_activation: str = "none"
    motion_expression_start: int = 0
    motion_jaw_start: int = 53

    def __post_init__(self, **kwargs):
        if self.id2label is None:
            if self.num_classes == len(AFFECTNET_LABELS):
                self.id2label = dict(enumerate(AFFECTNET_LABELS))
            else:
                self.id2label = {i: f"CLASS_{i}" for i in range(self.num_classes)}
        super().__post_init__(**kwargs)
        for name in ("shape_dim", "expression_dim", "jaw_dim", "hidden_size", "num_classes"):
            if getattr(self, name) <= 0:
                raise ValueError(f"EmotionRecognizerConfig.{name} must be positive, got {getattr(self, name)}")
        if self.num_hidden_layers < 0:
            raise ValueError(f"EmotionRecognizerConfig.num_hidden_layers must be >= 0, got {self.num_hidden_layers}")
        if len(self.id2label) != self.num_classes:
            raise ValueError(f"id2label has {len(self.id2label)} entries but num_classes is {self.num_classes}")
        for name in ("valence_activation", "arousal_activation"):
            if getattr(self, name) not in AFFECT_ACTIVATIONS:
                raise ValueError(f"{name} must be one of {AFFECT_ACTIVATIONS}, got {getattr(self, name)!r}")

    @property
    def input_size(self) -> int:
        return self.shape_dim + self.expression_dim + self.jaw_dim

    @property
    def output_size(self) -> int:
        """Expression logits, then valence, then arousal."""
        return self.num_classes + 2


EmotionRecognizerConfig.register_for_auto_class()

__all__ = ["EmotionRecognizerConfig", "AFFECTNET_LABELS"]
