"""Seeded synthetic 3DMM motion with identity-dependent style.

Motion is 56-dim per frame (50 FLAME expression + 3 head rotation + 3 jaw, REFERENCE layout).
Each identity has a shape vector beta (100,) which sets a per-channel offset and scale:

    motion_t = content_t * scale(beta) + offset(beta)

`content` is identity-free: smooth oscillations (0.2 to 2 Hz) of a few latent factors mixed into
the 56 channels, plus smoothed noise. A model that removes per-sequence statistics (instance
norm) sees the same content for every identity, and one that re-injects beta (AdaIN) can restore
the style: the structure the identity-disentangled VQ-VAE is built for.
"""

from dataclasses import dataclass

import numpy as np

MOTION_DIM = 56
IDENTITY_DIM = 100
EXPRESSION_DIM = 50
_STYLE_SEED = 20250611  # fixed: the beta -> style map is part of the corpus definition


def _style_maps() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(_STYLE_SEED)
    offset_map = rng.standard_normal((MOTION_DIM, IDENTITY_DIM)) / np.sqrt(IDENTITY_DIM)
    scale_map = rng.standard_normal((MOTION_DIM, IDENTITY_DIM)) / np.sqrt(IDENTITY_DIM)
    return offset_map, scale_map


def channel_amplitude() -> np.ndarray:
    """Typical size of each channel `(56,)`: expression coefficients ~1, rotations and jaw ~0.1 rad."""
    amplitude = np.full(MOTION_DIM, 1.0)
    amplitude[EXPRESSION_DIM:] = 0.1
    return amplitude


def identity_style(beta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel `(offset, scale)`, each `(..., 56)`, of identities `beta (..., 100)`."""
    beta = np.asarray(beta, dtype=np.float64)
    if beta.shape[-1] != IDENTITY_DIM:
        raise ValueError(f"beta must end in {IDENTITY_DIM} dims, got shape {beta.shape}")
    offset_map, scale_map = _style_maps()
    amplitude = channel_amplitude()
    offset = 0.8 * (beta @ offset_map.T) * amplitude
    scale = np.exp(0.4 * (beta @ scale_map.T))
    return offset, scale


def content_motion(num_frames: int, rng: np.random.Generator, fps: int = 30, num_factors: int = 6) -> np.ndarray:
    """Identity-free motion content `(num_frames, 56)` with zero mean per channel on average."""
    t = np.arange(num_frames) / fps
    freqs = rng.uniform(0.2, 2.0, size=num_factors)
    phases = rng.uniform(0, 2 * np.pi, size=num_factors)
    factors = np.sin(2 * np.pi * freqs[None, :] * t[:, None] + phases[None, :])  # (T, F)
    mixing = rng.standard_normal((num_factors, MOTION_DIM)) / np.sqrt(num_factors)
    noise = rng.standard_normal((num_frames, MOTION_DIM)) * 0.3
    kernel = np.hanning(9) / np.hanning(9).sum()
    noise = np.apply_along_axis(lambda x: np.convolve(x, kernel, mode="same"), 0, noise)
    return (factors @ mixing + noise) * channel_amplitude()


def apply_style(content: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Motion `(T, 56)` of identity `beta (100,)` performing `content (T, 56)`."""
    offset, scale = identity_style(beta)
    return content * scale + offset


@dataclass
class IdentityMotion:
    """A batch of styled motion.

    Attributes:
        motion (`np.ndarray` of shape `(num_sequences, num_frames, 56)`, float32)
        identity (`np.ndarray` of shape `(num_sequences, 100)`, float32): beta of each sequence.
        identity_index (`np.ndarray` of shape `(num_sequences,)`, int64): which identity.
    """

    motion: np.ndarray
    identity: np.ndarray
    identity_index: np.ndarray


def identity_betas(num_identities: int, seed: int = 0) -> np.ndarray:
    """Shape vectors `(num_identities, 100)` of distinct identities."""
    return np.random.default_rng(seed).standard_normal((num_identities, IDENTITY_DIM)).astype(np.float32)


def sample_identity_motion(
    num_sequences: int, num_frames: int, num_identities: int = 4, seed: int = 0, fps: int = 30
) -> IdentityMotion:
    """Sequences of several identities, each performing fresh content in its own style."""
    if num_sequences <= 0 or num_frames <= 0 or num_identities <= 0:
        raise ValueError("num_sequences, num_frames and num_identities must be positive")
    rng = np.random.default_rng(seed)
    betas = identity_betas(num_identities, seed=seed + 1)
    index = rng.integers(0, num_identities, size=num_sequences)
    motion = np.stack([apply_style(content_motion(num_frames, rng, fps=fps), betas[i]) for i in index])
    return IdentityMotion(motion=motion.astype(np.float32), identity=betas[index], identity_index=index)
