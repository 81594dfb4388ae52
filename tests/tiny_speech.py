"""A tiny random SpeechTokenizer for the tests: its config, and a model whose codes vary with the audio."""

import torch

from mmlistener.processing import SpeechTokenizerCodes


def tiny_speechtokenizer_config(n_q: int = 3, codebook_size: int = 1024) -> dict:
    """SpeechTokenizer's architecture at a few channels (its strides: 320 samples a code)."""
    return {
        "n_filters": 4, "dimension": 16, "semantic_dimension": 16, "strides": [8, 5, 4, 2], "lstm_layers": 1,
        "bidirectional": True, "dilation_base": 2, "residual_kernel_size": 3, "n_residual_layers": 1,
        "activation": "ELU", "sample_rate": 16000, "n_q": n_q, "codebook_size": codebook_size,
    }  # fmt: skip


def tiny_codec(n_q: int = 3) -> SpeechTokenizerCodes:
    """A seeded tiny SpeechTokenizer whose codebooks are spread over its latents (a random model's k-means
    codebooks start at zero, so every code would be the same)."""
    torch.manual_seed(0)
    codec = SpeechTokenizerCodes.from_config(tiny_speechtokenizer_config(n_q))
    with torch.no_grad():
        latent = codec.model.encoder(torch.randn(1, 1, 16000) * 0.1)
        for layer in codec.model.quantizer.vq.layers:
            layer._codebook.embed.normal_(std=float(latent.std()))
            layer._codebook.inited.fill_(1)
    return codec
