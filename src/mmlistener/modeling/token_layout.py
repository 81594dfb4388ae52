"""The token layout of the listener LM: which vocabulary id each text token, code and special token gets.

The one place that turns "listener code 17" or "acoustic code 900" into a vocabulary id; the model (through
[`ListenerConfig.layout`]) and the processor read it from here. It imports nothing, so it is saved beside both the
model's and the processor's Hub remote code.
"""

from dataclasses import dataclass

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

    def stream_mask(self, token_ids, stream: str):
        """Which of `token_ids` belong to a speaker stream: `"words"` (the text tokens), or `"acoustic"`,
        `"content"`, `"emotion"` (the stream's codes and its opening and closing tokens).

        Works on numpy arrays and tensors alike (an elementwise boolean of the same shape).
        """
        if stream == "words":
            return token_ids < self.text_vocab_size
        blocks = {
            "acoustic": (self.acoustic_offset, self.num_acoustic_tokens, "<sa>", "</sa>"),
            "content": (self.content_offset, self.num_content_tokens, "<sc>", "</sc>"),
            "emotion": (self.emotion_offset, self.num_emotion_tokens, "<emo>", "</emo>"),
        }
        if stream not in blocks:
            raise ValueError(f"unknown speaker stream {stream!r}; expected 'words' or one of {sorted(blocks)}")
        offset, size, opening, closing = blocks[stream]
        codes = (token_ids >= offset) & (token_ids < offset + size)
        return codes | (token_ids == self.token_id(opening)) | (token_ids == self.token_id(closing))


__all__ = ["SPECIAL_TOKENS", "TokenLayout"]
