"""Event diagnostics: does the listener nod after utterances, laugh after jokes, and catch the speaker's emotion?

The synthetic corpus (`mmlistener.data.synthetic`) records the speaker events its listeners respond to (each
window's `events`, seconds from its first frame) and the response rules: a 24-frame double nod on head pitch
`NOD_LAG` frames after an utterance ends, 36 frames of laughter (the jaw opening at 5 Hz) `LAUGH_LAG` frames
after a joke word ends, and expression easing towards the prototype of the speaker's emotion of
`CONTAGION_LAG` frames earlier. The functions here detect the responses in raw motion `(T, 56)` of one window
and score them against the events over a split. Listener motion is styled per identity (per-channel scale and
offset), so every criterion works on deviations from the window's own statistics: the nod and laugh detectors
do not depend on the scale at all, contagion only through the weight each channel gets.

Lags and durations are frames at 30 fps (the corpus's rate); at another `fps` they keep their length in seconds.
"""

from collections.abc import Sequence

import numpy as np
from scipy.ndimage import uniform_filter1d

from ..data.synthetic import (
    CONTAGION_LAG,
    HEAD_PITCH,
    JAW_OPEN,
    LAUGH_FRAMES,
    LAUGH_LAG,
    NOD_FRAMES,
    NOD_LAG,
    emotion_prototypes,
)
from ..modeling.constants import EXPRESSION_DIM, FPS, GROUP_SIZE, MOTION_DIM
from .tables import markdown_table

NOD_PERIOD = NOD_FRAMES // 2  # two pitch cycles per nod: 0.4 s, 2.5 Hz
LAUGH_PERIOD = 6  # the jaw opens at 5 Hz
MIN_CORRELATION = 0.7  # normalised cross-correlation with the response's shape
MIN_AMPLITUDE_RATIO = 6.0  # response amplitude over the window's quiet level
QUIET_QUANTILE = 0.1  # which local level counts as the window's quiet level
DEFAULT_TOLERANCE = 6  # frames at 30 fps (0.2 s) either side of the expected response start


# the corpus's response rules: (response, the events that call for it, frames at 30 fps from event to response, its
# length in frames at 30 fps)
RESPONSE_RULES = (("nod", "utterance_ends", NOD_LAG, NOD_FRAMES), ("laugh", "joke_ends", LAUGH_LAG, LAUGH_FRAMES))
RESPONSES = ("other",) + tuple(name for name, *_ in RESPONSE_RULES)  # the labels of `response_groups`, by index


def _frames(frames_at_30: float, fps: float) -> int:
    """A duration given in frames at 30 fps, in frames at `fps`."""
    return max(1, round(frames_at_30 * fps / FPS))


def _as_motion(motion) -> np.ndarray:
    motion = np.asarray(motion, dtype=np.float64)
    if motion.ndim != 2 or motion.shape[1] != MOTION_DIM:
        raise ValueError(f"motion must be one window of shape (frames, {MOTION_DIM}), got {motion.shape}")
    return motion


def _high_pass(signal: np.ndarray, period: int) -> np.ndarray:
    """`signal (T,)` minus its centred moving average over `period` frames: an oscillation of that period
    is kept whole, slower drifts (trend, style offset, emotion easing) are removed."""
    return signal - uniform_filter1d(signal, period, mode="nearest")


def _oscillation_template(length: int, period: int, sign: float) -> np.ndarray:
    """A Hann-enveloped sine of `period` frames over `length` frames `(length,)`, high-passed like the signal
    (zero-padded, so the filter sees the template's silent surroundings), unit norm."""
    k = np.arange(length)
    template = sign * np.sin(np.pi * k / length) ** 2 * np.sin(2 * np.pi * k / period)
    padded = np.pad(template, period)
    template = (padded - uniform_filter1d(padded, period, mode="constant"))[period:-period]
    return template / np.linalg.norm(template)


def detect_oscillations(
    signal,
    length: int,
    period: int,
    sign: float = 1.0,
    min_correlation: float = MIN_CORRELATION,
    min_amplitude_ratio: float = MIN_AMPLITUDE_RATIO,
) -> np.ndarray:
    """Start frames of Hann-enveloped oscillations in one channel of one window.

    The signal is high-passed (`_high_pass` over `period` frames); every stretch of `length` frames is compared
    with the template (a Hann-enveloped `sign x sin` of `period` frames, high-passed the same way). A stretch is
    a response when
    - its Pearson correlation with the template is at least `min_correlation` (the shape: scale-free), and
    - its component along the template is at least `min_amplitude_ratio` times the window's quiet level, the
      `QUIET_QUANTILE` (0.1) quantile of the norms of all its mean-removed stretches (the size: relative to the
      window itself, so the listener's style scale cancels).
    Responses cannot overlap: candidates are kept best correlation first, each suppressing the others within
    `length - 1` frames.

    Args:
        signal (`np.ndarray` `(T,)`): one channel of raw motion.
        length, period (`int`): the response's duration and oscillation period, in frames.
        sign (`float`): `+1` if the oscillation starts upwards, `-1` downwards.

    Returns:
        `np.ndarray` `(num_responses,)`, int64: start frames, increasing; empty when `T < length`.
    """
    signal = _high_pass(np.asarray(signal, dtype=np.float64), period)
    if len(signal) < length:
        return np.zeros(0, dtype=np.int64)
    stretches = np.lib.stride_tricks.sliding_window_view(signal, length)  # (T - length + 1, length)
    stretches = stretches - stretches.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(stretches, axis=1)
    projection = stretches @ _oscillation_template(length, period, sign)
    tiny = np.finfo(np.float64).tiny
    correlation = projection / np.maximum(norms, tiny)
    quiet = max(np.quantile(norms, QUIET_QUANTILE), tiny)
    candidates = np.flatnonzero(
        (correlation >= min_correlation) & (projection >= min_amplitude_ratio * quiet)
    )
    starts = []
    for start in candidates[np.argsort(-correlation[candidates], kind="stable")]:
        if all(abs(start - kept) >= length for kept in starts):
            starts.append(start)
    return np.asarray(sorted(starts), dtype=np.int64)


def detect_nods(motion, fps: int = FPS) -> np.ndarray:
    """Start frames of head nods in one window of raw motion `(T, 56)`.

    A nod is the corpus's double nod: head pitch (channel `HEAD_PITCH`) first down then up, two cycles of
    0.4 s under a Hann envelope over 0.8 s (24 frames at 30 fps); see `detect_oscillations` for the criterion
    (correlation >= 0.7 with that shape after removing the pitch's 0.4 s moving average, and an amplitude >= 6x
    the window's quiet level).

    Returns:
        `np.ndarray` `(num_nods,)`, int64: start frames.
    """
    pitch = _as_motion(motion)[:, HEAD_PITCH]
    return detect_oscillations(pitch, _frames(NOD_FRAMES, fps), _frames(NOD_PERIOD, fps), sign=-1.0)


def detect_laughs(motion, fps: int = FPS) -> np.ndarray:
    """Start frames of laughter in one window of raw motion `(T, 56)`.

    Laughter is the jaw (channel `JAW_OPEN`) opening and closing at 5 Hz under a Hann envelope over 1.2 s (36
    frames at 30 fps); see `detect_oscillations` for the criterion (correlation >= 0.7 with that shape after
    removing the jaw's 0.2 s moving average, and an amplitude >= 6x the window's quiet level). Only the jaw
    is used: the laugh's Happy expression and raised head are also what contagion and nods produce.

    Returns:
        `np.ndarray` `(num_laughs,)`, int64: start frames.
    """
    jaw = _as_motion(motion)[:, JAW_OPEN]
    return detect_oscillations(jaw, _frames(LAUGH_FRAMES, fps), _frames(LAUGH_PERIOD, fps))


def emotion_contagion(motion, emotion_ids: Sequence[int], fps: int = FPS) -> float:
    """How much the listener's expression follows the speaker's emotion in one window.

    The speaker's emotion per frame is the window's `emotion_ids` (one per group of `GROUP_SIZE` frames)
    repeated over each group; frame `t` of the listener is paired with the prototype (`emotion_prototypes`,
    50 expression dims) of the speaker's emotion at frame `t - CONTAGION_LAG` (12 frames at 30 fps), for
    `t >= CONTAGION_LAG`. Both sequences have their per-channel mean over those frames removed (the listener's
    style offset cancels); the result is their Pearson correlation over all frames and channels.

    Args:
        motion (`np.ndarray` `(T, 56)`): raw listener motion.
        emotion_ids (`list[int]`): speaker emotion per group of 8 frames (AffectNet order).

    Returns:
        `float`: the correlation in [-1, 1]; NaN when the speaker's emotion is the same over the paired frames
        (nothing to follow in the window) or `emotion_ids` is empty.
    """
    motion = _as_motion(motion)
    lag = _frames(CONTAGION_LAG, fps)
    speaker = np.repeat(np.asarray(emotion_ids, dtype=np.int64).reshape(-1), GROUP_SIZE)
    frames = min(len(motion), len(speaker) + lag)
    if frames <= lag + 1:
        return float("nan")
    target = emotion_prototypes()[speaker[: frames - lag], :EXPRESSION_DIM]
    listener = motion[lag:frames, :EXPRESSION_DIM]
    target = target - target.mean(axis=0)
    listener = listener - listener.mean(axis=0)
    scale = np.sqrt((target**2).sum() * (listener**2).sum())
    return float((target * listener).sum() / scale) if scale > 0 else float("nan")


def _response_scores(
    detections: np.ndarray,
    events: np.ndarray,
    lag: int,
    length: int,
    tolerance: int,
    num_frames: int,
    fps: int,
) -> tuple[int, int, int, int]:
    """`(events counted, events answered, detections, detections unexplained)` of one window.

    An event at `e` seconds expects a response starting at frame `round(e * fps) + lag`; it counts when the whole
    response, started anywhere within `tolerance`, lies inside the window, and is answered when a detection
    starts within `tolerance` of that frame. A detection is unexplained when no event (counted or not)
    expects a response within `tolerance` of its start.
    """
    expected = np.round(np.asarray(events, dtype=np.float64) * fps).astype(np.int64) + lag
    close = np.abs(detections[:, None] - expected[None, :]) <= tolerance  # (detections, events)
    counted = (expected - tolerance >= 0) & (expected + tolerance + length <= num_frames)
    answered = close.any(axis=0) & counted
    return int(counted.sum()), int(answered.sum()), len(detections), int((~close.any(axis=1)).sum())


def _field(record, key: str, default):
    """`record[key]`, or `default` when it is missing or None (lists and arrays alike)."""
    value = record.get(key) if record is not None else None
    return default if value is None else value


def _rate(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else float("nan")


def event_rates(
    motions: Sequence, examples: Sequence[dict], tolerance_frames: int = DEFAULT_TOLERANCE, fps: int = FPS
) -> dict[str, float | int]:
    """Event diagnostics of listener motion over a split.

    Args:
        motions (`list` of `np.ndarray` `(T_i, 56)`): raw listener motion per window (predicted or GT).
        examples (`list[dict]`): the windows, with `events` (`utterance_ends`, `joke_ends`, seconds from the
            window's first frame, see `mmlistener.data.EXAMPLE_FEATURES`) and `emotion_ids`.
        tolerance_frames (`int`, defaults to 6): how far (frames at 30 fps; 6 = 0.2 s) a response may start from
            `lag` frames after its event and still answer it (nods: `NOD_LAG` = 6, laughs: `LAUGH_LAG` = 9).
            Utterance ends are the end of the last word; the corpus's nods start 0.03 s (~1 frame) later still.
        fps (`int`): frame rate of the motion.

    Returns:
        `dict[str, float | int]`:
        - `nod_hit_rate`: share of utterance ends answered by a nod (`detect_nods`) starting within
          `[lag - tolerance, lag + tolerance]` frames after them; only events whose whole response (any start in
          that range, plus the nod's 24 frames) lies inside the window count.
        - `nod_false_alarm_rate`: share of detected nods that no utterance end (also those just before or
          near the window's edges) explains within the same tolerance.
        - `laugh_hit_rate`, `laugh_false_alarm_rate`: the same for laughs (`detect_laughs`) after joke ends.
        - `emotion_contagion`: mean over windows of `emotion_contagion` (windows where it is NaN are left out).
        - `num_utterance_ends`, `num_nods`, `num_joke_ends`, `num_laughs`, `num_contagion_windows`: the counts
          behind the rates (events counted, responses detected, windows scored).
        A rate with nothing to count is NaN.
    """
    if len(motions) != len(examples):
        raise ValueError(f"got {len(motions)} motions for {len(examples)} windows")
    tolerance = _frames(tolerance_frames, fps)
    detectors = {"nod": detect_nods, "laugh": detect_laughs}
    kinds = [(name, kind, detectors[name], _frames(lag, fps), _frames(length, fps))
             for name, kind, lag, length in RESPONSE_RULES]  # fmt: skip
    totals = {name: np.zeros(4, dtype=np.int64) for name, *_ in kinds}
    contagion = []
    for motion, example in zip(motions, examples):
        motion = _as_motion(motion)
        events = _field(example, "events", {})
        for name, kind, detect, lag, length in kinds:
            times = np.asarray(_field(events, kind, []), dtype=np.float64).reshape(-1)
            totals[name] += _response_scores(
                detect(motion, fps), times, lag, length, tolerance, len(motion), fps
            )
        contagion.append(emotion_contagion(motion, _field(example, "emotion_ids", []), fps))
    contagion = np.asarray(contagion, dtype=np.float64)
    contagion = contagion[np.isfinite(contagion)]
    rates = {}
    for name, kind, *_ in kinds:
        counted, answered, detected, unexplained = totals[name].tolist()
        rates[f"{name}_hit_rate"] = _rate(answered, counted)
        rates[f"{name}_false_alarm_rate"] = _rate(unexplained, detected)
        rates[f"num_{kind}"] = counted
        rates[f"num_{name}s"] = detected
    rates["emotion_contagion"] = float(contagion.mean()) if len(contagion) else float("nan")
    rates["num_contagion_windows"] = len(contagion)
    return rates


def false_laugh_sites(
    motions: Sequence, examples: Sequence[dict], tolerance_frames: int = DEFAULT_TOLERANCE, fps: int = FPS
) -> dict[str, int]:
    """Where the laughs that no joke explains (the false alarms of `event_rates`) start.

    Each unexplained laugh is counted once, in the first of these that applies:
    - `mistimed`: within `LAUGH_FRAMES` (36 frames at 30 fps) of a joke's expected laugh, but not within
      `tolerance_frames`: the right laugh at the wrong moment;
    - `at_nods`: within `tolerance_frames` of the nod after an utterance end (`NOD_LAG`): a nod decoded with the
      jaw of laughter, or laughter where a nod alone was due;
    - `elsewhere`.

    Args:
        motions, examples, tolerance_frames, fps: as in `event_rates`.

    Returns:
        `dict[str, int]`: `unexplained` and its three parts.
    """
    if len(motions) != len(examples):
        raise ValueError(f"got {len(motions)} motions for {len(examples)} windows")
    tolerance, reach = _frames(tolerance_frames, fps), _frames(LAUGH_FRAMES, fps)
    sites = {"unexplained": 0, "mistimed": 0, "at_nods": 0, "elsewhere": 0}

    def expected(events, kind: str, lag: int) -> np.ndarray:
        times = np.asarray(_field(events, kind, []), dtype=np.float64).reshape(-1)
        return np.round(times * fps).astype(np.int64) + _frames(lag, fps)

    for motion, example in zip(motions, examples):
        events = _field(example, "events", {})
        laughs, nods = expected(events, "joke_ends", LAUGH_LAG), expected(events, "utterance_ends", NOD_LAG)
        for start in detect_laughs(_as_motion(motion), fps):
            off_laugh = np.abs(laughs - start).min(initial=np.iinfo(np.int64).max)
            if off_laugh <= tolerance:
                continue
            sites["unexplained"] += 1
            if off_laugh <= reach:
                sites["mistimed"] += 1
            elif np.abs(nods - start).min(initial=np.iinfo(np.int64).max) <= tolerance:
                sites["at_nods"] += 1
            else:
                sites["elsewhere"] += 1
    return sites


def response_groups(example: dict, num_groups: int, group_size: int = GROUP_SIZE, fps: int = FPS) -> np.ndarray:
    """Which response the corpus's rules put in each group of a window: 0 none, 1 a nod, 2 laughter.

    A group is a nod group when its frames `[g * group_size, (g + 1) * group_size)` overlap the `NOD_FRAMES`
    frames that start `NOD_LAG` frames after an utterance end, and a laugh group likewise after a joke end
    (laughter wins where both overlap).

    Args:
        example (`dict`): a window with `events` (`utterance_ends`, `joke_ends`, seconds from its first frame).
        num_groups (`int`): the window's number of groups.
        group_size (`int`, defaults to `GROUP_SIZE`): frames per group; fps (`int`): the frame rate.

    Returns:
        `np.ndarray` of shape `(num_groups,)`, int64: indices into `RESPONSES`.
    """
    events = _field(example, "events", {})
    starts = np.arange(num_groups) * group_size
    labels = np.zeros(num_groups, dtype=np.int64)
    for label, (_, kind, lag, length) in enumerate(RESPONSE_RULES, start=1):
        for time in np.asarray(_field(events, kind, []), dtype=np.float64).reshape(-1):
            onset = round(time * fps) + _frames(lag, fps)
            overlap = (starts < onset + _frames(length, fps)) & (starts + group_size > onset)
            labels[overlap] = label
    return labels


EVENT_COLUMNS = (
    ("nod_hit_rate", "Nod hit ↑"),
    ("nod_false_alarm_rate", "Nod false alarm ↓"),
    ("laugh_hit_rate", "Laugh hit ↑"),
    ("laugh_false_alarm_rate", "Laugh false alarm ↓"),
    ("emotion_contagion", "Contagion ↑"),
)


def format_events_table(results: dict[str, dict]) -> str:
    """Markdown table of the `event_rates` of every row of `results` that has them (rows: systems, GT first)."""
    return markdown_table(
        "System",
        [header for _, header in EVENT_COLUMNS],
        {
            name: ["–" if np.isnan(row[key]) else f"{row[key]:.3f}" for key, _ in EVENT_COLUMNS]
            for name, row in results.items()
            if "nod_hit_rate" in row
        },
    )


__all__ = [
    "EVENT_COLUMNS",
    "RESPONSES",
    "detect_laughs",
    "detect_nods",
    "detect_oscillations",
    "emotion_contagion",
    "event_rates",
    "false_laugh_sites",
    "format_events_table",
    "response_groups",
]
