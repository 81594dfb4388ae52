"""One seed of the study at the paper's LM size on one GPU: VQ-VAE, LM stages 1 and 2, scoring, and throughput.

```
python bench/reproduce_gpu.py configs/reproduce_gpu.yaml        # one GPU (brings missing packages first)
python -m mmlistener.reproduce_gpu configs/reproduce_gpu_tiny.yaml   # the same steps on CPU, a tiny budget
```

The steps are those of `make reproduce` (`mmlistener.runs`) for one seed, with the budget of the config file
(there: a GPT-2-Medium-sized backbone built from its config, bf16 LM stages, a larger corpus). It prints, per
trained model, steps/s, samples/s, tokens/s (LM: non-padding tokens of the training sequences; VQ-VAE: motion
frames), the peak GPU memory of the VQ-VAE and of the LM stages (`torch.cuda.max_memory_allocated`; reported as
unavailable without CUDA), then
the results table beside the CPU study's (`cpu_report`, the `report.json` of `make reproduce`) and writes
`gpu_report.json` to `output_dir`.
"""

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .demo import BASELINES, SYSTEM_NAME
from .runs import PipelineBudget, build_corpus, load_pipeline, tokenise, train_lm, train_vqvae_model

COMPARED_METRICS = (("l2", "L2 ↓"), ("fd", "FD ↓"), ("p_fd", "P-FD ↓"))
TOKEN_SAMPLE_WINDOWS = 64  # train windows whose sequences give the mean tokens per window


@dataclass
class GPUReproduceArguments(PipelineBudget):
    """One seed's budget (a `PipelineBudget`: `configs/reproduce_gpu.yaml`) and what to compare it with."""

    output_dir: str = field(default="outputs/reproduce_gpu", metadata={"help": "Folder of every output."})
    seed: int = field(default=0, metadata={"help": "Seed of the corpus, the models and the metrics."})
    systems: list[str] = field(
        default_factory=lambda: [name for name in (*BASELINES, "oracle") if name != "nn_speech"],
        metadata={"help": "Baselines (and the oracle row) scored beside the model; nn_speech needs the sentence "
                  "model of the baselines extra."},
    )
    cpu_report: str = field(
        default="outputs/reproduce/report.json",
        metadata={"help": "report.json of the CPU study (`make reproduce`), whose mean rows are printed beside "
                  "this run's; a missing file is said, not an error."},
    )


def _peak_memory(device) -> int | None:
    """Bytes of `torch.cuda.max_memory_allocated` since the last reset, or `None` without CUDA."""
    import torch

    return torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None


def _reset_peak_memory(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def release_accelerator_state() -> None:
    """Forget this process's `AcceleratorState`. accelerate keeps one per process and refuses a second mixed
    precision in it, while the LM stages (`lm_mixed_precision`) follow a float32 VQ-VAE; so the state is released
    before the LM stages and after them (accelerate's `_reset_state`, what its own tests call between runs)."""
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state(reset_partial_state=True)


def mean_tokens_per_window(lm_dir, tokens_split, stage: str) -> float:
    """Mean non-padding tokens of the `stage` sequences the processor saved in `lm_dir` builds for the first
    `TOKEN_SAMPLE_WINDOWS` windows of `tokens_split`."""
    from .data.collators import ListenerCollator
    from .evaluation import as_examples
    from .processing.processing_listener import ListenerProcessor

    windows = as_examples(tokens_split.select(range(min(TOKEN_SAMPLE_WINDOWS, len(tokens_split)))))
    batch = ListenerCollator(ListenerProcessor.from_pretrained(str(lm_dir)), stage)(windows)
    return float(batch["attention_mask"].sum()) / len(windows)


def throughput_row(result, tokens_per_sample: float) -> dict:
    """One trained model's figures: the loop's steps/s and samples/s, and tokens/s."""
    return {
        "steps_per_second": result.steps_per_second,
        "samples_per_second": result.samples_per_second,
        "tokens_per_second": result.samples_per_second * tokens_per_sample,
        "tokens_per_sample": tokens_per_sample,
    }


def format_throughput(throughput: dict, peak_memory: dict) -> str:
    """Markdown table of `throughput` (model -> `throughput_row`), then a line of `peak_memory` (part -> bytes,
    `None` without CUDA)."""
    from .evaluation.tables import markdown_table

    table = markdown_table(
        "Model",
        ["steps/s", "samples/s", "tokens/s", "tokens/sample"],
        {name: [f"{row['steps_per_second']:.2f}", f"{row['samples_per_second']:.1f}",
                f"{row['tokens_per_second']:.0f}", f"{row['tokens_per_sample']:.0f}"]
         for name, row in throughput.items()},
    )
    memory = ", ".join(f"{part} {'unavailable (no CUDA device)' if value is None else f'{value / 2**30:.2f} GiB'}"
                       for part, value in peak_memory.items())
    return f"{table}\nPeak GPU memory (torch.cuda.max_memory_allocated): {memory}\n"


def cpu_study_rows(report: dict) -> dict:
    """`{system: {metric: mean over the seeds}}` of Table 1 of a `make reproduce` report."""
    seeds = list(report["seeds"].values())
    systems = {name for seed in seeds for name in seed["results"]}
    rows = {}
    for name in sorted(systems):
        values = [seed["results"][name] for seed in seeds if name in seed["results"]]
        rows[name] = {key: sum(row[key] for row in values) / len(values)
                      for key, _ in COMPARED_METRICS if all(key in row for row in values)}
    return rows


def format_side_by_side(results: dict, cpu_rows: dict | None) -> str:
    """Markdown table of this run's L2, FD and P-FD per system beside the CPU study's (`–` where a side has none)."""
    from .evaluation.tables import markdown_table

    def cell(rows, name, key):
        value = (rows or {}).get(name, {}).get(key)
        return "–" if value is None or math.isnan(value) else f"{value:.4f}"

    names = [name for name in results if name != "GT"]
    names += [name for name in (cpu_rows or {}) if name not in names and name != "GT"]
    headers = [f"{header} {side}" for _, header in COMPARED_METRICS for side in ("this run", "CPU study")]
    return markdown_table(
        "System", headers,
        {name: [cell(rows, name, key) for key, _ in COMPARED_METRICS for rows in (results, cpu_rows)]
         for name in names},
    )


def run_gpu_study(args: GPUReproduceArguments) -> dict:
    """Train and score one seed; returns the report (also `output_dir/gpu_report.json`): `settings`, `device`,
    `seconds` per part, `throughput` per trained model, `peak_memory_bytes` (`None` without CUDA), `results`
    (system -> metric), `cpu_study` (the CPU study's mean rows, or `None`) and the printed `tables`."""
    import torch

    from .evaluation import as_examples, build_systems, evaluate_systems
    from .modeling.modeling_identity_vqvae import IdentityVQVAE

    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    begin, seconds, throughput, peak_memory = time.time(), {}, {}, {}

    started = time.time()
    corpus, splits = build_corpus(out, args, args.seed)
    seconds["corpus"] = time.time() - started

    started = time.time()
    _reset_peak_memory(device)
    result = train_vqvae_model(out / "vqvae", out / "dataset", corpus, args, args.seed)
    throughput["VQ-VAE (tokens: motion frames)"] = throughput_row(result, args.vqvae_window_frames)
    peak_memory["VQ-VAE"] = _peak_memory(device)
    naive_vqvae = None
    if "naive_random_walk" in args.systems:
        naive_vqvae = str(out / "vqvae_naive")
        train_vqvae_model(naive_vqvae, out / "dataset", corpus, args, args.seed, "encoder_norm=none,decoder_norm=none")
    tokens = tokenise(splits, out / "vqvae", out / "dataset_tokens")
    seconds["vqvae"] = time.time() - started

    started = time.time()
    _reset_peak_memory(device)
    release_accelerator_state()
    try:
        lm = train_lm(out / "lm_stage1", out / "lm_stage2", out / "dataset_tokens", out / "vqvae", args, args.seed)
    finally:
        release_accelerator_state()
    for stage, directory, name in (("speaker", "lm_stage1", "LM stage 1"), ("listener", "lm_stage2", "LM stage 2")):
        per_window = mean_tokens_per_window(out / directory, tokens["train"], stage)
        throughput[name] = throughput_row(lm[stage], per_window)
    peak_memory["LM stages 1 and 2"] = _peak_memory(device)
    seconds["lm"] = time.time() - started

    started = time.time()
    vqvae = IdentityVQVAE.from_pretrained(str(out / "vqvae")).to(device)
    fitted = build_systems(args.systems, as_examples(splits["train"]), vqvae=str(out / "vqvae"),
                           naive_vqvae=naive_vqvae, seed=args.seed)
    model, _, fitted[SYSTEM_NAME] = load_pipeline(out / "lm_stage2", vqvae)
    model.to(device)
    results = evaluate_systems(fitted, splits["test"], seed=args.seed, output_dir=out, events=True)
    seconds["scoring"] = time.time() - started
    seconds["total"] = time.time() - begin

    cpu_path = Path(args.cpu_report)
    cpu_rows = cpu_study_rows(json.loads(cpu_path.read_text())) if cpu_path.is_file() else None
    tables = {"throughput": format_throughput(throughput, peak_memory),
              "results": format_side_by_side(results, cpu_rows)}
    report = {
        "settings": asdict(args),
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "seconds": seconds,
        "throughput": throughput,
        "peak_memory_bytes": peak_memory,
        "results": results,
        "cpu_study": cpu_rows,
        "tables": tables,
    }
    (out / "gpu_report.json").write_text(json.dumps(report, indent=2, default=float) + "\n")
    print(f"\n{report['device']}, {seconds['total']:.0f} s (corpus {seconds['corpus']:.0f}, VQ-VAE "
          f"{seconds['vqvae']:.0f}, LM {seconds['lm']:.0f}, scoring {seconds['scoring']:.0f})\n")
    print(tables["throughput"])
    print(f"Seed {args.seed} on this device beside the CPU study's mean over its seeds "
          + (f"({cpu_path}):" if cpu_rows else f"(no CPU study at {cpu_path}: `make reproduce` writes it):"))
    print("\n" + tables["results"])
    return report


def parse_and_run(args: list[str] | None = None) -> dict:
    """Run from command-line style `args` (a config file first, flags after it override it)."""
    from .arguments import parse_arguments

    (gpu_args,) = parse_arguments((GPUReproduceArguments,), args)
    return run_gpu_study(gpu_args)


def main(args: list[str] | None = None) -> None:
    """Entry point: returns nothing, so a successful run exits 0."""
    parse_and_run(args)


if __name__ == "__main__":
    main()
