"""Listening to long recordings: time and memory against the recording's length, and seams between windows.

For recordings of 1, 5 and 10 minutes, each in a fresh subprocess, the path of `mmlistener.listen` on
pre-extracted features (timed words, acoustic codes and emotion ids synthesised as data: no ASR, no
SpeechTokenizer): the processor over the whole recording as one clip and `ListenerForCausalLM.generate` with its
KV cache and sliding window (`recording_codes`), `decode_long` (overlapping 30-code VQ-VAE windows, overlap-add),
and `render_video` with the built-in head at a small size (an MP4 with the audio muxed in). Printed per length:
the seconds of each stage, the total, the real-time factor (seconds of work per second of recording), the
generation's milliseconds per group, and the child's peak resident memory (`getrusage`) after loading the models,
after listening and after rendering. Then the seam ratio (`mmlistener.evaluation.seam_ratio`: the mean
frame-to-frame change at the former 8-s window borders, t = k * 240 - 1, over the median change elsewhere) of the
continuous motion, of the former per-window decoding of the same codes (each 30-code window on its own), of the
continuous motion at its own decoder windows' edges (t = k * 120 - 1), and of one `vqvae.decode` of all the codes
at once (no windows, so no seam: the figure motion without seams reads). Then the torch threads and the load
average. Prints figures; asserts nothing.

The models are a small random listener LM (GPT-2, 2 layers, 1024 positions) and a small VQ-VAE trained for
`--vqvae_steps` steps on smooth synthetic motion (a random decoder's frames jump at every code, which hides
seams; a trained one's change little from frame to frame, as here), unless `--lm` and `--vqvae` name trained ones.

    OMP_NUM_THREADS=1 .venv/bin/python bench/listen_scaling.py [--minutes 1 5 10] [--size 64] [--threads 1]
        [--lm outputs/demo/lm_stage2 --vqvae outputs/demo/vqvae] [--vqvae_steps 100]
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
from transformers import GPT2Config

from mmlistener import (
    IdentityVQVAE,
    IdentityVQVAEConfig,
    ListenerConfig,
    ListenerForCausalLM,
    ListenerPipeline,
    ListenerProcessor,
)
from mmlistener.evaluation import seam_ratio
from mmlistener.evaluation.tables import markdown_table
from mmlistener.listen import recording_codes
from mmlistener.long_decoding import DEFAULT_WINDOW_CODES, decode_long
from mmlistener.processing import gpt2_tokenizer_from_tiktoken
from mmlistener.rendering import render_video

WINDOW_FRAMES, SAMPLE_RATE = 240, 16000
VOCABULARY = ("yeah", "so", "I", "think", "that", "the", "really", "was", "and", "then", "we", "went", "right")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def smooth_motion(rng: np.random.Generator, frames: int) -> np.ndarray:
    """Motion `(frames, 56)`: a slow sinusoid per value (0.1-0.6 Hz), as a listener's face moves."""
    t = np.arange(frames)[:, None] / 30
    frequency, phase, amplitude = rng.uniform(0.1, 0.6, 56), rng.uniform(0, 2 * np.pi, 56), rng.uniform(0.02, 0.2, 56)
    return (amplitude * np.sin(2 * np.pi * frequency * t + phase)).astype(np.float32)


def build_models(folder: str, vqvae_steps: int) -> tuple[str, str]:
    """Save the small random LM (with its processor) and the small VQ-VAE trained on smooth motion; their folders."""
    torch.manual_seed(0)
    tokenizer = gpt2_tokenizer_from_tiktoken()
    backbone = GPT2Config(vocab_size=len(tokenizer), n_layer=2, n_embd=32, n_head=2, n_positions=1024)
    config = ListenerConfig(backbone_config=backbone, num_listener_tokens=64)
    lm, vqvae_dir = os.path.join(folder, "lm"), os.path.join(folder, "vqvae")
    ListenerForCausalLM(config).save_pretrained(lm)
    ListenerProcessor.from_listener_config(tokenizer, config).save_pretrained(lm)
    vqvae = IdentityVQVAE(IdentityVQVAEConfig(hidden_size=32, codebook_dim=32, codebook_size=64, num_residual_layers=1))
    optimizer, rng = torch.optim.Adam(vqvae.parameters(), lr=5e-3), np.random.default_rng(0)
    for _ in range(vqvae_steps):
        motion = torch.from_numpy(np.stack([smooth_motion(rng, WINDOW_FRAMES) for _ in range(8)]))
        optimizer.zero_grad()
        vqvae(motion, identity=torch.randn(8, 100)).loss.backward()
        optimizer.step()
    vqvae.save_pretrained(vqvae_dir)
    return lm, vqvae_dir


def recording_features(processor, minutes: float, rng: np.random.Generator) -> dict:
    """The processor's inputs of a recording of `minutes` as one clip, as data: phrases of words 0.2-0.5 s long
    parted by pauses, codes at the processor's rate, an emotion id held for 2-6 s at a time."""
    frames = round(minutes * 60 * processor.fps)
    seconds = frames / processor.fps
    features = {"num_frames": frames}
    if "words" in processor.modalities:
        words, clock = [], 0.3
        while clock < seconds - 0.6:
            for _ in range(rng.integers(3, 12)):
                end = clock + rng.uniform(0.2, 0.5)
                if end > seconds:
                    break
                words.append({"text": str(rng.choice(VOCABULARY)), "start": clock, "end": end})
                clock = end + rng.uniform(0.02, 0.1)
            clock += rng.uniform(0.3, 1.5)
        features["words"] = words
    count = int(seconds * processor.acoustic_rate)
    for name, size in (("acoustic", processor.num_acoustic_tokens), ("content", processor.num_content_tokens)):
        if name in processor.modalities:
            features[f"{name}_codes"] = rng.integers(0, size, count).tolist()
    if "emotion" in processor.modalities:
        groups = processor.num_groups(frames)
        held = np.repeat(rng.integers(0, processor.num_emotion_tokens, groups), rng.integers(8, 23, groups))
        features["emotion_ids"] = held[:groups].tolist()
    return features


def per_window_motion(vqvae, codes: torch.LongTensor, identity: torch.FloatTensor) -> np.ndarray:
    """The former decoding: each window of `DEFAULT_WINDOW_CODES` codes on its own (a last one too short to decode
    joins the one before it), joined."""
    starts = list(range(0, codes.shape[1], DEFAULT_WINDOW_CODES))
    if len(starts) > 1 and codes.shape[1] - starts[-1] < vqvae.config.min_codes:
        starts.pop()
    ends = [*starts[1:], codes.shape[1]]
    windows = [vqvae.decode(codes[:, a:b], identity=identity).motion for a, b in zip(starts, ends)]
    return torch.cat(windows, dim=1)[0].numpy()


@torch.no_grad()
def child(args) -> None:
    """One length in this process; prints its figures as one JSON line."""
    torch.set_num_threads(args.threads)
    model, vqvae = ListenerForCausalLM.from_pretrained(args.lm), IdentityVQVAE.from_pretrained(args.vqvae)
    pipeline = ListenerPipeline(model, ListenerProcessor.from_pretrained(args.lm), vqvae)
    processor, loaded = pipeline.processor, peak_rss_mb()
    rng = np.random.default_rng(0)
    features = recording_features(processor, args.child, rng)
    identity = torch.from_numpy(rng.standard_normal((1, 100)).astype(np.float32))
    frames = features["num_frames"]
    audio = 0.1 * np.sin(2 * np.pi * 180 * np.arange(frames * SAMPLE_RATE // processor.fps) / SAMPLE_RATE)
    figures = {"minutes": args.child, "frames": frames, "groups": processor.num_groups(frames), "rss_loaded": loaded}
    started = time.perf_counter()
    codes = recording_codes(pipeline, features)
    generated = time.perf_counter()
    motion = decode_long(vqvae, codes, identity, WINDOW_FRAMES // processor.group_size)[0, :frames].numpy()
    decoded = time.perf_counter()
    figures["rss_listened"] = peak_rss_mb()
    with tempfile.TemporaryDirectory() as folder:
        render_video(motion, os.path.join(folder, "listener.mp4"), audio=audio.astype(np.float32),
                     sampling_rate=SAMPLE_RATE, identity=identity[0].numpy(), size=args.size)  # fmt: skip
    rendered = time.perf_counter()
    figures |= {
        "generation_s": generated - started, "decoding_s": decoded - generated, "rendering_s": rendered - decoded,
        "rss_rendered": peak_rss_mb(),
        "seam_new": seam_ratio(motion, WINDOW_FRAMES),
        "seam_old": seam_ratio(per_window_motion(vqvae, codes, identity)[:frames], WINDOW_FRAMES),
        "seam_new_edges": seam_ratio(motion, WINDOW_FRAMES // 2),
        "seam_one_decode": seam_ratio(vqvae.decode(codes, identity=identity).motion[0, :frames].numpy(), WINDOW_FRAMES),
    }  # fmt: skip
    print(json.dumps(figures))


def measure(args, minutes: float) -> dict:
    """Run one length in a fresh interpreter; its figures."""
    command = [sys.executable, os.path.abspath(__file__), "--child", str(minutes), "--lm", args.lm, "--vqvae",
               args.vqvae, "--size", str(args.size), "--threads", str(args.threads)]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode:
        raise RuntimeError(f"the {minutes}-minute run failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def report(results: list[dict]) -> None:
    """The time and memory table, then the seam table."""
    rows, seams = {}, {}
    for r in results:
        name = f"{r['minutes']:g} min ({r['frames']} frames, {r['groups']} groups)"
        total = r["generation_s"] + r["decoding_s"] + r["rendering_s"]
        rows[name] = [f"{r['generation_s']:.1f}", f"{r['decoding_s']:.2f}", f"{r['rendering_s']:.1f}", f"{total:.1f}",
                      f"{total / (r['frames'] / 30):.3f}", f"{1000 * r['generation_s'] / r['groups']:.2f}",
                      f"{r['rss_loaded']:.0f} / {r['rss_listened']:.0f} / {r['rss_rendered']:.0f}"]  # fmt: skip
        seams[name] = [f"{r[key]:.2f}" for key in ("seam_new", "seam_old", "seam_new_edges", "seam_one_decode")]
    headers = ["generation (s)", "decoding (s)", "rendering (s)", "total (s)", "real-time factor",
               "generation (ms/group)", "peak RSS (MiB): loaded / listened / rendered"]  # fmt: skip
    print(markdown_table("recording", headers, rows))
    headers = ["continuous, former borders", "per-window (former), its borders",
               "continuous, its windows' edges", "one decode, no windows"]  # fmt: skip
    print(markdown_table("seam ratio", headers, seams))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", nargs="+", type=float, default=[1, 5, 10], help="recording lengths")
    parser.add_argument("--lm", default=None, help="a trained ListenerForCausalLM folder (with its processor)")
    parser.add_argument("--vqvae", default=None, help="a trained IdentityVQVAE folder")
    parser.add_argument("--vqvae_steps", type=int, default=100, help="training steps of the small VQ-VAE")
    parser.add_argument("--size", type=int, default=64, help="pixels per side of the rendered head")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of each run")
    parser.add_argument("--child", type=float, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        return child(args)
    if (args.lm is None) != (args.vqvae is None):
        parser.error("give both --lm and --vqvae, or neither (small models are built)")
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as folder:
        if args.lm is None:
            args.lm, args.vqvae = build_models(folder, args.vqvae_steps)
            print(f"models: a random GPT-2 listener (2 layers, 32 wide, 1024 positions) and a VQ-VAE (32 wide) trained "
                  f"{args.vqvae_steps} steps on smooth motion")  # fmt: skip
        else:
            print(f"models: {args.lm}, {args.vqvae}")
        results = [measure(args, minutes) for minutes in args.minutes]
    print(f"rendering: built-in head, {args.size}x{args.size}, audio muxed\n")
    report(results)
    print(f"threads: torch {args.threads} per run, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}; "
          f"{os.cpu_count()} cpus; load average (1 min) {load[0]:.2f} before, "
          f"{os.getloadavg()[0]:.2f} after")  # fmt: skip


if __name__ == "__main__":
    main()
