"""Listener codes of any length -> motion, without seams, with a VQ-VAE trained on fixed-length windows.

The decoder of [`IdentityVQVAE`] is not causal: its convolutions read both neighbours and its instance norm /
AdaIN normalises every channel over the whole time axis, so it decodes best windows of the length it was trained
on (8 s: 30 codes). Decoding a long recording window after window gives each window its own statistics and its
own edges, and the motion jumps at every border. `decode_long` decodes overlapping windows of that length instead
(a hop of half a window by default) and blends them by overlap-add: the frames of each window are weighted by a
Hann window (`sin^2`, never 0, low at the window's edges, where its decoding is worst), and the weights are
normalised to sum to 1 at every frame. Time and memory grow linearly with the number of codes.
"""

import math

import torch

# Codes per decoding window: 240 frames at 8 frames per code, the 8-s windows the VQ-VAE and the LM are trained on.
DEFAULT_WINDOW_CODES = 30


def window_starts(num_codes: int, window_codes: int, hop_codes: int) -> list[int]:
    """First code of each decoding window of `num_codes` codes: every `hop_codes` codes, the last window ending on
    the last code (one window at 0 when the codes fit in one)."""
    if num_codes <= window_codes:
        return [0]
    return [*range(0, num_codes - window_codes, hop_codes), num_codes - window_codes]


def blend_weights(frames: int, device=None) -> torch.FloatTensor:
    """Overlap-add weights `(frames,)` of one window: `sin^2(pi * (i + 1/2) / frames)`, positive everywhere; two
    windows half a window apart sum to exactly 1 where they overlap (`sin^2 + cos^2`)."""
    steps = torch.arange(frames, device=device, dtype=torch.float32) + 0.5
    return torch.sin(math.pi * steps / frames).square()


@torch.no_grad()
def decode_long(
    vqvae,
    codes: torch.LongTensor,
    identity: torch.FloatTensor | None = None,
    window_codes: int = DEFAULT_WINDOW_CODES,
    hop_codes: int | None = None,
    batch_size: int = 16,
) -> torch.FloatTensor:
    r"""Raw motion of listener codes of any length: overlapping windows of `window_codes` codes decoded by `vqvae`
    and blended by normalised overlap-add (see the module's docstring).

    Args:
        vqvae ([`IdentityVQVAE`]): the decoder.
        codes (`torch.LongTensor` of shape `(batch, num_codes)`): codes in `[0, codebook_size)`, at least
            `vqvae.config.min_codes` per row.
        identity (`torch.FloatTensor` of shape `(batch, identity_dim)`, *optional*): the listener of each row;
            required by an adaptive (AdaIN / AdaLN) decoder.
        window_codes (`int`, defaults to `DEFAULT_WINDOW_CODES`): codes per decoded window, the VQ-VAE's training
            length; at least `vqvae.config.min_codes`.
        hop_codes (`int`, *optional*): codes from one window's start to the next, in `[1, window_codes]`; half a
            window by default (each frame then blends two windows).
        batch_size (`int`, defaults to 16): windows per decoder call (bounds the memory of the activations).

    Returns:
        `torch.FloatTensor` of shape `(batch, num_codes * downsample_rate, motion_dim)`. When the codes fit in one
        window (`num_codes <= window_codes`) this is `vqvae.decode(codes, identity=identity).motion`, exactly.
    """
    config = vqvae.config
    hop_codes = max(1, window_codes // 2) if hop_codes is None else hop_codes
    if window_codes < config.min_codes:
        raise ValueError(f"window_codes={window_codes}: the VQ-VAE decodes at least {config.min_codes} codes together")
    if not 1 <= hop_codes <= window_codes:
        raise ValueError(f"hop_codes must lie in [1, window_codes={window_codes}], got {hop_codes}")
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    codes = torch.as_tensor(codes, device=vqvae.device)
    if codes.ndim != 2:
        raise ValueError(f"codes must have shape (batch, num_codes), got {tuple(codes.shape)}")
    rows, num_codes = codes.shape
    if num_codes <= window_codes:
        return vqvae.decode(codes, identity=identity).motion.float()
    if identity is not None:
        identity = torch.as_tensor(identity, device=vqvae.device)
    rate, frames = config.downsample_rate, window_codes * config.downsample_rate
    weights = blend_weights(frames, vqvae.device)
    motion = torch.zeros(rows, num_codes * rate, config.motion_dim, device=vqvae.device)
    total = torch.zeros(num_codes * rate, device=vqvae.device)
    starts = window_starts(num_codes, window_codes, hop_codes)
    per_call = max(1, batch_size // rows)
    for first in range(0, len(starts), per_call):
        chunk = starts[first : first + per_call]
        windows = torch.stack([codes[:, start : start + window_codes] for start in chunk], dim=1)
        style = None if identity is None else identity.repeat_interleave(len(chunk), dim=0)
        decoded = vqvae.decode(windows.flatten(0, 1), identity=style).motion.float().unflatten(0, windows.shape[:2])
        for index, start in enumerate(chunk):
            span = slice(start * rate, start * rate + frames)
            motion[:, span] += weights[:, None] * decoded[:, index]
            total[span] += weights
    return motion / total[:, None]


__all__ = ["DEFAULT_WINDOW_CODES", "blend_weights", "decode_long", "window_starts"]
