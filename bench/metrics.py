"""Time to score test windows with all the paper's metrics, and the share of each metric.

Windows are 240 frames (8 s at 30 fps) of seeded synthetic motion; the valence for L2 Affect
comes from a paper-size EmotionRecognizer (4 x 2048 hidden, random weights: only the time counts),
run on the generated and on the ground-truth motion of every window, as `score_predictions` does.

    .venv/bin/python bench/metrics.py [--windows 1000] [--frames 240]
"""

import argparse
import time

import numpy as np
import torch
from scipy import linalg
from threadpoolctl import ThreadpoolController

from mmlistener.data.synthetic import sample_identity_motion
from mmlistener.evaluation import (
    RecognizerValence,
    diversity,
    frechet_distance,
    l2,
    l2_affect,
    paired_frechet_distance,
    variation,
)
from mmlistener.modeling.configuration_emotion import EmotionRecognizerConfig
from mmlistener.modeling.modeling_emotion import EmotionRecognizer


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--windows", type=int, default=1000)
    parser.add_argument("--frames", type=int, default=240)
    args = parser.parse_args()

    torch.manual_seed(0)
    speaker = sample_identity_motion(args.windows, args.frames, seed=0)
    listener = sample_identity_motion(args.windows, args.frames, seed=1)
    generated = sample_identity_motion(args.windows, args.frames, seed=2)
    valence = RecognizerValence(EmotionRecognizer(EmotionRecognizerConfig()))

    metrics = {
        "l2": lambda pred, gt, spk, shape, i: l2(pred, gt),
        "fd": lambda pred, gt, spk, shape, i: frechet_distance(pred, gt),
        "p_fd": lambda pred, gt, spk, shape, i: paired_frechet_distance(pred, gt, spk),
        "variation": lambda pred, gt, spk, shape, i: variation(pred),
        "diversity": lambda pred, gt, spk, shape, i: diversity(pred, seed=i),
        "l2_affect (recogniser + metric)": lambda pred, gt, spk, shape, i: l2_affect(
            valence(pred, shape), valence(gt, shape)
        ),
    }
    for metric in metrics.values():  # warm-up: first-call costs (BLAS thread-pool lookup, torch kernels)
        metric(generated.motion[0], listener.motion[0], speaker.motion[0], listener.identity[0], 0)
    seconds = dict.fromkeys(metrics, 0.0)
    start = time.perf_counter()
    for i in range(args.windows):
        inputs = (generated.motion[i], listener.motion[i], speaker.motion[i], listener.identity[i], i)
        for name, metric in metrics.items():
            tic = time.perf_counter()
            metric(*inputs)
            seconds[name] += time.perf_counter() - tic
    total = time.perf_counter() - start

    print(f"scoring {args.windows} windows of {args.frames} frames x 56 dims, all metrics: {total:.2f} s")
    print(f"({1000 * total / args.windows:.2f} ms per window; torch threads: {torch.get_num_threads()})")
    print(f"{'metric':<34}{'seconds':>10}{'share':>9}{'ms/window':>12}")
    for name, value in seconds.items():
        print(f"{name:<34}{value:>10.2f}{100 * value / total:>8.1f}%{1000 * value / args.windows:>12.3f}")
    overhead = total - sum(seconds.values())
    print(f"{'loop overhead':<34}{overhead:>10.2f}{100 * overhead / total:>8.1f}%")
    compare_blas_threads(speaker.motion, listener.motion, generated.motion)


def compare_blas_threads(
    speaker: np.ndarray, listener: np.ndarray, generated: np.ndarray, repeats: int = 100
) -> None:
    """P-FD's sqrtm (112 x 112) with all BLAS threads vs the one thread the metrics use, side by side."""
    controller = ThreadpoolController()
    windows = [
        (np.cov(np.concatenate([s, g], 1), rowvar=False), np.cov(np.concatenate([s, gt], 1), rowvar=False))
        for s, g, gt in zip(speaker[:repeats], generated[:repeats], listener[:repeats])
    ]
    timings = {}
    for label, limit in (("default BLAS threads", None), ("one BLAS thread (used)", 1)):
        with controller.limit(limits=limit, user_api="blas"):
            tic = time.perf_counter()
            for sigma1, sigma2 in windows:
                linalg.sqrtm(sigma1 @ sigma2)
            timings[label] = (time.perf_counter() - tic) / len(windows)
    print(f"P-FD sqrtm over {len(windows)} windows, same run:")
    for label, value in timings.items():
        print(f"  {label:<24}{1000 * value:>9.3f} ms per window")
    print(
        f"  speed-up of one thread: x{timings['default BLAS threads'] / timings['one BLAS thread (used)']:.1f}"
    )


if __name__ == "__main__":
    main()
