"""Configuration of the listener language model: its backbone, its token counts and its timing.

The token layout they define is [`TokenLayout`] (`token_layout.py`), derived by `ListenerConfig.layout`.
"""

from transformers import AutoConfig, PreTrainedConfig
from transformers.configuration_utils import SubConfigSpec

from .constants import FPS, GROUP_SIZE
from .token_layout import TokenLayout


class ListenerConfig(PreTrainedConfig):
    r"""Configuration of [`ListenerForCausalLM`]: a causal LM backbone plus the listener token layout.

    Args:
        backbone_config (`dict` or `PreTrainedConfig`, *optional*):
            Config of any causal LM in transformers (GPT-2, LLaMA, ...). Defaults to GPT-2 Medium's
            architecture (24 layers, 1024 hidden, 16 heads). Its `vocab_size` is the text vocabulary.
        num_listener_tokens (`int`, defaults to 256): listener motion codes (the VQ-VAE codebook size).
        num_acoustic_tokens (`int`, defaults to 1024): acoustic codes (SpeechTokenizer codebook).
        num_content_tokens (`int`, defaults to 1024): speech-content codes (SpeechTokenizer 1st quantizer).
        num_emotion_tokens (`int`, defaults to 8): speaker emotion classes.
        group_size (`int`, defaults to 8): motion frames per listener token (r).
        fps (`int`, defaults to 30): motion frame rate.
        initializer_range (`float`, defaults to 0.02): std of the new embedding rows and of the listener head.
        future_codes (`int`, defaults to 0): stage 2 also predicts, at each listener position, the listener codes
            1 to `future_codes` groups after the next one, each with a head of its own (multi-token prediction; a
            training signal only: generation reads the next-code head). 0 is the paper's loss.
        future_code_loss_weight (`float`, defaults to 0.5): weight of the mean cross-entropy of those heads in
            `loss`.

    Example:

    ```python
    >>> from transformers import GPT2Config
    >>> from mmlistener import ListenerConfig
    >>> config = ListenerConfig(backbone_config=GPT2Config(n_layer=2, n_embd=16, n_head=2))
    >>> config.layout.num_new_tokens
    2321

    ```
    """

    model_type = "mmlistener"
    sub_configs_defaults = {
        "backbone_config": SubConfigSpec(
            config_class=AutoConfig,
            model_type="gpt2",
            init_kwargs={"n_embd": 1024, "n_layer": 24, "n_head": 16},
        )
    }

    backbone_config: dict | PreTrainedConfig | None = None
    num_listener_tokens: int = TokenLayout.num_listener_tokens
    num_acoustic_tokens: int = TokenLayout.num_acoustic_tokens
    num_content_tokens: int = TokenLayout.num_content_tokens
    num_emotion_tokens: int = TokenLayout.num_emotion_tokens
    group_size: int = GROUP_SIZE
    fps: int = FPS
    initializer_range: float = 0.02
    future_codes: int = 0
    future_code_loss_weight: float = 0.5
    tie_word_embeddings: bool = False

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        for name in ("num_listener_tokens", "num_acoustic_tokens", "num_emotion_tokens", "group_size", "fps"):
            if getattr(self, name) <= 0:
                raise ValueError(f"ListenerConfig.{name} must be positive, got {getattr(self, name)}")
        if self.future_codes < 0 or self.future_code_loss_weight < 0:
            raise ValueError(
                f"ListenerConfig.future_codes and future_code_loss_weight must be >= 0, got {self.future_codes} and "
                f"{self.future_code_loss_weight}"
            )
        if self.num_content_tokens < 0:
            raise ValueError(f"ListenerConfig.num_content_tokens must be >= 0, got {self.num_content_tokens}")

    @property
    def layout(self) -> TokenLayout:
        """The token layout derived from the backbone's vocabulary and the token counts."""
        return TokenLayout(
            text_vocab_size=self.backbone_config.vocab_size,
            num_listener_tokens=self.num_listener_tokens,
            num_acoustic_tokens=self.num_acoustic_tokens,
            num_content_tokens=self.num_content_tokens,
            num_emotion_tokens=self.num_emotion_tokens,
        )

    @property
    def max_position_embeddings(self) -> int:
        """Longest sequence the backbone accepts (GPT-2: `n_positions`)."""
        backbone = self.backbone_config
        for name in ("max_position_embeddings", "n_positions"):
            value = getattr(backbone, name, None)
            if value:
                return int(value)
        raise ValueError(f"cannot tell the context length of backbone config {type(backbone).__name__}")


__all__ = ["ListenerConfig"]
