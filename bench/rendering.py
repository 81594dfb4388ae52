"""Rendering speed: an 8-second clip (240 frames at 30 fps) of listener motion to an MP4 at 256 x 256.

Times the whole `render_video` call (posing the head, rasterizing every frame, H.264 + AAC encoding with
the speaker's audio muxed in) and, separately, posing and rasterizing alone. The motion nods, smiles and
opens the jaw. Prints frames per second, total seconds, the thread counts of torch and numpy's BLAS and the
machine's load average. Prints figures; asserts nothing. The target: under 10 s on 2 cores.

    .venv/bin/python bench/rendering.py [--seconds 8] [--size 256] [--panels 1] [--head builtin]
                                        [--flame_model PATH] [--repeats 3]
"""

import argparse
import os
import statistics
import tempfile
import time

import numpy as np
import torch
from threadpoolctl import threadpool_info

from mmlistener.rendering import Panel, load_head, rasterize, render_video
from mmlistener.rendering.rasterizer import Framing

FPS, SAMPLE_RATE = 30, 16000


def clip_motion(frames: int) -> np.ndarray:
    """Motion `(frames, 56)`: a 0.15 rad nod at 1 Hz, a slow smile, jaw opening at 4 Hz."""
    t = np.arange(frames) / FPS
    motion = np.zeros((frames, 56))
    motion[:, 50] = 0.15 * np.sin(2 * np.pi * t)
    motion[:, 1] = 1.5 * np.sin(0.5 * np.pi * t) ** 2
    motion[:, 53] = 0.1 * (1 + np.sin(2 * np.pi * 4 * t))
    return motion


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--panels", type=int, default=1, help="listener panels side by side")
    parser.add_argument("--head", default="builtin", choices=["builtin", "flame"])
    parser.add_argument("--flame_model", default=None)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    head = load_head(args.head, args.flame_model)
    frames = int(args.seconds * FPS)
    motion = clip_motion(frames)
    audio = (0.2 * np.sin(2 * np.pi * 180 * np.arange(int(args.seconds * SAMPLE_RATE)) / SAMPLE_RATE)).astype(np.float32)
    panels = [Panel(motion, label=f"listener {i}" if args.panels > 1 else "") for i in range(args.panels)]

    totals, posing, drawing = [], [], []
    with tempfile.TemporaryDirectory() as folder:
        for repeat in range(args.repeats):
            start = time.perf_counter()
            render_video(panels, os.path.join(folder, f"{repeat}.mp4"), audio=audio, sampling_rate=SAMPLE_RATE,
                         size=args.size, head=head)  # fmt: skip
            totals.append(time.perf_counter() - start)
        start = time.perf_counter()
        meshes = head.vertices(motion)
        posing.append(time.perf_counter() - start)
        framing = Framing.fit(head.vertices(motion[:1] * 0)[0], args.size)
        start = time.perf_counter()
        for mesh in meshes:
            rasterize(mesh, head.faces, head.face_colors, framing)
        drawing.append(time.perf_counter() - start)

    total = statistics.median(totals)
    blas = sorted({(info["internal_api"], info["num_threads"]) for info in threadpool_info()})
    print(f"head: {head.name} ({len(head.template)} vertices, {len(head.faces)} faces); {frames} frames, "
          f"{args.panels} panel(s) of {args.size}x{args.size}, audio muxed")  # fmt: skip
    print(f"render_video: {total:.2f} s total (median of {args.repeats}: "
          f"{', '.join(f'{t:.2f}' for t in totals)}), {frames / total:.1f} frames/s")  # fmt: skip
    print(f"  posing the head: {posing[0]:.2f} s; rasterizing one panel: {drawing[0]:.2f} s "
          f"({1000 * drawing[0] / frames:.1f} ms/frame)")  # fmt: skip
    print(f"threads: torch {torch.get_num_threads()}, numpy BLAS {blas}, OMP_NUM_THREADS="
          f"{os.environ.get('OMP_NUM_THREADS', 'unset')}; cpus {os.cpu_count()}")  # fmt: skip
    print(f"load average (1, 5, 15 min): {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
