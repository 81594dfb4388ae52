"""What makes the listener LM listen: the demo run with one setting changed at a time, in one table.

Each row is a full run of the demo (`mmlistener.demo`, seed 0) with the flags shown; the figures are read back
from the files it writes (`results.json`, `listening.json`): the oracle's L2, ours' L2 / FD, the random walk in
the identity VQ-VAE's codebook, ours with the speaker streams of other windows, the teacher-forced NLL with the
true speakers and its rise with shuffled ones, the VQ-VAE code diagnostics, whether nods and laughs survive the
codebook (the oracle's hit rates) and ours' emotion contagion. The runs are sequential and take
about 20 minutes on an idle 2-core CPU; the thread count changes the trained models (see docs/training.md,
Reproducibility).

    .venv/bin/python bench/listening_study.py [--output_dir outputs/listening_study] [--rows A,D]
"""

import argparse
import json
import os
import time
from pathlib import Path

from mmlistener.arguments import parse_arguments
from mmlistener.demo import DemoArguments, run_demo
from mmlistener.evaluation.tables import markdown_table

FORMER_BACKBONE = "n_layer=2,n_embd=64,n_head=4,n_positions=1024"
VQVAE = "hidden_size=64,codebook_dim=64,codebook_size=64,num_residual_layers=2"
FORMER = ["--num_train", "48", "--vqvae_window_frames", "32"]
ROWS = {
    "A": ("the former defaults", [*FORMER, "--lm_stage2_steps", "150", "--backbone_config_overrides", FORMER_BACKBONE]),
    "B": ("A, 400 stage-2 steps, no attention dropout",
          [*FORMER, "--lm_stage2_steps", "400", "--backbone_config_overrides", FORMER_BACKBONE + ",attn_pdrop=0.0"]),
    "C": ("the defaults, VQ-VAE on 32-frame crops", ["--vqvae_window_frames", "32"]),
    "D": ("the defaults (make demo)", []),
    "E": ("the defaults, 1,200 stage-2 steps", ["--lm_stage2_steps", "1200"]),
    "F": ("the defaults, causal encoder", ["--vqvae_config_overrides", VQVAE + ",causal_encoder=true"]),
    "G": ("A, instance norm of the input channels",
          [*FORMER, "--lm_stage2_steps", "150", "--backbone_config_overrides", FORMER_BACKBONE,
           "--vqvae_config_overrides", VQVAE + ",encoder_input_norm=instance"]),
    "H": ("the defaults, 1,000 VQ-VAE steps", ["--vqvae_steps", "1000"]),
}
SYSTEMS = ["--systems", "ours_random_walk,oracle"]


HEADERS = ["oracle L2", "ours L2 / FD", "ours_random_walk L2", "shuffled L2", "NLL own / gap", "prefix agr.",
           "identity agr.", "oracle nod / laugh hit", "ours contagion"]


def row(name: str, flags: list[str], output_dir: Path) -> tuple[str, list[str]]:
    """The study's row `name`: its label (with the flags) and its cells, from a fresh demo run."""
    out = output_dir / name
    (args,) = parse_arguments((DemoArguments,), ["--output_dir", str(out), *flags, *SYSTEMS])
    run_demo(args)
    results = json.loads((out / "results.json").read_text())
    listening = json.loads((out / "listening.json").read_text())
    control, codes = listening["control"], listening["codes"]
    cells = [
        f"{results['oracle']['l2']:.4f}",
        f"{results['ours']['l2']:.4f} / {results['ours']['fd']:.2f}",
        f"{results['ours_random_walk']['l2']:.4f}",
        f"{control['shuffled']['l2']:.4f}",
        f"{control['true']['nll']:.3f} / {control['nll_gap']:.3f}",
        f"{codes['prefix']['agreement']:.3f}",
        f"{codes['identity']['agreement']:.3f}",
        f"{results['oracle']['nod_hit_rate']:.2f} / {results['oracle']['laugh_hit_rate']:.2f}",
        f"{results['ours']['emotion_contagion']:.3f}",
    ]
    return f"{name}. {ROWS[name][0]}: `{' '.join(flags) or '(none)'}`", cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output_dir", default="outputs/listening_study")
    parser.add_argument("--rows", default=",".join(ROWS), help="comma-separated row names among " + ",".join(ROWS))
    args = parser.parse_args()
    import torch

    started = time.time()
    rows = dict(row(name, ROWS[name][1], Path(args.output_dir)) for name in args.rows.split(","))
    print("\n" + markdown_table("run (flags of `python -m mmlistener.demo`)", HEADERS, rows), end="")
    print(f"\n{time.time() - started:.0f} s; torch threads {torch.get_num_threads()}; "
          f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
