"""Per-group speaker streams: acoustic / content codes and emotion ids checked and cut into groups of frames.

A clip of `num_frames` frames is cut into groups of `group_size` frames (group `g` covers frames
`[group_size * g, group_size * (g + 1))`). Code `k` of a stream at `rate` codes per second covers
`[k, k + 1) / rate` seconds and, like a word, enters the group holding frame `ceil(end * fps)`.
"""

import numpy as np

from .constants import MOTION_DIM


def as_ids(values, name: str) -> np.ndarray:
    """`values` (a flat list of integers, or of floats with whole values) as int64 `(n,)`; a ValueError naming
    `name` otherwise."""
    try:
        ids = np.asarray([] if values is None else values)
    except ValueError as error:  # ragged nesting
        raise ValueError(f"{name} must be a flat list of integers: {error}") from None
    if ids.ndim != 1:
        raise ValueError(f"{name} must be a flat list of integers, got shape {ids.shape}")
    whole_floats = ids.dtype.kind == "f" and np.isfinite(ids).all() and (ids == np.round(ids)).all()
    if len(ids) and ids.dtype.kind not in "iu" and not whole_floats:
        raise ValueError(f"{name} must be integers, got {ids.dtype} values such as {ids[0]!r}")
    return ids.astype(np.int64)


def checked_motion(motion) -> np.ndarray:
    """`speaker_motion` as float32 `(T, MOTION_DIM)` with `T > 0` and finite values, or a ValueError saying what is wrong."""
    try:
        motion = np.asarray(motion, dtype=np.float32)
    except (TypeError, ValueError) as error:
        raise ValueError(f"speaker_motion must be numbers of shape (T, {MOTION_DIM}): {error}") from None
    if motion.ndim != 2 or len(motion) == 0 or motion.shape[1] != MOTION_DIM:
        raise ValueError(
            f"speaker_motion must have shape (T, {MOTION_DIM}) with T > 0 (FLAME expression 50, head rotation 3, "
            f"jaw 3 per frame), got {motion.shape}"
        )
    if not np.isfinite(motion).all():
        raise ValueError("speaker_motion contains NaN or infinite values")
    return motion


def code_frames(indices, fps: int, rate: int):
    """The frame each code enters: code `k` covers `[k, k + 1) / rate` seconds and, like a word, enters frame
    `ceil((k + 1) * fps / rate)`, the first frame that starts once it is complete (no stream looks ahead of
    another). `indices` is an `int` or an integer array; exact integer arithmetic."""
    return -((-(indices + 1) * fps) // rate)


def group_codes(
    codes, name: str, size: int, num_frames: int, num_groups: int, fps: int, group_size: int, rate: int
) -> list[np.ndarray]:
    """The codes of each group, `num_groups` arrays of codes in `[0, size)`; none given (or `[]`): empty groups.

    Args:
        codes (`list[int]`, *optional*): the stream `name` (`"acoustic_codes"`, `"content_codes"`) from the first
            frame at `rate` codes per second.
        size (`int`): codes of the stream's codebook.

    A count farther than one group's worth from the clip's (`num_frames / fps * rate`) is an error: codes at
    another rate or from another clip. Codes past the clip (within that margin) are dropped.
    """
    codes = as_ids(codes, name)
    if len(codes) and (codes.min() < 0 or codes.max() >= size):
        raise ValueError(f"{name} must lie in [0, {size}), got [{codes.min()}, {codes.max()}]")
    expected, margin = num_frames / fps * rate, group_size / fps * rate
    if len(codes) and abs(len(codes) - expected) > margin:
        raise ValueError(
            f"{name} has {len(codes)} codes but the clip needs {expected:.1f} ({num_frames} frames at "
            f"{fps} fps = {num_frames / fps:.2f} s at {rate} codes/s); more than one "
            f"group ({margin:.1f} codes) apart means codes at another rate or from another clip"
        )
    frames = code_frames(np.arange(len(codes)), fps, rate)
    frames[frames == num_frames] = num_frames - 1  # a code ending on the clip's last boundary
    kept = frames < num_frames
    groups, kept_codes = frames[kept] // group_size, codes[kept]
    bounds = np.searchsorted(groups, np.arange(num_groups + 1))
    return [kept_codes[bounds[g] : bounds[g + 1]] for g in range(num_groups)]


def checked_emotion_ids(emotion, num_frames: int, num_groups: int, group_size: int, size: int) -> np.ndarray:
    """Emotion ids `(num_groups,)` in `[0, size)`, one per group; one more (for a final partial group) is cut."""
    emotion = as_ids(emotion, "emotion_ids")
    if not num_groups <= len(emotion) <= -(-num_frames // group_size):
        raise ValueError(
            f"emotion_ids: {len(emotion)} emotion ids for {num_groups} groups; need one per group of {group_size} "
            f"frames ({num_frames} frames)"
        )
    emotion = emotion[:num_groups]
    if len(emotion) and (emotion.min() < 0 or emotion.max() >= size):
        raise ValueError(f"emotion_ids must lie in [0, {size}), got [{emotion.min()}, {emotion.max()}]")
    return emotion


__all__ = ["as_ids", "checked_emotion_ids", "checked_motion", "code_frames", "group_codes"]
