"""Training throughput of the VQ-VAE and the listener LM: 1 process against 2 processes, in one run.

Each configuration is a real run of the entry point on a small synthetic dataset (`python -m ...` for one
process, `accelerate launch --multi_gpu --num_processes 2 ... --cpu true` for two), with the same
per-process batch; the loop's own timing (`train_results.json`: steps/s and samples/s over the training
loop, set-up excluded) is read back. Rows: one process with one thread, one process with all the
threads, two processes sharing the threads. The runs are sequential: other load on the machine moves
the figures, so compare rows of the same run.

    .venv/bin/python bench/training.py [--steps 40] [--threads 2]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

VQVAE = "hidden_size=64,codebook_dim=64,codebook_size=64,num_residual_layers=2"
BACKBONE = "n_layer=2,n_embd=128,n_head=4"


def _run(processes: int, module: str, flags: list[str], threads: int) -> dict:
    """Run one training job; `threads` per process. Returns its train_results.json."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "TOKENIZERS_PARALLELISM": "false"}
    if processes == 1:
        command = [sys.executable, "-m", module]
    else:
        command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes",
                   str(processes), "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
                   "-m", module]
    run = subprocess.run(command + flags + ["--cpu", "true"], capture_output=True, text=True, env=env)
    if run.returncode:
        raise RuntimeError(f"{module} with {processes} process(es) failed:\n{run.stderr[-3000:]}")
    output_dir = flags[flags.index("--output_dir") + 1]
    return json.loads((Path(output_dir) / "train_results.json").read_text())


def _flags(**settings) -> list[str]:
    flags = []
    for name, value in settings.items():
        flags += [f"--{name}", str(value)]
    return flags


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=40, help="optimizer steps per run")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2, help="CPU threads shared by the processes")
    args = parser.parse_args()

    from mmlistener.data import L2LTrevor, build_dataset, write_synthetic_corpus
    from mmlistener.modeling.configuration_identity_vqvae import IdentityVQVAEConfig
    from mmlistener.modeling.modeling_identity_vqvae import IdentityVQVAE
    from mmlistener.training.arguments import parse_config_overrides
    from mmlistener.training.tokenize_motion import tokenize_splits

    root = Path(tempfile.mkdtemp(prefix="bench_training_"))
    corpus = write_synthetic_corpus(str(root / "corpus"), num_train=16, num_val=1, num_test=1, seed=0)
    splits = build_dataset(L2LTrevor, corpus, cache_dir=str(root / "cache"), verbose=False)
    vqvae = IdentityVQVAE(IdentityVQVAEConfig(**parse_config_overrides(VQVAE)))
    tokenize_splits(splits, vqvae).save_to_disk(str(root / "dataset"))  # random codes: only the time counts

    common = {"dataset_path": root / "dataset", "max_steps": args.steps, "checkpointing_steps": 0,
              "eval_split": "", "report_to": "none", "logging_steps": args.steps}
    jobs = {
        "VQ-VAE (32-frame crops, batch 32/process)": (
            "mmlistener.training.train_vqvae",
            {**common, "per_device_train_batch_size": 32, "config_overrides": VQVAE},
        ),
        "listener LM (240-frame windows, batch 4/process)": (
            "mmlistener.training.train_listener",
            {**common, "per_device_train_batch_size": 4, "stage": "listener", "backbone_config_overrides": BACKBONE},
        ),
    }
    # (processes, threads per process): one process with one thread, with all the threads, and two
    # processes sharing the threads
    layouts = ((1, 1), (1, args.threads), (2, max(1, args.threads // 2)))
    print(f"{args.steps} steps per run, {args.threads} CPU threads in total, torch CPU\n")
    print("| model | processes x threads | steps/s | samples/s | samples/s vs 1 x 1 |")
    print("|---|---:|---:|---:|---:|")
    for name, (module, settings) in jobs.items():
        baseline = None
        for processes, threads in layouts:
            output = root / f"{module.rsplit('.', 1)[1]}_{processes}x{threads}"
            result = _run(processes, module, _flags(**settings, output_dir=output), threads)
            baseline = baseline or result["samples_per_second"]
            print(f"| {name} | {processes} x {threads} | {result['steps_per_second']:.2f} | "
                  f"{result['samples_per_second']:.1f} | {result['samples_per_second'] / baseline:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
