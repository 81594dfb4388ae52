"""Reading processor output back: token ids as readable text, and sequence lengths against a model's context."""

import numpy as np

from .token_layout import SPECIAL_TOKENS, TokenLayout


def decode_tokens(token_ids, layout: TokenLayout, tokenizer) -> str:
    """Readable form of one sequence `token_ids (L,)`: text, then `<A17>`, `<C3>`, `<E:1>`, `<L42>` for codes and
    the special tokens by name; padding is left out."""
    ids = np.asarray(token_ids.tolist() if hasattr(token_ids, "tolist") else token_ids, dtype=np.int64)
    parts, text = [], []
    blocks = (
        (layout.listener_offset, layout.num_listener_tokens, "L"),
        (layout.acoustic_offset, layout.num_acoustic_tokens, "A"),
        (layout.content_offset, layout.num_content_tokens, "C"),
        (layout.emotion_offset, layout.num_emotion_tokens, "E:"),
    )
    for token in ids.tolist():
        if token == layout.pad_token_id:
            continue
        if token < layout.text_vocab_size:
            text.append(token)
            continue
        if text:
            parts.append(tokenizer.decode(text).strip())
            text = []
        for offset, size, tag in blocks:
            if offset <= token < offset + size:
                parts.append(f"<{tag}{token - offset}>")
                break
        else:
            parts.append(_special_name(layout, token))
    if text:
        parts.append(tokenizer.decode(text).strip())
    return " ".join(part for part in parts if part)


def sequence_length_report(encoding, config_or_model) -> dict:
    """How the longest sequence of `encoding` compares with a model's context.

    Args:
        encoding: a processor output (`attention_mask (B, L)` present).
        config_or_model: a [`ListenerConfig`], a [`ListenerForCausalLM`], or any config with
            `max_position_embeddings` / `n_positions`.

    Returns:
        `dict` with `longest`, `max_position_embeddings`, `fits` (bool) and `overflow` (tokens too many).
    """
    config = getattr(config_or_model, "config", config_or_model)
    context = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)
    if context is None:
        raise ValueError(f"cannot tell the context length of {type(config).__name__}")
    mask = encoding["attention_mask"]
    longest = int(np.asarray(mask.sum(-1) if hasattr(mask, "sum") else [sum(row) for row in mask]).max())
    return {
        "longest": longest,
        "max_position_embeddings": int(context),
        "fits": longest <= int(context),
        "overflow": max(0, longest - int(context)),
    }


def _special_name(layout: TokenLayout, token: int) -> str:
    index = token - layout.special_offset
    if 0 <= index < len(SPECIAL_TOKENS):
        return SPECIAL_TOKENS[index]
    raise ValueError(f"token id {token} is outside the vocabulary of {layout.vocab_size}")


__all__ = ["decode_tokens", "sequence_length_report"]
