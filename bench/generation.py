"""ListenerForCausalLM generation speed: cached interleaved generation against full recompute, fp32 and int8 paths.

A GPT-2-Medium-sized random backbone (24 layers, 1024 hidden, 16 heads, 50,257 text tokens) reads one
8-second segment built by the ListenerProcessor from realistic features: ~25 words, 400 acoustic codes
(50 Hz), 30 emotion ids, history words, i.e. 30 groups with their special tokens. Printed in one run, per
model: per-group step latency (p50 / p95 / max) of the cached path against the real-time budget of one
listener token per 8 frames at 30 fps (266.7 ms); cached generation time of the clip; full-recompute time
(`use_cache=False`) and the ratio; weight memory. With `--quantization METHOD ...` the same run builds the float
model and one int8 copy per method and alternates their cached runs, so that all see the same machine load:

- `int8`: the package's path, `quantize_backbone(..., "int8")` (torch.ao's dynamic int8 linear layers, fbgemm);
- `torchao-int8`: torchao's `Int8DynamicActivationInt8WeightConfig` through `torchao.quantization.quantize_` on
  the same linear layers (int8 weights and per-token int8 activations; what `TorchAoConfig("int8_dynamic_activation_
  int8_weight")` applies in transformers), eager as generation runs;
- `torchao-int8-weight-only`: torchao's `Int8WeightOnlyConfig` (int8 weights, float activations).

For each it prints the step p50 against float32's and the fraction of its greedy codes equal to the float codes,
as information only: random weights give near-tied logits that flip easily (`bench/quantization_agreement.py`
measures agreement on a trained model). Then peak resident memory, torch threads and the machine's load average.
Prints figures; asserts nothing. The torchao methods need `pip install "mmlistener[torchao]"`.

    .venv/bin/python bench/generation.py [--quantization int8 torchao-int8 torchao-int8-weight-only] [--layers 24]
        [--hidden 1024] [--repeats 3] [--threads 1]
"""

import argparse
import copy
import os
import resource
import statistics
import time

import numpy as np
import torch
from transformers import GPT2Config

from mmlistener import ListenerConfig, ListenerForCausalLM, ListenerProcessor
from mmlistener.modeling import quantize_backbone
from mmlistener.modeling.constants import FPS, GROUP_SIZE
from mmlistener.modeling.quantization import conv1d_to_linear
from mmlistener.processing import gpt2_tokenizer_from_tiktoken

SECONDS = 8
BUDGET_MS = 1000 * GROUP_SIZE / FPS
TORCHAO_CONFIGS = {
    "torchao-int8": "Int8DynamicActivationInt8WeightConfig",
    "torchao-int8-weight-only": "Int8WeightOnlyConfig",
}
QUANTIZATIONS = ("int8", *TORCHAO_CONFIGS)


def segment(rng: np.random.Generator) -> dict:
    """Features of one 8-second window: 25 words, 400 acoustic codes, 30 emotion ids, 3 history words."""
    vocabulary = ["yeah", "so", "I", "think", "that", "really", "works", "you", "know", "right", "because"]
    ends = np.sort(rng.uniform(0.1, SECONDS, size=25))
    return {
        "words": [{"text": str(rng.choice(vocabulary)), "start": float(e - 0.2), "end": float(e)} for e in ends],
        "history_words": [{"text": w, "start": -1.5 + i * 0.4, "end": -1.3 + i * 0.4} for i, w in enumerate("and so then".split())],
        "acoustic_codes": rng.integers(0, 1024, size=SECONDS * 50).tolist(),
        "emotion_ids": rng.integers(0, 8, size=SECONDS * FPS // GROUP_SIZE).tolist(),
        "num_frames": SECONDS * FPS,
    }


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def quantized_copy(model: ListenerForCausalLM, method: str) -> ListenerForCausalLM:
    """An int8 copy of the float `model` by `method` (one of `QUANTIZATIONS`): the blocks' linear layers."""
    model = copy.deepcopy(model)
    if method == "int8":
        return quantize_backbone(model, "int8")
    try:
        from torchao import quantization
    except ImportError as error:
        raise SystemExit(f"--quantization {method} needs torchao: pip install 'mmlistener[torchao]'") from error
    base = model.backbone.base_model  # the blocks, as quantize_backbone takes them (GPT-2's Conv1D made Linear)
    conv1d_to_linear(base)
    quantization.quantize_(base, getattr(quantization, TORCHAO_CONFIGS[method])())
    return model.eval()


def weights_mb(model: torch.nn.Module) -> float:
    """Parameters and buffers (torchao's int8 tensors count their int8 data and scales), plus the packed weights of
    torch.ao's int8 linear layers (not parameters), in MB."""
    tensors = list(model.parameters()) + list(model.buffers())
    tensors += [m.weight() for m in model.modules() if isinstance(m, torch.ao.nn.quantized.dynamic.Linear)]
    return sum(tensor_bytes(t) for t in tensors) / 2**20


def tensor_bytes(tensor: torch.Tensor) -> int:
    """Bytes of `tensor`; a tensor subclass (torchao's int8 weights) counts the plain tensors it is made of."""
    if hasattr(tensor, "__tensor_flatten__") and type(tensor) is not torch.nn.Parameter:
        names, _ = tensor.__tensor_flatten__()
        return sum(tensor_bytes(getattr(tensor, name)) for name in names)
    return tensor.numel() * tensor.element_size()


def cached_run(model: ListenerForCausalLM, batch: dict) -> tuple[float, list[float], torch.LongTensor]:
    """One cached generation of the clip: its seconds, each group's step in ms, the codes `(1, groups)`."""
    started = last = time.perf_counter()
    steps_ms, codes = [], []
    for step in model.generate_steps(**batch):
        now = time.perf_counter()
        steps_ms.append(1000 * (now - last))
        last = now
        codes.append(step)
    return now - started, steps_ms, torch.stack(codes, 1)


def measure(models: dict[str, ListenerForCausalLM], batch: dict, repeats: int) -> dict[str, dict]:
    """Per model: cached runs alternating between the models (same load for all), then one full recompute."""
    results = {name: {"clip_s": [], "steps_ms": []} for name in models}
    with torch.inference_mode():
        for model in models.values():
            model.generate(**batch)  # warm-up
        for _ in range(repeats):
            for name, model in models.items():
                seconds, steps_ms, codes = cached_run(model, batch)
                results[name]["clip_s"].append(seconds)
                results[name]["steps_ms"] += steps_ms
                results[name]["codes"] = codes
        for name, model in models.items():
            started = time.perf_counter()
            results[name]["recomputed"] = model.generate(**batch, use_cache=False)
            results[name]["recompute_s"] = time.perf_counter() - started
    return results


def report(results: dict[str, dict], models: dict[str, ListenerForCausalLM], repeats: int) -> None:
    """One column per model: step latency, clip time, recompute time and ratio, weight memory."""
    names = list(results)
    rows = {
        "per-group step p50 (ms)": [np.percentile(r["steps_ms"], 50) for r in results.values()],
        "per-group step p95 (ms)": [np.percentile(r["steps_ms"], 95) for r in results.values()],
        "per-group step max (ms)": [max(r["steps_ms"]) for r in results.values()],
        f"cached clip (s, median of {repeats})": [statistics.median(r["clip_s"]) for r in results.values()],
        "full recompute (s)": [r["recompute_s"] for r in results.values()],
        "ratio recompute/cached (x)": [r["recompute_s"] / statistics.median(r["clip_s"]) for r in results.values()],
        "weights (MB)": [weights_mb(model) for model in models.values()],
    }
    widths = [max(10, len(name) + 2) for name in names]
    print(f"{'':34s}" + "".join(f"{name:>{width}s}" for name, width in zip(names, widths)))
    for label, values in rows.items():
        print(f"{label:34s}" + "".join(f"{value:{width}.1f}" for value, width in zip(values, widths)))
    same = [str(torch.equal(r["codes"], r["recomputed"])) for r in results.values()]
    print(f"{'cached codes == recompute codes':34s}" + "".join(f"{value:>{width}s}" for value, width in zip(same, widths)))
    print(f"real-time budget per group: {BUDGET_MS:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layers", type=int, default=24)
    parser.add_argument("--hidden", type=int, default=1024)
    parser.add_argument("--heads", type=int, default=16)
    parser.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32", help="weights and activations")
    parser.add_argument(
        "--quantization",
        nargs="*",
        choices=QUANTIZATIONS,
        default=[],
        help="also build an int8 copy of the float32 model per method and measure all side by side in this run",
    )
    parser.add_argument("--repeats", type=int, default=3, help="cached runs per model (the recompute path runs once)")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads; 1 by default: on a machine shared with other jobs, intra-op threads that wait for "
        "each other make small per-group ops far slower (run with --threads 2 to see it)",
    )
    args = parser.parse_args()
    if args.quantization and args.dtype != "float32":
        parser.error("--quantization quantizes a float32 model: drop --dtype")
    torch.set_num_threads(args.threads)

    tokenizer = gpt2_tokenizer_from_tiktoken()
    backbone = GPT2Config(vocab_size=len(tokenizer), n_layer=args.layers, n_embd=args.hidden, n_head=args.heads)
    config = ListenerConfig(backbone_config=backbone)
    torch.manual_seed(0)
    started = time.perf_counter()
    models = {args.dtype: ListenerForCausalLM(config).to(getattr(torch, args.dtype)).eval()}
    build_s = time.perf_counter() - started
    rss_model = peak_rss_mb()
    for method in args.quantization:
        started = time.perf_counter()
        models[method] = quantized_copy(models[args.dtype], method)
        print(f"{method} copy quantized in {time.perf_counter() - started:.1f} s")
    processor = ListenerProcessor.from_listener_config(tokenizer, config)
    batch = processor(**segment(np.random.default_rng(0)), return_tensors="pt")
    batch = {key: value for key, value in batch.items() if key != "labels"}
    length, groups = batch["input_ids"].shape[1], int(batch["listener_slot_mask"].sum())
    parameters = sum(p.numel() for p in models[args.dtype].parameters()) / 1e6
    print(f"backbone: {args.layers} layers, {args.hidden} hidden, {parameters:.0f} M parameters (built in {build_s:.1f} s)")
    print(
        f"segment: {length} tokens, {groups} groups; torch threads: {torch.get_num_threads()}; "
        f"load average before: {os.getloadavg()[0]:.2f}"
    )

    results = measure(models, batch, args.repeats)
    report(results, models, args.repeats)
    reference = results[args.dtype]
    for method in args.quantization:
        fast = results[method]
        speedup = np.percentile(reference["steps_ms"], 50) / np.percentile(fast["steps_ms"], 50)
        over_recompute = reference["recompute_s"] / statistics.median(fast["clip_s"])
        agree = int((fast["codes"] == reference["codes"]).sum())
        print(
            f"{method}: step p50 {speedup:.2f}x float32's speed; float32 recompute / cached clip {over_recompute:.1f}x; "
            f"greedy codes equal to float32's {agree}/{groups} ({agree / groups:.3f}; information only: random "
            "weights, near-tied logits; bench/quantization_agreement.py measures a trained model)"
        )
    cache_mb = 2 * args.layers * length * args.hidden * getattr(torch, args.dtype).itemsize / 2**20
    print(
        f"peak RSS: {rss_model:.0f} MB after building the model, {peak_rss_mb():.0f} MB at the end "
        f"(all models; KV cache of the whole segment: {cache_mb:.0f} MB per model)"
    )
    print(f"load average after: {os.getloadavg()[0]:.2f} (other jobs on this machine slow every figure)")


if __name__ == "__main__":
    main()
