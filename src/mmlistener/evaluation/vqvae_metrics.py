"""The VQ-VAE table (the paper's Table 5): reconstruction, commitment and perplexity over a split."""

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch

from .metrics import l2
from .scoring import as_motion
from .tables import markdown_table

VQVAE_COLUMNS = (
    ("reconstruction", "Reconstruction ↓"),
    ("commitment", "Commitment ↓"),
    ("perplexity", "Perplexity ↑"),
    ("l2", "L2 ↓"),
)


def code_perplexity(counts: np.ndarray) -> float:
    """`exp(-sum p log p)` of the code usage `p = counts / counts.sum()` (K when all K codes are used equally)."""
    counts = np.asarray(counts, dtype=np.float64)
    if counts.sum() <= 0:
        raise ValueError("no code was used")
    p = counts[counts > 0] / counts.sum()
    return float(np.exp(-(p * np.log(p)).sum()))


@torch.no_grad()
def score_vqvae(vqvae, examples: Sequence[dict], batch_size: int = 32) -> dict[str, float]:
    """Run `vqvae` (in eval mode: no codebook update) on the listener motion of every window.

    Windows of equal length are batched together. Returns:

    - `reconstruction`: the model's `reconstruction_loss` (its own training criterion, on normalised
      motion), averaged over windows;
    - `commitment`: the model's `commit_loss`, averaged over windows;
    - `perplexity`: `code_perplexity` of the codes of all windows pooled (not a mean of per-batch values);
    - `l2`: `l2` between raw reconstruction and raw motion (the L2 of Table 1), averaged over windows.

    Args:
        vqvae (`IdentityVQVAE`): the model; windows' `listener_identity` is passed as `identity`.
        examples (`list` of `dict`): windows with `listener_motion (T, 56)` and `listener_identity (100,)`.
        batch_size (`int`): windows per forward pass.
    """
    if not examples:
        raise ValueError("no windows to score")
    vqvae.eval()
    device = vqvae.device
    by_length: dict[int, list[int]] = {}
    for index, example in enumerate(examples):
        by_length.setdefault(as_motion(example, "listener_motion").shape[0], []).append(index)
    sums = {"reconstruction": 0.0, "commitment": 0.0, "l2": 0.0}
    counts = np.zeros(vqvae.config.codebook_size, dtype=np.int64)
    for indices in by_length.values():
        for start in range(0, len(indices), batch_size):
            batch = [examples[i] for i in indices[start : start + batch_size]]
            motion = np.stack([as_motion(example, "listener_motion") for example in batch])
            identity = np.stack(
                [np.asarray(example["listener_identity"], dtype=np.float32) for example in batch]
            )
            output = vqvae(
                torch.from_numpy(motion).to(device), identity=torch.from_numpy(identity).to(device)
            )
            sums["reconstruction"] += float(output.reconstruction_loss) * len(batch)
            sums["commitment"] += float(output.commit_loss) * len(batch)
            reconstruction = output.reconstruction.float().cpu().numpy()[:, : motion.shape[1]]
            sums["l2"] += sum(l2(rec, gt) for rec, gt in zip(reconstruction, motion))
            counts += np.bincount(output.codes.reshape(-1).cpu().numpy(), minlength=counts.shape[0])
    scores = {name: value / len(examples) for name, value in sums.items()}
    scores["perplexity"] = code_perplexity(counts)
    return {name: scores[name] for name, _ in VQVAE_COLUMNS}


def vqvae_table(rows: Mapping[str, Mapping[str, float]]) -> str:
    """Markdown table of `score_vqvae` results, one row per model."""
    return markdown_table(
        "VQ-VAE",
        [header for _, header in VQVAE_COLUMNS],
        {name: [f"{row[key]:.4f}" for key, _ in VQVAE_COLUMNS] for name, row in rows.items()},
    )


def save_vqvae_results(rows: Mapping[str, Mapping[str, float]], output_dir: str | Path) -> str:
    """Write `vqvae_results.json` and `vqvae_results.md` to `output_dir`; return the markdown."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    table = vqvae_table(rows)
    (output_dir / "vqvae_results.json").write_text(json.dumps(rows, indent=2) + "\n")
    (output_dir / "vqvae_results.md").write_text(table)
    return table


__all__ = ["VQVAE_COLUMNS", "code_perplexity", "save_vqvae_results", "score_vqvae", "vqvae_table"]
