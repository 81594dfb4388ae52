"""What the VQ-VAE's codes depend on: the future of the window, and the identity performing it.

- `prefix_code_agreement`: tokenise growing prefixes of each window; the share of codes that a prefix ending
  with that code's group already gives as the whole window does. Below 1, the teacher-forced codes of stage 2
  carry information about the listener's later frames that generated codes cannot have.
- `identity_code_agreement`: the same motion content performed by several identities (their style applied by
  a function such as `mmlistener.data.synthetic.apply_style`); the share of equal codes. The encoder is meant
  to erase identity, so the codes should not change.
"""

from collections.abc import Callable, Sequence

import numpy as np
import torch


@torch.no_grad()
def prefix_code_agreement(vqvae, motions: Sequence[np.ndarray], identities: Sequence | None = None) -> dict[str, float]:
    """Share of codes that do not change when the frames after their group arrive.

    For each window `(T, 56)` of `G = T // rate` complete groups, code `g` of the prefix of `(g + 1) * rate`
    frames is compared with code `g` of the whole window, for every group whose prefix has at least
    `vqvae.config.min_frames` frames: an instance-norm encoder needs 2 latent steps, so its comparison starts
    at group 1 (a causal one's group-0 code is the same fixed start code for every input).

    Args:
        vqvae (`IdentityVQVAE`): the tokeniser (put in eval mode).
        motions (`list` of `np.ndarray` of shape `(T_i, 56)`): raw listener motion.
        identities (`list` of `np.ndarray` of shape `(identity_dim,)`, *optional*): each window's listener, for
            an encoder that reads the identity (`encoder_norm="identity"`).

    Returns:
        `dict`: `agreement` (share over the compared codes), `first_group` and `last_group` (share at the
        first compared group and the last group of the windows: the shortest prefix the VQ-VAE encodes against
        the whole window, and the whole window against itself) and `num_codes` (codes compared).
    """
    vqvae.eval()
    rate = vqvae.config.downsample_rate
    start = -(-vqvae.config.min_frames // rate) - 1  # the first group whose prefix is long enough to encode
    equal, first, last = [], [], []
    for index, motion in enumerate(motions):
        motion = torch.as_tensor(np.asarray(motion, dtype=np.float32))
        groups = len(motion) // rate
        if groups == 0:
            raise ValueError(f"window {index} has {len(motion)} frames, fewer than one group of {rate}")
        if groups <= start:
            raise ValueError(
                f"window {index} has {groups} complete groups of {rate} frames; the VQ-VAE encodes "
                f"{vqvae.config.min_frames} frames or more (config.min_frames), so no prefix can be compared"
            )
        motion = motion[: groups * rate].to(vqvae.device)
        identity = None if identities is None else torch.as_tensor(np.asarray(identities[index], np.float32))[None]
        full = vqvae.encode(motion[None], identity=identity).codes[0, start:]
        prefixes = [vqvae.encode(motion[None, : (g + 1) * rate], identity=identity).codes[0, g]
                    for g in range(start, groups)]  # fmt: skip
        same = (torch.stack(prefixes) == full).cpu().numpy()
        equal.append(same)
        first.append(same[0])
        last.append(same[-1])
    if not equal:
        raise ValueError("no windows to tokenise")
    return {
        "agreement": float(np.concatenate(equal).mean()),
        "first_group": float(np.mean(first)),
        "last_group": float(np.mean(last)),
        "num_codes": int(sum(len(same) for same in equal)),
    }


@torch.no_grad()
def identity_code_agreement(
    vqvae, contents: Sequence[np.ndarray], betas: np.ndarray, apply_style: Callable
) -> dict[str, float]:
    """Share of codes that stay the same when the same content is performed by other identities.

    Args:
        vqvae (`IdentityVQVAE`): the tokeniser (put in eval mode).
        contents (`list` of `np.ndarray` of shape `(T_i, 56)`): identity-free motion content.
        betas (`np.ndarray` of shape `(num_identities, 100)`): at least two identities.
        apply_style (`callable`): `(content (T, 56), beta (100,)) -> motion (T, 56)`.

    Returns:
        `dict`: `agreement` (share of codes equal to the first identity's, over the other identities and all
        windows) and `num_codes` (codes compared).
    """
    betas = np.asarray(betas)
    if betas.ndim != 2 or len(betas) < 2:
        raise ValueError(f"betas must have shape (num_identities >= 2, identity_dim), got {betas.shape}")
    vqvae.eval()
    equal = []
    for content in contents:
        motion = np.stack([apply_style(content, beta) for beta in betas]).astype(np.float32)
        identity = torch.from_numpy(betas.astype(np.float32))  # each performer's own (read by an identity norm)
        codes = vqvae.encode(torch.from_numpy(motion).to(vqvae.device), identity=identity).codes.cpu().numpy()
        equal.append((codes[1:] == codes[:1]).reshape(-1))
    if not equal:
        raise ValueError("no content to tokenise")
    same = np.concatenate(equal)
    return {"agreement": float(same.mean()), "num_codes": int(same.size)}


__all__ = ["identity_code_agreement", "prefix_code_agreement"]
