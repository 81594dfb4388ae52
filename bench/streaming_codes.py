"""Sliding-window SpeechTokenizer codes (`SlidingWindowCodes`) against offline encoding of the whole clip.

For each window length x right context (blocks of `--hop_seconds`), printed: the fraction of acoustic (level 2) and
content (level 1) codes that differ from `SpeechTokenizerCodes.encode` of the whole clip, the milliseconds per
window encode (p50 / p95 over the full-length windows), and that time as a fraction of the hop's duration (above
1, the stream falls behind real time), with the torch thread count and load average. Then why codes differ: how
far a cut of the audio changes the encoder's output on either side, and how small the codebooks' margins are.
Last, a proxy of what the differences do to the listener: in each window of a trained LM's token dataset, that
fraction of the acoustic codes is replaced by other random codes, and the fraction of greedy listener codes that
change against unperturbed generation is printed (and for `--fractions`, for scale). It is a proxy: the differing codes of the sliding window bunch at block edges
and are near misses of the offline codes, not uniform random codes; and the reproduce run's LM was trained on
synthetic acoustic codes, not SpeechTokenizer's.

The codec: SpeechTokenizer built from the architecture of the released `speechtokenizer_hubert_avg/config.json`
(`CONFIG`, its model fields: the values of `config/spt_base_cfg.json` of github.com/ZhangXInFD/SpeechTokenizer at
commit fe5a680; the released file itself is on the Hugging Face Hub, fnlp/SpeechTokenizer, not reachable here;
a third-party loader that checks the released file holds these same values) with random weights, as no weights
are available here. A trained encoder may differ in either direction (its LSTM may remember further back, its
latents may sit closer to or further from the decision boundaries of its codebooks): the fractions are
indicative only. A random model's codebooks are empty (k-means initialises them on the first training batch), so
they are fitted here by k-means on `--codebook_seconds` of synthetic voiced audio (not the clip): level 1 on
the encoder's latents, level 2 on the residuals.

The clip: `--audio` if given, else the speech recording shipped with gradio (`media_assets/audio/cate_blanch.mp3`,
7.9 s) when gradio is installed, else `--seconds` of synthetic voiced audio (a harmonic source with gliding pitch,
three formants per syllable, about four syllables a second, short pauses).

    .venv/bin/python bench/streaming_codes.py [--audio speech.wav] [--windows 0.6 1 2 4]
        [--right_contexts 0 0.1 0.2 0.4] [--hop_seconds 0.2667] [--threads 1] [--lm outputs/reproduce/seed_0/lm_stage2] [--skip_lm]
"""

import argparse
import importlib.util
import math
import os
import statistics
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from mmlistener.evaluation.tables import markdown_table
from mmlistener.modeling.constants import FPS, GROUP_SIZE
from mmlistener.processing import SpeechTokenizerCodes, load_audio
from mmlistener.processing.streaming_codes import HOP_SAMPLES, sliding_window_encode

SAMPLE_RATE = 16000
CONFIG = {  # the model fields of speechtokenizer_hubert_avg/config.json (see the docstring)
    "n_filters": 64,
    "strides": [8, 5, 4, 2],
    "dimension": 1024,
    "semantic_dimension": 768,
    "bidirectional": True,
    "dilation_base": 2,
    "residual_kernel_size": 3,
    "n_residual_layers": 1,
    "lstm_layers": 2,
    "activation": "ELU",
    "codebook_size": 1024,
    "n_q": 8,
    "sample_rate": SAMPLE_RATE,
}


def voiced_audio(seconds: float, seed: int) -> np.ndarray:
    """Speech-like 16 kHz audio `(samples,)`: syllables of a harmonic source (pitch 90-160 Hz, gliding) under three
    formants that change per syllable, a raised-sine envelope per syllable, a fifth of the syllables silent."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    syllable = (t * 4).astype(int)
    count = syllable[-1] + 1
    pitch = rng.uniform(90, 160, count)[syllable] * (1 + 0.08 * np.sin(2 * np.pi * 0.7 * t))
    formants = rng.uniform([300, 900, 2200], [800, 2000, 3000], (count, 3))[syllable]  # (samples, 3)
    envelope = np.sin(np.pi * (t * 4 % 1)) ** 2 * (rng.random(count) > 0.2)[syllable]
    phase = 2 * np.pi * np.cumsum(pitch) / SAMPLE_RATE
    audio = np.zeros_like(t)
    for harmonic in range(1, 40):
        frequency = harmonic * pitch
        gain = np.exp(-(((frequency[:, None] - formants) / 120) ** 2)).sum(1) / harmonic**0.5
        audio += gain * np.sin(harmonic * phase)
    audio = envelope * audio + 0.005 * rng.standard_normal(len(t))
    return (0.5 * audio / np.abs(audio).max()).astype(np.float32)


def bench_audio(path: str | None, seconds: float) -> tuple[np.ndarray, str]:
    """The clip `(samples,)` and where it comes from (see the docstring)."""
    if path is None:
        spec = importlib.util.find_spec("gradio")
        bundled = spec and Path(spec.origin).parent / "media_assets" / "audio" / "cate_blanch.mp3"
        path = str(bundled) if bundled and bundled.is_file() else None
    if path is None:
        return voiced_audio(seconds, seed=0), f"{seconds:g} s of synthetic voiced audio"
    return load_audio(path), path


@torch.no_grad()
def latents(codec, audio: np.ndarray) -> torch.Tensor:
    """The encoder's output `(codes, dimension)` for `audio` `(samples,)`."""
    return codec.model.encoder(torch.from_numpy(audio)[None, None])[0].T


def kmeans(points: torch.Tensor, clusters: int, iterations: int, generator: torch.Generator) -> torch.Tensor:
    """Lloyd's k-means of `points` `(n, dim)` (`n >= clusters`) from `clusters` distinct random points; an empty
    cluster keeps its mean. Returns the means `(clusters, dim)`."""
    if len(points) < clusters:
        raise ValueError(f"k-means of {clusters} clusters needs as many points, got {len(points)}: more audio")
    means = points[torch.randperm(len(points), generator=generator)[:clusters]]
    for _ in range(iterations):
        nearest = torch.cdist(points, means).argmin(1)
        sums = torch.zeros_like(means).index_add_(0, nearest, points)
        counts = torch.bincount(nearest, minlength=clusters)[:, None]
        means = torch.where(counts > 0, sums / counts.clamp(min=1), means)
    return means


@torch.no_grad()
def fit_codebooks(codec: SpeechTokenizerCodes, audio: np.ndarray, levels: int = 2, iterations: int = 10) -> None:
    """Set the first `levels` codebooks by k-means (as SpeechTokenizer initialises them) on the latents of `audio`
    `(samples,)`, 50 per second, and on their residuals after the levels before."""
    pieces = np.array_split(audio, max(1, len(audio) // (8 * SAMPLE_RATE)))  # 8 s at a time bounds the memory
    residual = torch.cat([latents(codec, piece) for piece in pieces])
    generator = torch.Generator().manual_seed(0)
    for layer in codec.model.quantizer.vq.layers[:levels]:
        means = kmeans(residual, layer.codebook_size, iterations, generator)
        layer._codebook.embed.copy_(means)
        layer._codebook.inited.fill_(1)
        residual = residual - means[torch.cdist(residual, means).argmin(1)]


class TimedCodec:
    """A codec whose encode times are kept by input length: `seconds[samples]` is a list of seconds."""

    def __init__(self, codec):
        self.codec = codec
        self.seconds = defaultdict(list)

    def encode(self, audio: np.ndarray):
        start = time.perf_counter()
        codes = self.codec.encode(audio)
        self.seconds[len(audio)].append(time.perf_counter() - start)
        return codes


@torch.no_grad()
def edge_effect(codec, audio: np.ndarray, distances=(0, 2, 5, 10, 20, 40)) -> dict:
    """How far the window's edges reach into the encoder's output: `{distance: (right, left)}`, the relative L2
    change of the latent `distance` codes before the end (after the start) of audio cut at its middle code, against
    the latent of the whole clip."""
    whole, middle = latents(codec, audio), len(audio) // HOP_SAMPLES // 2
    before, after = latents(codec, audio[: middle * HOP_SAMPLES]), latents(codec, audio[middle * HOP_SAMPLES :])
    effect = {}
    for distance in distances:
        right = before[middle - 1 - distance] - whole[middle - 1 - distance]
        left = after[distance] - whole[middle + distance]
        effect[distance] = (
            float(right.norm() / whole[middle - 1 - distance].norm()),
            float(left.norm() / whole[middle + distance].norm()),
        )
    return effect


@torch.no_grad()
def code_margins(codec, audio: np.ndarray) -> tuple[float, float]:
    """Levels 1 and 2: the median over frames of the gap between the distances to the nearest and the second
    nearest code, relative to the latent's norm (as `edge_effect`'s changes): a change of the latent by about half
    of it can change a code."""
    latent = latents(codec, audio)
    residual, margins = latent, []
    for layer in codec.model.quantizer.vq.layers[:2]:
        distances = torch.cdist(residual, layer._codebook.embed)
        nearest = distances.topk(2, largest=False).values
        margins.append(float(((nearest[:, 1] - nearest[:, 0]) / latent.norm(dim=1)).median()))
        residual = residual - layer._codebook.embed[distances.argmin(1)]
    return margins[0], margins[1]


def differing(codes: list[int], offline: list[int]) -> float:
    return float(np.mean(np.asarray(codes) != np.asarray(offline)))


def code_rows(codec, audio: np.ndarray, windows, right_contexts, hop: float) -> dict:
    """`{(window, right context): {"acoustic", "content", "p50", "p95"}}`: differing fractions, ms per encode."""
    offline_content, offline_acoustic = codec.encode(audio)
    results = {}
    for window in windows:
        for right in right_contexts:
            if round(window * 50) < math.ceil(hop * 50) + 1 + round(right * 50):  # too short for its blocks
                continue
            timed = TimedCodec(codec)
            content, acoustic = sliding_window_encode(timed, audio, hop, window, right)
            full = timed.seconds[round(window * 50) * HOP_SAMPLES]  # the windows that are not clipped at 0
            full = full or [seconds for times in timed.seconds.values() for seconds in times]
            results[window, right] = {
                "acoustic": differing(acoustic, offline_acoustic),
                "content": differing(content, offline_content),
                "p50": 1000 * float(np.percentile(full, 50)),
                "p95": 1000 * float(np.percentile(full, 95)),
            }
    return results


def perturbed(example: dict, fraction: float, rng: np.random.Generator) -> dict:
    """`example` with `fraction` of its acoustic codes (random positions) replaced by other random codes."""
    codes = np.asarray(example["acoustic_codes"])
    positions = rng.random(len(codes)) < fraction
    codes[positions] = (codes[positions] + rng.integers(1, 1024, positions.sum())) % 1024
    return {**example, "acoustic_codes": codes.tolist()}


@torch.no_grad()
def listener_codes(pipeline, examples: list[dict], batch_size: int = 8) -> list[list[int]]:
    """Greedy listener codes of each window, cut to its own groups."""
    codes = []
    for start in range(0, len(examples), batch_size):
        batch = examples[start : start + batch_size]
        own = pipeline.own_codes(pipeline.generate_codes(batch), batch, pipeline.processor.group_size)
        codes.extend(row.tolist() for row in own)
    return codes


def listener_changes(lm: str, vqvae: str, tokens: str, split: str, fractions, repeats: int) -> dict:
    """`{fraction: (mean, min, max)}` over `repeats` draws: the share of listener codes that change when that
    fraction of each window's acoustic codes is replaced."""
    from datasets import load_from_disk

    from mmlistener import IdentityVQVAE
    from mmlistener.runs import load_pipeline

    _, _, pipeline = load_pipeline(lm, IdentityVQVAE.from_pretrained(vqvae))
    examples = [dict(example) for example in load_from_disk(tokens)[split]]
    reference = np.concatenate(listener_codes(pipeline, examples))
    changes = {}
    for fraction in sorted(set(fractions) - {0.0}):
        draws = []
        for repeat in range(repeats):
            rng = np.random.default_rng(repeat)
            codes = listener_codes(pipeline, [perturbed(example, fraction, rng) for example in examples])
            draws.append(float(np.mean(np.concatenate(codes) != reference)))
        changes[fraction] = (statistics.mean(draws), min(draws), max(draws))
    return {0.0: (0.0, 0.0, 0.0), **changes}  # nothing replaced: generation is deterministic


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--audio", default=None, help="a speech file (default: see the docstring)")
    parser.add_argument("--seconds", type=float, default=8.0, help="length of the synthetic clip, without --audio")
    parser.add_argument("--windows", nargs="+", type=float, default=[0.6, 1.0, 2.0, 4.0], help="window_seconds")
    parser.add_argument("--right_contexts", nargs="+", type=float, default=[0.0, 0.1, 0.2, 0.4])
    parser.add_argument(
        "--hop_seconds", type=float, default=GROUP_SIZE / FPS, help="audio per block (default: one group, 8 / 30 s)"
    )
    parser.add_argument("--codebook_seconds", type=float, default=40.0, help="synthetic audio for the k-means")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random SpeechTokenizer weights")
    parser.add_argument("--lm", default="outputs/reproduce/seed_0/lm_stage2", help="a trained ListenerForCausalLM")
    parser.add_argument("--vqvae", default="outputs/reproduce/seed_0/vqvae", help="its IdentityVQVAE")
    parser.add_argument("--tokens", default="outputs/reproduce/seed_0/dataset_tokens", help="its token dataset")
    parser.add_argument("--split", default="test", help="split whose windows are perturbed")
    parser.add_argument("--repeats", type=int, default=2, help="random draws per perturbed fraction")
    parser.add_argument(
        "--fractions", nargs="+", type=float, default=[0.1, 1.0], help="more fractions to perturb, for scale"
    )
    parser.add_argument("--skip_lm", action="store_true", help="only the code table")
    return parser.parse_args()


def code_table(rows: dict, changes: dict, hop: float) -> str:
    """The markdown table of `code_rows`' results, with the proxy's column when `changes` has it."""
    headers = ["acoustic differ", "content differ", "ms / encode p50", "p95", "p95 / hop", "cost vs offline"]
    if changes:
        headers.append("listener codes changed (proxy)")
    table = {}
    for (window, right), row in rows.items():
        cells = [
            f"{row['acoustic']:.3f}",
            f"{row['content']:.3f}",
            f"{row['p50']:.0f}",
            f"{row['p95']:.0f}",
            f"{row['p95'] / (hop * 1000):.2f}",
            f"{window / hop:.1f}x",
        ]
        if changes:
            cells.append("{:.3f} ({:.3f}-{:.3f})".format(*changes[round(row["acoustic"], 3)]))
        table[f"{window:g} s / {right:g} s"] = cells
    return markdown_table("window / right context", headers, table)


def print_why(codec, audio: np.ndarray) -> None:
    """The edge effect and the code margins behind the table."""
    edges = {f"{distance}": [f"{right:.1e}", f"{left:.1e}"] for distance, (right, left) in edge_effect(codec, audio).items()}
    print("Why: the encoder's output near a cut of the clip at its middle, relative L2 change against the whole clip:")
    print(markdown_table("codes from the cut", ["before the cut (no right context)", "after it (no left context)"], edges))
    level1, level2 = code_margins(codec, audio)
    print(
        f"and how little it takes to change a code: the median gap between the distances to the nearest and second "
        f"nearest code, relative to the latent's norm, is {level1:.1e} (content) and {level2:.1e} (acoustic) with "
        "these random weights and codebooks."
    )


def main() -> None:
    args = arguments()
    torch.set_num_threads(args.threads)
    began, load = time.perf_counter(), os.getloadavg()[0]
    torch.manual_seed(args.seed)
    codec = SpeechTokenizerCodes.from_config(CONFIG)
    fit_codebooks(codec, voiced_audio(args.codebook_seconds, seed=1))
    audio, source = bench_audio(args.audio, args.seconds)
    rows = code_rows(codec, audio, args.windows, args.right_contexts, args.hop_seconds)
    changes = {}
    if not args.skip_lm:
        fractions = [round(row["acoustic"], 3) for row in rows.values()] + args.fractions
        changes = listener_changes(args.lm, args.vqvae, args.tokens, args.split, fractions, args.repeats)

    print(
        f"SpeechTokenizer (released architecture, random weights, seed {args.seed}; codebooks by k-means on "
        f"{args.codebook_seconds:g} s of synthetic voiced audio) on {source} ({len(audio) / SAMPLE_RATE:.2f} s, "
        f"{-(-len(audio) // HOP_SAMPLES)} codes); blocks of {1000 * args.hop_seconds:.1f} ms; torch "
        f"{torch.__version__}, {torch.get_num_threads()} thread(s), load average {load:.2f} at the start"
    )
    print(code_table(rows, changes, args.hop_seconds))
    print_why(codec, audio)
    if changes:
        print(
            f"Proxy: {args.lm} greedy on the {args.split} windows of {args.tokens}, that fraction of each window's "
            f"acoustic codes replaced by other random codes ({args.repeats} draws: mean (min-max)). For scale:"
        )
        scale = {f"{fraction:g}": ["{:.3f} ({:.3f}-{:.3f})".format(*changes[fraction])] for fraction in args.fractions}
        print(markdown_table("acoustic codes replaced", ["listener codes changed"], scale))
    print(f"{time.perf_counter() - began:.0f} s in all; load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
