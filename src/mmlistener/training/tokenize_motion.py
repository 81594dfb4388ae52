"""Add `listener_codes` (the VQ-VAE's codes of the listener motion) to every split of a dataset.

```
mmlistener-tokenize --dataset_path data/trevor --vqvae_path outputs/vqvae --output_path data/trevor_tokens
```

A window of `T` frames gets `ceil(T / downsample_rate)` codes, the listener tokens the LM is trained to
predict (stage 2): one per group, the last, partial group included (its code is the VQ-VAE's for the window
padded by repeating its last frame), as many as `generate` makes for the window.
"""

from collections import defaultdict

import numpy as np
import torch

from ..arguments import parse_arguments
from ..data.collators import load_splits
from ..modeling.modeling_identity_vqvae import IdentityVQVAE
from .arguments import TokenizeArguments


@torch.no_grad()
def listener_codes(vqvae: IdentityVQVAE, motions: list, batch_size: int = 32, identities: list | None = None
                   ) -> list[list[int]]:  # fmt: skip
    """Codes of each raw listener motion `(T_i, 56)`: `ceil(T_i / downsample_rate)` ints per window.

    Windows of equal length are encoded together, `batch_size` at a time (no padding, so a window's codes
    do not depend on its batch-mates). `identities` (one `(identity_dim,)` beta per window) are required by an
    encoder that reads the identity (`encoder_norm="identity"`) and ignored by the others.
    """
    if identities is not None and len(identities) != len(motions):
        raise ValueError(f"got {len(identities)} identities for {len(motions)} windows")
    rate = vqvae.config.downsample_rate
    arrays = [np.asarray(motion, dtype=np.float32) for motion in motions]
    by_length = defaultdict(list)
    for index, motion in enumerate(arrays):
        if motion.ndim != 2 or motion.shape[1] != vqvae.config.motion_dim:
            raise ValueError(
                f"window {index}: listener_motion must have shape (frames, {vqvae.config.motion_dim}), "
                f"got {motion.shape}"
            )
        if len(motion) < rate:
            raise ValueError(f"window {index} has {len(motion)} frames, fewer than one group of {rate}")
        if len(motion) < vqvae.config.min_frames:
            raise ValueError(
                f"window {index} has {len(motion)} frames; the VQ-VAE's codes depend on the motion from "
                f"{vqvae.config.min_frames} frames on (config.min_frames: an instance norm over time needs 2 steps)"
            )
        by_length[len(motion)].append(index)
    codes = [None] * len(arrays)
    for indices in by_length.values():
        for start in range(0, len(indices), batch_size):
            chunk = indices[start : start + batch_size]
            motion = torch.from_numpy(np.stack([arrays[i] for i in chunk])).to(vqvae.device)
            identity = None
            if identities is not None:
                identity = torch.from_numpy(np.stack([np.asarray(identities[i], dtype=np.float32) for i in chunk]))
            encoded = vqvae.encode(motion, identity=identity).codes.cpu().tolist()
            for index, row in zip(chunk, encoded):
                codes[index] = row
    return codes


def tokenize_splits(splits, vqvae: IdentityVQVAE, batch_size: int = 32):
    """`splits` (a `DatasetDict`) with a `listener_codes` column computed by `vqvae`."""
    vqvae = vqvae.eval()

    def add_codes(batch):
        identities = batch.get("listener_identity")
        return {"listener_codes": listener_codes(vqvae, batch["listener_motion"], batch_size, identities)}

    if any("listener_codes" in split.column_names for split in splits.values()):
        splits = splits.remove_columns("listener_codes")
    return splits.map(add_codes, batched=True, batch_size=max(batch_size, 64), desc="tokenising listener motion")


def parse_and_run(args: list[str] | None = None):
    """Tokenise from command-line style `args` (default `sys.argv[1:]`); return the saved `DatasetDict`."""
    (token_args,) = parse_arguments((TokenizeArguments,), args)
    device = "cuda" if torch.cuda.is_available() and not token_args.cpu else "cpu"
    vqvae = IdentityVQVAE.from_pretrained(token_args.vqvae_path).to(device)
    splits = tokenize_splits(load_splits(token_args.dataset_path), vqvae, token_args.batch_size)
    splits.save_to_disk(token_args.output_path)
    sizes = ", ".join(f"{name}: {len(split)}" for name, split in splits.items())
    print(f"listener codes added ({sizes}); saved to {token_args.output_path}")
    return splits


def main(args: list[str] | None = None) -> None:
    """Console entry point (`mmlistener-tokenize`): returns nothing, so a successful run exits 0."""
    parse_and_run(args)


if __name__ == "__main__":
    main()
