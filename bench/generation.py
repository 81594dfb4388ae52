"""ListenerForCausalLM generation speed: cached interleaved generation against full recompute.

A GPT-2-Medium-sized random backbone (24 layers, 1024 hidden, 16 heads, 50,257 text tokens) reads one
8-second segment built by the ListenerProcessor from realistic features: ~25 words, 400 acoustic codes
(50 Hz), 30 emotion ids, history words, i.e. 30 groups with their special tokens. Printed in one run:
cached generation time, full-recompute time (`use_cache=False`) and their ratio; per-group step latency
(p50 / p95) of the cached path against the real-time budget of one listener token per 8 frames at 30 fps
(266.7 ms); peak resident memory; the machine's load average. Prints figures; asserts nothing.

    .venv/bin/python bench/generation.py [--layers 24] [--hidden 1024] [--repeats 3] [--threads 1]
"""

import argparse
import os
import resource
import statistics
import time

import numpy as np
import torch
from transformers import GPT2Config

from mmlistener import ListenerConfig, ListenerForCausalLM, ListenerProcessor
from mmlistener.processing import gpt2_tokenizer_from_tiktoken

FPS, SECONDS, GROUP = 30, 8, 8
BUDGET_MS = 1000 * GROUP / FPS


def segment(rng: np.random.Generator) -> dict:
    """Features of one 8-second window: 25 words, 400 acoustic codes, 30 emotion ids, 3 history words."""
    vocabulary = ["yeah", "so", "I", "think", "that", "really", "works", "you", "know", "right", "because"]
    ends = np.sort(rng.uniform(0.1, SECONDS, size=25))
    return {
        "words": [{"text": str(rng.choice(vocabulary)), "start": float(e - 0.2), "end": float(e)} for e in ends],
        "history_words": [{"text": w, "start": -1.5 + i * 0.4, "end": -1.3 + i * 0.4} for i, w in enumerate("and so then".split())],
        "acoustic_codes": rng.integers(0, 1024, size=SECONDS * 50).tolist(),
        "emotion_ids": rng.integers(0, 8, size=SECONDS * FPS // GROUP).tolist(),
        "num_frames": SECONDS * FPS,
    }


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layers", type=int, default=24)
    parser.add_argument("--hidden", type=int, default=1024)
    parser.add_argument("--heads", type=int, default=16)
    parser.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32", help="weights and activations")
    parser.add_argument("--repeats", type=int, default=3, help="cached runs (the recompute path runs once)")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads; 1 by default: on a machine shared with other jobs, intra-op threads that wait for "
        "each other make small per-group ops far slower (run with --threads 2 to see it)",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    tokenizer = gpt2_tokenizer_from_tiktoken()
    backbone = GPT2Config(vocab_size=len(tokenizer), n_layer=args.layers, n_embd=args.hidden, n_head=args.heads)
    config = ListenerConfig(backbone_config=backbone)
    torch.manual_seed(0)
    started = time.perf_counter()
    model = ListenerForCausalLM(config).to(getattr(torch, args.dtype)).eval()
    build_s = time.perf_counter() - started
    rss_model = peak_rss_mb()
    processor = ListenerProcessor.from_listener_config(tokenizer, config)
    batch = processor(**segment(np.random.default_rng(0)), return_tensors="pt")
    batch = {key: value for key, value in batch.items() if key != "labels"}
    length, groups = batch["input_ids"].shape[1], int(batch["listener_slot_mask"].sum())
    print(f"backbone: {args.layers} layers, {args.hidden} hidden, {sum(p.numel() for p in model.parameters()) / 1e6:.0f} M parameters (built in {build_s:.1f} s)")
    print(
        f"segment: {length} tokens, {groups} groups; {args.dtype}; torch threads: {args.threads}; "
        f"load average before: {os.getloadavg()[0]:.2f}"
    )

    with torch.inference_mode():
        model.generate(**batch)  # warm-up
        cached_times, steps_ms = [], []
        for _ in range(args.repeats):
            started = time.perf_counter()
            last = started
            codes = []
            for step in model.generate_steps(**batch):
                now = time.perf_counter()
                steps_ms.append(1000 * (now - last))
                last = now
                codes.append(step)
            cached_times.append(now - started)
        rss_cached = peak_rss_mb()
        started = time.perf_counter()
        recomputed = model.generate(**batch, use_cache=False)
        recompute_s = time.perf_counter() - started
    cached_s = statistics.median(cached_times)
    same = torch.equal(torch.stack(codes, 1), recomputed)
    p50, p95 = np.percentile(steps_ms, [50, 95])
    print(f"cached generation:       {cached_s:8.2f} s (median of {args.repeats})")
    print(f"full recompute:          {recompute_s:8.2f} s")
    print(f"ratio recompute/cached:  {recompute_s / cached_s:8.1f} x   (codes identical: {same})")
    print(f"per-group step latency:  p50 {p50:7.1f} ms, p95 {p95:7.1f} ms, max {max(steps_ms):7.1f} ms (real-time budget {BUDGET_MS:.1f} ms)")
    cache_mb = 2 * args.layers * length * args.hidden * model.dtype.itemsize / 2**20
    print(
        f"peak RSS: {rss_model:.0f} MB after building the model, {rss_cached:.0f} MB after cached generation, "
        f"{peak_rss_mb():.0f} MB after recompute (KV cache of the whole segment: {cache_mb:.0f} MB)"
    )
    print(f"load average after: {os.getloadavg()[0]:.2f} (other jobs on this machine slow every figure)")


if __name__ == "__main__":
    main()
