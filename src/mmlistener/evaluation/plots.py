"""PNG plots: generated vs ground-truth listener motion (a few channels of a few windows), and training curves."""

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ..modeling.constants import FPS
from .scoring import as_motion

# (channel, label) of the 56-dim motion (REFERENCE §1 layout) drawn by default.
DEFAULT_CHANNELS = ((0, "expression 1"), (1, "expression 2"), (50, "head rotation x"), (53, "jaw rotation x"))
# The logged values of `TrainResult.log_history` that `plot_training_curves` draws.
CURVE_KEYS = ("train/loss", "eval/loss")


def _save(figure, path: str | Path) -> Path:
    """Lay out `figure`, write it as a PNG at `path` (parent folders created), close it; return the path."""
    import matplotlib.pyplot as plt

    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def plot_motion_comparison(
    predictions: Sequence[np.ndarray],
    examples: Sequence[dict],
    path: str | Path,
    title: str = "",
    num_windows: int = 3,
    channels: Sequence[tuple[int, str]] = DEFAULT_CHANNELS,
    fps: int = FPS,
) -> Path:
    """Draw generated (colour) against ground-truth (black) listener motion and save a PNG.

    One row per window (the first `num_windows`), one column per channel, time in seconds.

    Args:
        predictions (`list` of `np.ndarray` of shape `(T_i, 56)`): generated listener motion.
        examples (`list` of `dict`): the windows (their `listener_motion` is the ground truth).
        path (`str` or `Path`): where to write the PNG (parent folders are created).
        title (`str`): figure title, e.g. the system's name.
        num_windows (`int`): how many windows to draw.
        channels (`list` of `(int, str)`): motion channels to draw with their labels.
        fps (`int`): frame rate for the time axis.

    Returns:
        `Path` of the written file.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = min(num_windows, len(examples))
    if rows <= 0:
        raise ValueError("nothing to plot: no windows or num_windows <= 0")
    figure, axes = plt.subplots(rows, len(channels), figsize=(3.2 * len(channels), 2.2 * rows), squeeze=False)
    for row in range(rows):
        gt = as_motion(examples[row], "listener_motion")
        pred = np.asarray(predictions[row])
        time = np.arange(gt.shape[0]) / fps
        for column, (channel, label) in enumerate(channels):
            axis = axes[row, column]
            axis.plot(time, gt[:, channel], color="black", linewidth=1.0, label="ground truth")
            axis.plot(
                time[: pred.shape[0]], pred[:, channel], color="tab:orange", linewidth=1.0, label="generated"
            )
            if row == 0:
                axis.set_title(label, fontsize=9)
            if column == 0:
                axis.set_ylabel(f"window {row}", fontsize=9)
            if row == rows - 1:
                axis.set_xlabel("seconds", fontsize=9)
            axis.tick_params(labelsize=7)
    axes[0, -1].legend(fontsize=7, loc="upper right")
    if title:
        figure.suptitle(title, fontsize=10)
    return _save(figure, path)


def plot_training_curves(
    panels: Mapping[str, Mapping[str, Sequence[Mapping]]], path: str | Path, keys: Sequence[str] = CURVE_KEYS
) -> Path:
    """Draw training curves, one panel per group of runs, and save a PNG.

    Args:
        panels (`dict[str, dict[str, list[dict]]]`): panel title -> run name -> the run's `log_history` (the
            `TrainResult` records: `step` and logged values).
        path (`str` or `Path`): where to write the PNG (parent folders are created).
        keys (`list[str]`): logged values drawn per run: the training loss as a line, the validation loss as
            dots of the same colour.

    Returns:
        `Path` of the written file.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not panels or not all(panels.values()):
        raise ValueError("nothing to plot: no panels, or a panel without runs")
    figure, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.2), squeeze=False)
    for axis, (title, runs) in zip(axes[0], panels.items()):
        for index, (name, history) in enumerate(runs.items()):
            colour = f"C{index % 10}"
            for key, style in zip(keys, ("-", "o")):
                points = [(record["step"], record[key]) for record in history if key in record]
                if points:
                    steps, values = zip(*points)
                    axis.plot(steps, values, style, color=colour, markersize=4, linewidth=1.0,
                              label=f"{name} ({key})")
        axis.set_title(title, fontsize=9)
        axis.set_xlabel("step", fontsize=9)
        axis.set_ylabel("loss", fontsize=9)
        axis.tick_params(labelsize=7)
        axis.legend(fontsize=6)
    return _save(figure, path)


__all__ = ["CURVE_KEYS", "DEFAULT_CHANNELS", "plot_motion_comparison", "plot_training_curves"]
