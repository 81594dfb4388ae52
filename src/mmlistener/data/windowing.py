"""Cutting clips into windows: frames, timed words and events, 50 Hz codes, per-group emotion, frame-rate
changes."""

import math
from collections.abc import Mapping, Sequence

import numpy as np

from ..modeling.constants import HISTORY_SECONDS
from ..processing.emotion import group_emotion_ids
from ..processing.speech_tokenizer import CODE_RATE  # acoustic / content codes per second
from .features import EVENT_KINDS

_EPSILON = 1e-6


def window_bounds(
    num_frames: int, first_frame: int = 96, stride: int = 240, window_frames: int = 240, min_frames: int = 24
) -> list[tuple[int, int]]:
    """`(start, end)` frame ranges: windows of up to `window_frames` frames starting at `first_frame`, then
    every `stride` frames; a window shorter than `min_frames` (the clip's tail) is dropped."""
    if stride <= 0 or window_frames <= 0 or min_frames <= 0 or first_frame < 0:
        raise ValueError("stride, window_frames and min_frames must be positive and first_frame >= 0")
    bounds = []
    for start in range(first_frame, num_frames, stride):
        end = min(start + window_frames, num_frames)
        if end - start >= min_frames:
            bounds.append((start, end))
    return bounds


def _word(word: dict, offset: float, where: str) -> dict:
    if not isinstance(word, dict) or "text" not in word or "end" not in word:
        raise ValueError(f"{where}: each word needs 'text' and 'end' (seconds), got {word!r}")
    end = float(word["end"])
    start = float(word["start"]) if word.get("start") is not None else end
    if not (math.isfinite(start) and math.isfinite(end)):
        raise ValueError(f"{where}: word {word!r} has a non-finite time")
    return {"text": str(word["text"]).strip(), "start": start - offset, "end": end - offset}


def window_words(
    words: Sequence[dict],
    window_start: float,
    num_frames: int,
    fps: int,
    history_seconds: float = HISTORY_SECONDS,
    where: str = "words",
) -> tuple[list[dict], list[dict]]:
    """Split timed words between a window and its history.

    Args:
        words: `{"text", "end", ["start"]}` with times in seconds on the clip's clock (a missing start is
            taken as the end).
        window_start (`float`): time of the window's first frame on that clock, in seconds.
        num_frames (`int`), fps (`int`): the window's length.
        history_seconds (`float`): history keeps the words ending at most this long before the window.

    Returns:
        `(words, history_words)`, times relative to the window's first frame. A word belongs to the window when
        it ends in `[0, num_frames / fps]` (frame `ceil(end * fps)`, REFERENCE §3), to the history when it ends
        in `[-history_seconds, 0)`; later words are dropped. Both lists are sorted by end time; empty texts
        are dropped.
    """
    inside, history = [], []
    duration = num_frames / fps
    for word in words:
        word = _word(word, window_start, where)
        if not word["text"]:
            continue
        if word["end"] < -_EPSILON:
            if word["end"] >= -history_seconds - _EPSILON:
                word["start"] = min(word["start"], word["end"])
                history.append(word)
        elif word["end"] <= duration + _EPSILON:
            word["end"] = max(word["end"], 0.0)
            word["start"] = min(word["start"], word["end"])
            inside.append(word)
    return sorted(inside, key=lambda w: w["end"]), sorted(history, key=lambda w: w["end"])


def no_events() -> dict[str, list[float]]:
    """The `events` of a window without ground-truth events: an empty list per kind of `EVENT_KINDS`."""
    return {kind: [] for kind in EVENT_KINDS}


def window_events(
    events: Mapping | None,
    window_start: float,
    num_frames: int,
    fps: int,
    history_seconds: float = HISTORY_SECONDS,
    where: str = "events",
) -> dict[str, list[float]]:
    """The events of a window, in seconds from its first frame.

    Args:
        events (`dict[str, list[float]]`, *optional*): per kind of `EVENT_KINDS` (a missing kind has none), times
            in seconds on the clip's clock; `None` means no events.
        window_start (`float`): time of the window's first frame on that clock, in seconds.
        num_frames (`int`), fps (`int`): the window's length.
        history_seconds (`float`): how far before the window events are kept.

    Returns:
        `dict[str, list[float]]`: per kind, the sorted times in `[-history_seconds, num_frames / fps]` relative to
        the window's first frame.
    """
    if events is None:
        return no_events()
    if not isinstance(events, Mapping) or set(events) - set(EVENT_KINDS):
        raise ValueError(f"{where}: expected a dict with keys among {EVENT_KINDS}, got {events!r}")
    duration = num_frames / fps
    windowed = {}
    for kind in EVENT_KINDS:
        try:
            times = np.asarray(events.get(kind, []), dtype=np.float64).reshape(-1) - window_start
        except (TypeError, ValueError) as error:
            raise ValueError(f"{where}: {kind!r} must be a list of seconds: {error}") from None
        if not np.isfinite(times).all():
            raise ValueError(f"{where}: {kind!r} contains NaN or infinite times")
        inside = (times >= -history_seconds - _EPSILON) & (times <= duration + _EPSILON)
        windowed[kind] = np.sort(times[inside]).tolist()
    return windowed


def window_codes(codes, start_frame: int, num_frames: int, fps: int, rate: int = CODE_RATE) -> list[int]:
    """The codes (at `rate` per second, first code at frame 0 of the clip) covering frames
    `[start_frame, start_frame + num_frames)`; empty when `codes` is empty or ends before the window."""
    codes = np.asarray([] if codes is None else codes, dtype=np.int64).reshape(-1)
    first = round(start_frame * rate / fps)
    last = round((start_frame + num_frames) * rate / fps)
    return codes[first:last].tolist()


def group_labels(frame_labels, group_size: int, num_classes: int, num_groups: int | None = None) -> list[int]:
    """Per-group label of per-frame class labels: the most frequent one (the emotion-group rule of
    `mmlistener.processing.group_emotion_ids` applied to one-hot probabilities)."""
    labels = np.asarray(frame_labels, dtype=np.int64).reshape(-1)
    if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"frame labels must lie in [0, {num_classes}), got [{labels.min()}, {labels.max()}]")
    return group_emotion_ids(np.eye(num_classes)[labels], group_size, num_groups)


def resample_motion(motion: np.ndarray, source_fps: float, target_fps: float) -> np.ndarray:
    """Linear interpolation of `motion (T, D)` from `source_fps` to `target_fps`.

    Frame `k` of the output is at time `k / target_fps`; the output keeps every time up to the last input
    frame's, so `T` frames at 25 fps (the last at `(T - 1) / 25` s) give `floor((T - 1) * 30 / 25) + 1` frames
    at 30 fps. Expression and small axis-angle rotations interpolate well linearly between neighbouring frames.
    """
    motion = np.asarray(motion, dtype=np.float32)
    if source_fps <= 0 or target_fps <= 0:
        raise ValueError(f"frame rates must be positive, got {source_fps} -> {target_fps}")
    if motion.ndim != 2 or len(motion) == 0:
        raise ValueError(f"motion must be (frames, dims) with frames > 0, got {motion.shape}")
    if source_fps == target_fps:
        return motion
    source_times = np.arange(len(motion)) / source_fps
    target_frames = math.floor((len(motion) - 1) * target_fps / source_fps + _EPSILON) + 1
    target_times = np.arange(target_frames) / target_fps
    columns = [np.interp(target_times, source_times, motion[:, d]) for d in range(motion.shape[1])]
    return np.stack(columns, axis=1).astype(np.float32)


__all__ = [
    "CODE_RATE",
    "group_labels",
    "no_events",
    "resample_motion",
    "window_bounds",
    "window_codes",
    "window_events",
    "window_words",
]
