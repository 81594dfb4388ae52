"""The per-group emotion rule: mean of per-frame class probabilities over a group, then argmax."""

import math

import numpy as np


def group_emotion_ids(frame_probabilities, group_size: int, num_groups: int | None = None) -> list[int]:
    """Emotion id of each group of `group_size` frames.

    Args:
        frame_probabilities (`np.ndarray` of shape `(frames, num_classes)`): per-frame class probabilities.
        group_size (`int`): frames per group (r).
        num_groups (`int`, *optional*): groups to return; defaults to `ceil(frames / group_size)` (a final
            partial group averages the frames it has).

    Returns:
        `list[int]` of length `num_groups`.
    """
    probabilities = np.asarray(frame_probabilities, dtype=np.float64)
    if probabilities.ndim != 2 or probabilities.shape[0] == 0:
        raise ValueError(f"frame_probabilities must be (frames, classes) with frames > 0, got {probabilities.shape}")
    frames = probabilities.shape[0]
    num_groups = math.ceil(frames / group_size) if num_groups is None else num_groups
    if num_groups <= 0 or not (num_groups - 1) * group_size < frames <= num_groups * group_size:
        raise ValueError(f"{frames} frames do not make {num_groups} groups of {group_size} frames")
    starts = np.arange(num_groups) * group_size
    sums = np.add.reduceat(probabilities, starts, axis=0)
    counts = np.minimum(starts + group_size, frames) - starts
    return (sums / counts[:, None]).argmax(axis=1).tolist()


__all__ = ["group_emotion_ids"]
