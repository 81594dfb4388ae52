"""The paper's Table 5 on synthetic multi-identity motion: every VQ-VAE norm variant, same short budget.

Each variant (encoder norm / decoder norm) is trained from the same seed, on the same batches, for
the same number of steps on `mmlistener.data.synthetic` motion: identity-free content performed by
`--num_identities` listeners, each with its own per-channel offset and scale (its "style", a function
of its beta). Printed per variant:

- Table 5 columns from `mmlistener.evaluation.score_vqvae` on held-out windows (new content, same
  listeners): reconstruction loss, commitment loss, codebook perplexity, and the raw L2;
- identity disentanglement: `ID from codes`, the accuracy of a nearest-centroid classifier that
  tells the listener from a window's code histogram (chance = 1 / num_identities; lower means the
  codes carry less identity), and `swap L2`, the raw L2 between the motion decoded from listener
  A's codes with listener B's beta and the same content really performed by B (only a decoder that
  takes the identity can get this right).

Run: `.venv/bin/python bench/vqvae_norms.py` (3 to 6 minutes on 2 CPU cores; `--steps` to change).
"""

import argparse
import time

import numpy as np
import torch

from mmlistener import IdentityVQVAE, IdentityVQVAEConfig
from mmlistener.data.synthetic import apply_style, content_motion, identity_betas
from mmlistener.evaluation import score_vqvae

VARIANTS = (  # (encoder_norm, decoder_norm), the rows of the paper's Table 5
    ("none", "none"),
    ("layer", "layer"),
    ("instance", "instance"),
    ("layer", "adaln"),
    ("instance", "adain"),
    ("identity", "adain"),  # not in the paper: the encoder standardises each channel by the listener's style
)


def styled_windows(betas: np.ndarray, count: int, frames: int, rng: np.random.Generator) -> dict:
    """`count` windows: fresh content, listener drawn uniformly; also the content itself."""
    index = rng.integers(0, len(betas), size=count)
    content = np.stack([content_motion(frames, rng) for _ in range(count)])
    motion = np.stack([apply_style(c, betas[i]) for c, i in zip(content, index)]).astype(np.float32)
    return {"motion": motion, "content": content, "index": index}


def examples(windows: dict, betas: np.ndarray) -> list[dict]:
    return [
        {"listener_motion": motion, "listener_identity": betas[i]}
        for motion, i in zip(windows["motion"], windows["index"])
    ]


def train(config: IdentityVQVAEConfig, data: dict, betas: np.ndarray, args) -> tuple[IdentityVQVAE, float]:
    torch.manual_seed(args.seed)
    model = IdentityVQVAE(config)
    flat = data["motion"].reshape(-1, config.motion_dim)
    model.set_motion_statistics(flat.mean(0), flat.std(0))
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.99), weight_decay=0.0)
    motion = torch.from_numpy(data["motion"])
    identity = torch.from_numpy(betas[data["index"]])
    order = torch.Generator().manual_seed(args.seed)
    model.train()
    start = time.perf_counter()
    for _ in range(args.steps):
        batch = torch.randint(0, len(motion), (args.batch_size,), generator=order)
        model(motion[batch], identity=identity[batch]).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    return model.eval(), time.perf_counter() - start


@torch.no_grad()
def code_histograms(model: IdentityVQVAE, windows: dict, betas: np.ndarray) -> np.ndarray:
    identity = torch.from_numpy(betas[windows["index"]])  # read by the identity norm only
    codes = model.encode(torch.from_numpy(windows["motion"]), identity=identity).codes.numpy()
    size = model.config.codebook_size
    return np.stack([np.bincount(row, minlength=size) / len(row) for row in codes])


def identity_from_codes(model: IdentityVQVAE, fit: dict, test: dict, betas: np.ndarray) -> float:
    """Accuracy of nearest-centroid (cosine) listener classification from code histograms."""
    fit_hist, test_hist = code_histograms(model, fit, betas), code_histograms(model, test, betas)
    centroids = np.stack([fit_hist[fit["index"] == k].mean(0) for k in range(len(betas))])
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True) + 1e-12
    test_hist /= np.linalg.norm(test_hist, axis=1, keepdims=True) + 1e-12
    return float(((test_hist @ centroids.T).argmax(1) == test["index"]).mean())


@torch.no_grad()
def swap_l2(model: IdentityVQVAE, test: dict, betas: np.ndarray, rng: np.random.Generator) -> float:
    """Raw L2 of decoding A's codes with B's beta against B performing A's content."""
    target_index = (test["index"] + rng.integers(1, len(betas), size=len(test["index"]))) % len(betas)
    frames = test["motion"].shape[1]
    codes = model.encode(torch.from_numpy(test["motion"]), identity=torch.from_numpy(betas[test["index"]])).codes
    decoded = model.decode(codes, identity=torch.from_numpy(betas[target_index])).motion[:, :frames].numpy()
    truth = np.stack([apply_style(c, betas[i]) for c, i in zip(test["content"], target_index)])
    return float(((decoded - truth) ** 2).mean())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=1000, help="training steps per variant")
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--window", type=int, default=32, help="frames per training window (LM-Listener: 32)")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--hidden_size", type=int, default=64, help="width = codebook_dim (paper: 512)")
    parser.add_argument("--codebook_size", type=int, default=64, help="paper: 256")
    parser.add_argument("--num_identities", type=int, default=8)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (1 is fastest for small models)"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    rng = np.random.default_rng(args.seed)
    betas = identity_betas(args.num_identities, seed=args.seed + 1)
    train_data = styled_windows(betas, 1024, args.window, rng)
    test_data = styled_windows(betas, 128, 64, rng)
    probe_fit = styled_windows(betas, 16 * args.num_identities, 128, rng)
    probe_test = styled_windows(betas, 8 * args.num_identities, 128, rng)
    test_examples = examples(test_data, betas)

    print(
        f"{len(VARIANTS)} variants x {args.steps} steps (batch {args.batch_size} x {args.window} frames), "
        f"width {args.hidden_size}, {args.codebook_size} codes, {args.num_identities} listeners; "
        f"held-out: {len(test_examples)} windows of 64 frames; chance for ID from codes "
        f"{1 / args.num_identities:.3f}\n"
    )
    header = (
        "| Encoder norm | Decoder norm | Reconstruction ↓ | Commitment ↓ | Perplexity ↑ | L2 ↓ "
        "| ID from codes ↓ | Swap L2 ↓ | Train s |"
    )
    print(header)
    print("|---|---|" + "---:|" * 7)
    for encoder_norm, decoder_norm in VARIANTS:
        config = IdentityVQVAEConfig(
            hidden_size=args.hidden_size,
            codebook_dim=args.hidden_size,
            codebook_size=args.codebook_size,
            encoder_norm=encoder_norm,
            decoder_norm=decoder_norm,
        )
        model, seconds = train(config, train_data, betas, args)
        scores = score_vqvae(model, test_examples)
        accuracy = identity_from_codes(model, probe_fit, probe_test, betas)
        swap = swap_l2(model, test_data, betas, np.random.default_rng(args.seed))
        print(
            f"| {encoder_norm} | {decoder_norm} | {scores['reconstruction']:.4f} | {scores['commitment']:.4f} "
            f"| {scores['perplexity']:.1f} | {scores['l2']:.4f} | {accuracy:.3f} | {swap:.4f} | {seconds:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
