"""Training throughput of the VQ-VAE and the listener LM: 1 process against 2 processes, in one run.

Each configuration is a real run of the entry point on a small synthetic dataset (`python -m ...` for one
process, `accelerate launch --multi_gpu --num_processes 2 ... --cpu true` for two), with the same
per-process batch; the loop's own timing (`train_results.json`: steps/s and samples/s over the training
loop, set-up excluded) is read back. Rows: one process with one thread, one process with all the
threads, two processes sharing the threads. The runs are sequential: other load on the machine moves
the figures, so compare rows of the same run (the load average is printed before and after).

Tokens/s is samples/s times the tokens of a sample: the LM's non-padding tokens per training window (from
its saved processor), the VQ-VAE's motion frames per crop. For the LM the run also measures this CPU's
float32 matmul rate (`MATMUL_SIZE` square, on 1 thread and on all of them) and prints the share of it that
training reaches: achieved GFLOP/s = tokens/s x training FLOPs per token, estimated as 6 x the non-embedding
parameters + 6 x layers x sequence length x width (the attention scores and their use; Kaplan et al. 2020,
forward pass x 3 for the backward).

    .venv/bin/python bench/training.py [--steps 40] [--threads 2]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VQVAE = "hidden_size=64,codebook_dim=64,codebook_size=64,num_residual_layers=2"
BACKBONE = "n_layer=2,n_embd=128,n_head=4"
VQVAE_FRAMES = 32  # frames per VQ-VAE training crop (the entry point's default)
MATMUL_SIZE = 1024


def matmul_gflops(threads: int, size: int = MATMUL_SIZE, repeats: int = 10) -> float:
    """Median GFLOP/s of a float32 `size` x `size` matmul on `threads` torch threads (after 3 warm-up calls)."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        a, b = torch.randn(size, size), torch.randn(size, size)
        for _ in range(3):
            a @ b
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            a @ b
            times.append(time.perf_counter() - started)
    finally:
        torch.set_num_threads(previous)
    return 2 * size**3 / sorted(times)[len(times) // 2] / 1e9


def lm_training_flops_per_token(model_dir: Path, tokens_per_sample: float) -> float:
    """Estimated training FLOPs per token of the listener LM saved in `model_dir` (see the module docstring)."""
    import torch

    from mmlistener.modeling.modeling_listener import ListenerForCausalLM

    model = ListenerForCausalLM.from_pretrained(str(model_dir))
    embeddings = {id(p) for m in model.modules() if isinstance(m, torch.nn.Embedding) for p in m.parameters()}
    non_embedding = sum(p.numel() for p in model.parameters() if id(p) not in embeddings)
    backbone = model.config.backbone_config
    return 6 * non_embedding + 6 * backbone.n_layer * tokens_per_sample * backbone.n_embd


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

    from datasets import load_from_disk

    from mmlistener.data import L2LTrevor, build_dataset, write_synthetic_corpus
    from mmlistener.modeling.configuration_identity_vqvae import IdentityVQVAEConfig
    from mmlistener.modeling.modeling_identity_vqvae import IdentityVQVAE
    from mmlistener.reproduce_gpu import mean_tokens_per_window
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
    peak = {total: matmul_gflops(total) for total in sorted({processes * threads for processes, threads in layouts})}
    print(f"{args.steps} steps per run, {args.threads} CPU threads in total, torch CPU; load average "
          f"{os.getloadavg()[0]:.2f} at the start")
    print(f"float32 {MATMUL_SIZE} x {MATMUL_SIZE} matmul: "
          + ", ".join(f"{rate:.1f} GFLOP/s on {threads} thread(s)" for threads, rate in peak.items()) + "\n")
    print("| model | processes x threads | steps/s | samples/s | tokens/s | samples/s vs 1 x 1 | GFLOP/s | "
          "share of matmul rate |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, (module, settings) in jobs.items():
        baseline = tokens_per_sample = flops_per_token = None
        for processes, threads in layouts:
            output = root / f"{module.rsplit('.', 1)[1]}_{processes}x{threads}"
            result = _run(processes, module, _flags(**settings, output_dir=output), threads)
            baseline = baseline or result["samples_per_second"]
            if tokens_per_sample is None and module.endswith("train_listener"):
                tokens_per_sample = mean_tokens_per_window(output, load_from_disk(str(root / "dataset"))["train"],
                                                           "listener")
                flops_per_token = lm_training_flops_per_token(output, tokens_per_sample)
            tokens = result["samples_per_second"] * (tokens_per_sample or VQVAE_FRAMES)
            if flops_per_token is None:
                compute = "– | –"
            else:
                achieved = tokens * flops_per_token / 1e9
                compute = f"{achieved:.1f} | {achieved / peak[processes * threads]:.1%}"
            print(f"| {name} | {processes} x {threads} | {result['steps_per_second']:.2f} | "
                  f"{result['samples_per_second']:.1f} | {tokens:.0f} | {result['samples_per_second'] / baseline:.2f}x | "
                  f"{compute} |", flush=True)
    print(f"\nload average {os.getloadavg()[0]:.2f} at the end; tokens: the LM's {tokens_per_sample:.0f} non-padding "
          f"tokens per window, the VQ-VAE's {VQVAE_FRAMES} frames per crop; LM training FLOPs per token "
          f"{flops_per_token / 1e6:.2f} M (estimate)")


if __name__ == "__main__":
    main()
