"""Configuration of the listener language model and its token layout.

The layout is the one place that turns "listener code 17" or "acoustic code 900" into a vocabulary
id. The processor and the model both read it from here.
"""

from dataclasses import dataclass

from transformers import AutoConfig, PreTrainedConfig
from transformers.configuration_utils import SubConfigSpec

SPECIAL_TOKENS = (
    "<sa>",  # acoustic tokens (SpeechTokenizer 2nd quantizer) of one group
    "</sa>",
    "<sc>",  # speech-content tokens (SpeechTokenizer 1st quantizer) of one group
    "</sc>",
    "<emo>",  # speaker emotion token of one group
    "</emo>",
    "<lr>",  # listener slot: the listener token of one group
    "</lr>",
    "<pad>",
)


@dataclass(frozen=True)
class TokenLayout:
    """Vocabulary layout: the backbone's text tokens, then the new blocks, then the special tokens.

    ```
    [0, text)                      text tokens (the backbone's own vocabulary, untouched)
    [listener_offset, +256)        listener motion codes (VQ-VAE indices)
    [acoustic_offset, +1024)       acoustic codes (SpeechTokenizer quantizer 2)
    [content_offset, +1024)        speech-content codes (SpeechTokenizer quantizer 1)
    [emotion_offset, +8)           speaker emotion classes (AffectNet order)
    [special_offset, +9)           SPECIAL_TOKENS, in that order
    ```

    >>> layout = TokenLayout(text_vocab_size=50257)
    >>> layout.listener_id(3), layout.token_id("<lr>"), layout.vocab_size
    (50260, 52575, 52578)
    """

    text_vocab_size: int
    num_listener_tokens: int = 256
    num_acoustic_tokens: int = 1024
    num_content_tokens: int = 1024
    num_emotion_tokens: int = 8

    @property
    def listener_offset(self) -> int:
        return self.text_vocab_size

    @property
    def acoustic_offset(self) -> int:
        return self.listener_offset + self.num_listener_tokens

    @property
    def content_offset(self) -> int:
        return self.acoustic_offset + self.num_acoustic_tokens

    @property
    def emotion_offset(self) -> int:
        return self.content_offset + self.num_content_tokens

    @property
    def special_offset(self) -> int:
        return self.emotion_offset + self.num_emotion_tokens

    @property
    def vocab_size(self) -> int:
        return self.special_offset + len(SPECIAL_TOKENS)

    @property
    def num_new_tokens(self) -> int:
        """Rows appended to the backbone's input embeddings."""
        return self.vocab_size - self.text_vocab_size

    @property
    def pad_token_id(self) -> int:
        return self.token_id("<pad>")

    def token_id(self, token: str) -> int:
        """Id of one of `SPECIAL_TOKENS`."""
        if token not in SPECIAL_TOKENS:
            raise ValueError(f"{token!r} is not a special token; expected one of {SPECIAL_TOKENS}")
        return self.special_offset + SPECIAL_TOKENS.index(token)

    def _block_id(self, code, offset: int, size: int, name: str):
        if not 0 <= int(code) < size:
            raise ValueError(f"{name} code {int(code)} is outside [0, {size})")
        return offset + int(code)

    def listener_id(self, code: int) -> int:
        return self._block_id(code, self.listener_offset, self.num_listener_tokens, "listener")

    def acoustic_id(self, code: int) -> int:
        return self._block_id(code, self.acoustic_offset, self.num_acoustic_tokens, "acoustic")

    def content_id(self, code: int) -> int:
        return self._block_id(code, self.content_offset, self.num_content_tokens, "content")

    def emotion_id(self, code: int) -> int:
        return self._block_id(code, self.emotion_offset, self.num_emotion_tokens, "emotion")

    def is_listener_id(self, token_id):
        """Works on ints, numpy arrays and tensors alike."""
        return (token_id >= self.listener_offset) & (token_id < self.acoustic_offset)


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
    num_listener_tokens: int = 256
    num_acoustic_tokens: int = 1024
    num_content_tokens: int = 1024
    num_emotion_tokens: int = 8
    group_size: int = 8
    fps: int = 30
    initializer_range: float = 0.02
    tie_word_embeddings: bool = False

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        for name in ("num_listener_tokens", "num_acoustic_tokens", "num_emotion_tokens", "group_size", "fps"):
            if getattr(self, name) <= 0:
                raise ValueError(f"ListenerConfig.{name} must be positive, got {getattr(self, name)}")
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


__all__ = ["ListenerConfig", "TokenLayout", "SPECIAL_TOKENS"]
