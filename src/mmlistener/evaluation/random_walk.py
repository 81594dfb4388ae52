"""Random walks over VQ-VAE codebook indices: the paper's "Naive random walk" and "Ours random walk".

The walk, for a window of T frames and a VQ-VAE with K codes and downsampling rate r:

1. neighbours: for every code k, the `num_neighbors` codebook entries nearest to entry k in
   Euclidean distance, k itself included (distance 0), so the walk may stay where it is;
2. `n = ceil(T / r)` codes: `c_0` uniform over the K codes, then `c_{i+1}` uniform over the
   neighbours of `c_i`, all drawn from `np.random.default_rng(seed)` window after window;
3. decode the codes with the window's listener identity, `vqvae.decode(codes, identity=beta)`,
   and keep the first T frames.

"Naive random walk" decodes with a VQ-VAE without identity disentanglement (encoder and decoder
norms "none"), "Ours random walk" with the instance-norm / AdaIN one: same walk, other decoder.
"""

from collections.abc import Sequence

import numpy as np
import torch

from .scoring import as_motion


def codebook_neighbors(codebook: np.ndarray, num_neighbors: int) -> np.ndarray:
    """Indices `(K, num_neighbors)` of the nearest entries of each codebook entry (itself first).

    Args:
        codebook (`np.ndarray` of shape `(K, dim)`): the codebook vectors.
        num_neighbors (`int`): neighbours per entry, itself included, in `[1, K]`.
    """
    codebook = np.asarray(codebook, dtype=np.float64)
    if codebook.ndim != 2:
        raise ValueError(f"codebook must be (num_codes, dim), got shape {codebook.shape}")
    if not 1 <= num_neighbors <= codebook.shape[0]:
        raise ValueError(f"num_neighbors must be in [1, {codebook.shape[0]}], got {num_neighbors}")
    squared = (codebook**2).sum(axis=1)
    distances = squared[:, None] + squared[None, :] - 2.0 * codebook @ codebook.T
    np.fill_diagonal(distances, -np.inf)  # each entry is its own first neighbour, even among duplicates
    return np.argsort(distances, axis=1, kind="stable")[:, :num_neighbors]


def random_walk(neighbors: np.ndarray, length: int, rng: np.random.Generator) -> np.ndarray:
    """`length` codes: a uniform start, then each step uniform over the current code's neighbours."""
    if length <= 0:
        raise ValueError(f"a walk needs a positive length, got {length}")
    codes = np.empty(length, dtype=np.int64)
    codes[0] = rng.integers(0, neighbors.shape[0])
    for step in range(1, length):
        codes[step] = neighbors[codes[step - 1], rng.integers(0, neighbors.shape[1])]
    return codes


class RandomWalkBaseline:
    """Random walk over the codebook of `vqvae`, decoded in the style of each window's listener.

    Args:
        vqvae (`IdentityVQVAE`): decodes the walked codes (a "none"/"none" one for the naive row,
            the instance/AdaIN one for ours).
        num_neighbors (`int`, defaults to 8): size of each code's neighbourhood, itself included.
        seed (`int`, defaults to 0): `predict` draws with `np.random.default_rng(seed)`, so it is repeatable.
    """

    def __init__(self, vqvae, num_neighbors: int = 8, seed: int = 0):
        self.vqvae = vqvae.eval()
        self.seed = seed
        self.neighbors = codebook_neighbors(vqvae.codebook_vectors().detach().cpu().numpy(), num_neighbors)

    def fit(self, train_examples: Sequence[dict]) -> "RandomWalkBaseline":
        """Nothing to fit (the VQ-VAE is trained already); here for the shared interface."""
        return self

    @torch.no_grad()
    def predict(self, examples: Sequence[dict]) -> list[np.ndarray]:
        rng = np.random.default_rng(self.seed)
        rate = self.vqvae.config.downsample_rate
        device = self.vqvae.device
        motions = []
        for example in examples:
            frames = as_motion(example, "listener_motion").shape[0]
            codes = random_walk(self.neighbors, -(-frames // rate), rng)
            identity = np.asarray(example["listener_identity"], dtype=np.float32)[None]
            decoded = self.vqvae.decode(
                torch.from_numpy(codes)[None].to(device), identity=torch.from_numpy(identity).to(device)
            ).motion
            motions.append(decoded[0, :frames].float().cpu().numpy())
        return motions


__all__ = ["RandomWalkBaseline", "codebook_neighbors", "random_walk"]
