"""The oracle row: the ground-truth listener motion through the VQ-VAE's codebook.

Each window's listener motion is encoded by the identity VQ-VAE and its codes decoded with the window's
listener identity. No listener LM can do better through this codebook than the codes that the VQ-VAE itself
gives the ground truth, so the row is the ceiling of the model rows, and it shows what the codebook can carry
(nods, laughs) at all.
"""

from collections.abc import Sequence

import numpy as np
import torch

from .scoring import as_motion


class OracleBaseline:
    """Ground-truth codes (the VQ-VAE's own tokenisation of the listener motion), decoded per listener.

    Args:
        vqvae (`IdentityVQVAE`): the VQ-VAE whose codes the listener LM predicts.
    """

    def __init__(self, vqvae):
        self.vqvae = vqvae.eval()

    def fit(self, train_examples: Sequence[dict]) -> "OracleBaseline":
        """Nothing to fit; here for the shared interface."""
        return self

    @torch.no_grad()
    def predict(self, examples: Sequence[dict]) -> list[np.ndarray]:
        """Raw motion `(T_i, 56)` per window: `decode(encode(listener_motion, identity), identity)` with the
        window's `listener_identity` (the paper's encoder ignores it)."""
        device = self.vqvae.device
        motions = []
        for example in examples:
            motion = torch.from_numpy(as_motion(example, "listener_motion"))[None].to(device)
            identity = torch.from_numpy(np.asarray(example["listener_identity"], dtype=np.float32))[None]
            codes = self.vqvae.encode(motion, identity=identity.to(device)).codes
            decoded = self.vqvae.decode(codes, identity=identity.to(device)).motion
            motions.append(decoded[0, : motion.shape[1]].float().cpu().numpy())
        return motions


__all__ = ["OracleBaseline"]
