"""Seams in long motion: does the motion jump where decoding windows meet?

A recording decoded window after window (each window on its own) jumps at every border: the listener's head
twitches there. `seam_ratio` compares the frame-to-frame change at the borders with the change elsewhere; about 1
means the borders cannot be told apart from any other frame.
"""

import numpy as np


def frame_changes(motion) -> np.ndarray:
    """`|m[t+1] - m[t]|` (L2 over the dims) of `motion (frames, dims)`: shape `(frames - 1,)`."""
    motion = np.asarray(motion, dtype=np.float64)
    if motion.ndim != 2:
        raise ValueError(f"motion must have shape (frames, dims), got {motion.shape}")
    return np.linalg.norm(np.diff(motion, axis=0), axis=1)


def seam_ratio(motion, period: int) -> float:
    """Mean change at the borders of windows of `period` frames over the median change elsewhere.

    Changes are skewed to the right (their mean exceeds their median), so motion without any seam reads a little
    above 1 (1.1-1.4 on the tiny models of the tests); a seam reads several times that.

    Args:
        motion (`np.ndarray` of shape `(frames, dims)`): more than `period + 1` frames.
        period (`int`): frames per window; border `k` is the change from frame `k * period - 1` to `k * period`.

    Returns:
        `float`: `mean(changes at t = k * period - 1) / median(changes at every other t)`.
    """
    changes = frame_changes(motion)
    if period <= 0 or len(changes) <= period:
        raise ValueError(f"seam_ratio needs a positive period and more than period + 1 = {period + 1} frames, "
                         f"got period {period} and {len(changes) + 1} frames")  # fmt: skip
    borders = np.zeros(len(changes), dtype=bool)
    borders[period - 1 :: period] = True
    return float(changes[borders].mean() / np.median(changes[~borders]))


__all__ = ["frame_changes", "seam_ratio"]
