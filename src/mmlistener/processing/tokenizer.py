"""The GPT-2 text tokenizer, built offline from the BPE ranks that openai-whisper ships.

GPT-2 Medium's tokenizer is byte-level BPE with 50,256 merges-derived tokens plus `<|endoftext|>`
(id 50256). openai-whisper bundles exactly those ranks as `whisper/assets/gpt2.tiktoken`, so the
tokenizer can be rebuilt without the Hub through transformers' `TikTokenConverter`. With the Hub,
`AutoTokenizer.from_pretrained("gpt2-medium")` (or a LLaMA tokenizer) is the usual path.
"""

import os
from functools import lru_cache

GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
GPT2_EOS = "<|endoftext|>"


def whisper_gpt2_ranks_path() -> str:
    """Path of `gpt2.tiktoken` inside the installed openai-whisper package."""
    import importlib.util

    spec = importlib.util.find_spec("whisper")
    if spec is None or not spec.submodule_search_locations:
        raise ValueError("openai-whisper is not installed: `pip install --no-deps openai-whisper` (see README)")
    path = os.path.join(spec.submodule_search_locations[0], "assets", "gpt2.tiktoken")
    if not os.path.isfile(path):
        raise ValueError(f"openai-whisper is installed but has no BPE ranks file at {path}")
    return path


@lru_cache(maxsize=4)
def _converted_backend_json(ranks_path: str) -> str:
    """The converted `tokenizers` backend as JSON (conversion takes ~2 s; cached per ranks file)."""
    from transformers.convert_slow_tokenizer import TikTokenConverter

    converter = TikTokenConverter(vocab_file=ranks_path, pattern=GPT2_PATTERN, extra_special_tokens=[GPT2_EOS])
    return converter.converted().to_str()


def gpt2_tokenizer_from_tiktoken(ranks_path: str | None = None):
    """Build the GPT-2 tokenizer (a `GPT2Tokenizer`, 50,257 tokens) from a `.tiktoken` ranks file.

    Args:
        ranks_path (`str`, *optional*): a tiktoken BPE ranks file; defaults to openai-whisper's
            `gpt2.tiktoken`.

    Returns:
        `transformers.GPT2Tokenizer` whose ids equal GPT-2's (`<|endoftext|>` = 50256).
    """
    from transformers import GPT2Tokenizer

    ranks_path = ranks_path or whisper_gpt2_ranks_path()
    if not os.path.isfile(ranks_path):
        raise ValueError(f"no tiktoken ranks file at {ranks_path}")
    from tokenizers import Tokenizer

    backend = Tokenizer.from_str(_converted_backend_json(os.path.abspath(ranks_path)))
    return GPT2Tokenizer(
        tokenizer_object=backend,
        bos_token=GPT2_EOS,
        eos_token=GPT2_EOS,
        unk_token=GPT2_EOS,
        add_prefix_space=False,
    )


def tiktoken_gpt2_encoding(ranks_path: str | None = None):
    """The reference `tiktoken.Encoding` over the same ranks (what openai-whisper itself uses)."""
    import base64

    import tiktoken

    ranks_path = ranks_path or whisper_gpt2_ranks_path()
    with open(ranks_path) as handle:
        ranks = {base64.b64decode(token): int(rank) for token, rank in (line.split() for line in handle if line.strip())}
    return tiktoken.Encoding(
        name="gpt2-offline",
        pat_str=GPT2_PATTERN,
        mergeable_ranks=ranks,
        special_tokens={GPT2_EOS: len(ranks)},
    )


__all__ = ["gpt2_tokenizer_from_tiktoken", "tiktoken_gpt2_encoding", "whisper_gpt2_ranks_path"]
