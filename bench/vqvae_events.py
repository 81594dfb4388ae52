"""What the codebook can carry: VQ-VAE settings side by side by the oracle's nods and laughs.

Each variant trains an `IdentityVQVAE` on the listener motion of a finished run's dataset (`make demo` writes one
to `outputs/demo/dataset`, with the corpus's statistics in `outputs/demo/corpus`), from the same seed and with the
same trainer as the demo (`mmlistener.runs.train_vqvae_model`); then the oracle row (each test window's own codes
decoded with its listener's beta) is scored by the package's event detectors. No listener LM can nod or laugh
more often than the codes of its VQ-VAE let it: these rates are the ceiling of the model rows.

Printed per variant: training seconds, the oracle's raw mean squared error, nod hit / false-alarm rates after
utterance ends, laugh hit / false-alarm rates after joke words (with the number of jokes: a small test split makes
the laugh rate coarse), emotion contagion, and where the false laughs start (`events.false_laugh_sites`: where a nod should, a codebook
whose nod codes decode with the jaw of laughter; near a joke, mistimed; elsewhere). Then torch's thread count and the machine's load average.

    .venv/bin/python bench/vqvae_events.py [--run outputs/demo] [--variants demo paper_depth ...]
    .venv/bin/python bench/vqvae_events.py --variants demo --train "lr 4e-3: --vqvae_learning_rate 0.004"

`--train` adds variants of the demo's budget changed by `PipelineBudget` flags (a name, a colon, the flags).
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from mmlistener.evaluation import as_examples, load_split
from mmlistener.evaluation.events import event_rates, false_laugh_sites
from mmlistener.evaluation.oracle import OracleBaseline
from mmlistener.evaluation.tables import markdown_table
from mmlistener.modeling.modeling_identity_vqvae import IdentityVQVAE
from mmlistener.runs import PipelineBudget, budget_variants, finished_run, train_vqvae_model

SMALL = "hidden_size=64,codebook_dim=64,codebook_size=64"
VARIANTS = {  # name -> (steps, config overrides)
    "demo": (None, None),  # PipelineBudget's defaults: what `make demo` trains (two units per stage, velocity 4)
    "first_demo": (250, f"{SMALL},num_residual_layers=2"),  # the demo's first VQ-VAE, before velocity_weight=4
    "depth1_velocity4": (None, f"{SMALL},num_residual_layers=1,velocity_weight=4.0"),
    "depth1_velocity0.5": (None, f"{SMALL},num_residual_layers=1,velocity_weight=0.5"),
    "demo_1000_steps": (1000, None),
    # the demo's, with a larger codebook (the paper's has 256 codes): room for a nod alone and a nod with laughter
    "codebook_128": (None, "hidden_size=64,codebook_dim=64,codebook_size=128,num_residual_layers=2,velocity_weight=4.0"),
    "codebook_256": (None, "hidden_size=64,codebook_dim=64,codebook_size=256,num_residual_layers=2,velocity_weight=4.0"),
}


def oracle_row(vqvae: IdentityVQVAE, test: list[dict]) -> dict:
    """Event rates and raw MSE of the test windows' own codes through `vqvae`."""
    motions = OracleBaseline(vqvae).predict(test)
    rates = event_rates(motions, test)
    rates["false_laughs"] = false_laugh_sites(motions, test)
    rates["mse"] = float(np.mean([np.mean((m - np.asarray(w["listener_motion"])) ** 2) for m, w in zip(motions, test)]))
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", default="outputs/demo", help="A finished run with dataset/ and corpus/.")
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--train", nargs="*", default=[], metavar="'NAME: FLAGS'",
                        help="More variants: a name, a colon, PipelineBudget flags changing the demo's budget.")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    run = finished_run(args.run, "dataset", "corpus")
    test = as_examples(load_split(str(run / "dataset"), "test"))
    print(f"torch threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.2f}; "
          f"{len(test)} test windows", flush=True)  # fmt: skip
    defaults = PipelineBudget()
    budgets = {}
    for name in args.variants:
        steps, overrides = VARIANTS[name]
        budget = PipelineBudget(vqvae_steps=steps or defaults.vqvae_steps,
                                vqvae_config_overrides=overrides or defaults.vqvae_config_overrides)  # fmt: skip
        budgets[f"{name}: {budget.vqvae_steps} steps, {budget.vqvae_config_overrides}"] = (name, budget)
    for name, budget in budget_variants(args.train).items():
        budgets[f"{name}: {budget.vqvae_steps} steps, learning rate {budget.vqvae_learning_rate:g}, batch "
                f"{budget.vqvae_batch_size}, {budget.vqvae_config_overrides}"] = (name, budget)  # fmt: skip
    rows = {}
    with tempfile.TemporaryDirectory() as folder:
        for label, (name, budget) in budgets.items():
            started, output = time.time(), Path(folder) / str(len(rows))
            train_vqvae_model(output, run / "dataset", run / "corpus", budget, args.seed)
            seconds = time.time() - started
            rates = oracle_row(IdentityVQVAE.from_pretrained(str(output)), test)
            rows[label] = [
                f"{seconds:.0f}", f"{rates['mse']:.4f}",
                f"{rates['nod_hit_rate']:.3f} / {rates['nod_false_alarm_rate']:.3f}",
                f"{rates['laugh_hit_rate']:.3f} / {rates['laugh_false_alarm_rate']:.3f} ({rates['num_joke_ends']})",
                f"{rates['emotion_contagion']:.3f}", "{at_nods} / {mistimed} / {elsewhere}".format(**rates["false_laughs"]),
            ]  # fmt: skip
            print(f"{name}: done in {seconds:.0f} s", flush=True)
    print(markdown_table("VQ-VAE (oracle row)", ["train s", "MSE ↓", "nod hit / false alarm", "laugh hit / false "
                                                 "alarm (jokes)", "contagion", "false laughs at nods / mistimed / elsewhere"], rows))  # fmt: skip
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
