"""Score a whole split: per-window metrics averaged over windows (the paper's Table 1 numbers).

Windows are dataset examples (dicts with `speaker_motion (T, 56)`, `listener_motion (T, 56)` and
`listener_identity (100,)`, raw values); predictions are `(T, 56)` arrays in the same order.
"""

from collections.abc import Callable, Sequence

import numpy as np
import torch

from .metrics import diversity, frechet_distance, l2, l2_affect, paired_frechet_distance, variation

ValenceFn = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""`valence_fn(motion (T, 56), shape (100,)) -> valence (T,)`: per-frame valence of one window."""


def as_motion(example: dict, key: str) -> np.ndarray:
    """`example[key]` as a float32 `(frames, dims)` array (dataset rows hold nested lists)."""
    if key not in example:
        raise ValueError(f"example has no {key!r}; it has {sorted(example)}")
    motion = np.asarray(example[key], dtype=np.float32)
    if motion.ndim != 2:
        raise ValueError(f"example[{key!r}] must be (frames, dims), got shape {motion.shape}")
    return motion


class RecognizerValence:
    """Per-frame valence of motion from an [`EmotionRecognizer`] fed the ground-truth identity shape.

    Calls `recognizer.predict_from_motion(motion, shape)` (which reads expression and jaw pose where
    the recogniser's config says) after putting the recogniser in eval mode (it has BatchNorm).

    Args:
        recognizer (`EmotionRecognizer`): the emotion recogniser.
    """

    def __init__(self, recognizer: torch.nn.Module):
        self.recognizer = recognizer.eval()

    def __call__(self, motion: np.ndarray, shape: np.ndarray) -> np.ndarray:
        """`motion (frames, 56)` and `shape (100,)` -> valence `(frames,)`."""
        output = self.recognizer.predict_from_motion(np.asarray(motion), np.asarray(shape))
        return output.valence.float().cpu().numpy()


def as_valence_fn(valence: ValenceFn | torch.nn.Module | None) -> ValenceFn | None:
    """An `EmotionRecognizer` wrapped in `RecognizerValence`; a function or None as is."""
    return RecognizerValence(valence) if isinstance(valence, torch.nn.Module) else valence


def ground_truth_valence(examples: Sequence[dict], valence: ValenceFn | torch.nn.Module) -> list[np.ndarray]:
    """Per-frame valence `(T_i,)` of each window's ground-truth listener motion, with its listener's shape."""
    valence_fn = as_valence_fn(valence)
    return [
        valence_fn(
            as_motion(example, "listener_motion"), np.asarray(example["listener_identity"], dtype=np.float32)
        )
        for example in examples
    ]


def _check_lengths(predictions: Sequence, examples: Sequence) -> None:
    if len(predictions) != len(examples):
        raise ValueError(f"{len(predictions)} predictions for {len(examples)} windows")
    if not examples:
        raise ValueError("no windows to score")


def score_predictions(
    predictions: Sequence[np.ndarray],
    examples: Sequence[dict],
    valence: ValenceFn | torch.nn.Module | None = None,
    seed: int = 0,
    affect_window: int = 30,
    paired: bool = True,
    gt_valence: Sequence[np.ndarray] | None = None,
) -> dict[str, float]:
    """Average the per-window metrics of generated listener motion over a split.

    Args:
        predictions (`list` of `np.ndarray` of shape `(T_i, 56)`): generated listener motion, raw values.
        examples (`list` of `dict`): the windows, in the same order.
        valence (`EmotionRecognizer` or `ValenceFn`, *optional*): where per-frame valence comes from:
            an `EmotionRecognizer` (wrapped in `RecognizerValence`, fed the GT listener shape) or any
            `ValenceFn`. L2 Affect is reported only when given.
        seed (`int`): Diversity of window i uses seed `seed + i` (the same draws as for the GT row).
        affect_window (`int`): frames per L2 Affect window; windows shorter than this are left out of
            the L2 Affect average (and only of it).
        paired (`bool`, defaults to `True`): compute P-FD, which needs each window's `speaker_motion`.
        gt_valence (`list` of `np.ndarray` of shape `(T_i,)`, *optional*): the ground truth's valence from
            `ground_truth_valence(examples, valence)`, to compute it once for several systems.

    Returns:
        `dict`: `l2`, `fd`, `p_fd` (when `paired`), `variation`, `diversity` and, with `valence`, `l2_affect`
        (raw, not x 10^2), each the mean over windows.
    """
    _check_lengths(predictions, examples)
    valence_fn = as_valence_fn(valence)
    if gt_valence is not None and len(gt_valence) != len(examples):
        raise ValueError(f"{len(gt_valence)} ground-truth valence curves for {len(examples)} windows")
    totals = {"l2": [], "fd": [], "variation": [], "diversity": []}
    if paired:
        totals["p_fd"] = []
    affect = []
    for index, (pred, example) in enumerate(zip(predictions, examples)):
        gt = as_motion(example, "listener_motion")
        pred = np.asarray(pred, dtype=np.float32)
        if pred.shape != gt.shape:
            raise ValueError(f"prediction {index} has shape {pred.shape}, its window {gt.shape}")
        totals["l2"].append(l2(pred, gt))
        totals["fd"].append(frechet_distance(pred, gt))
        if paired:
            totals["p_fd"].append(paired_frechet_distance(pred, gt, as_motion(example, "speaker_motion")))
        totals["variation"].append(variation(pred))
        totals["diversity"].append(diversity(pred, seed=seed + index))
        if valence_fn is not None and gt.shape[0] >= affect_window:
            shape = np.asarray(example["listener_identity"], dtype=np.float32)
            reference = valence_fn(gt, shape) if gt_valence is None else gt_valence[index]
            affect.append(l2_affect(valence_fn(pred, shape), reference, window=affect_window))
    scores = {name: float(np.mean(values)) for name, values in totals.items()}
    if valence_fn is not None:
        if not affect:
            raise ValueError(f"L2 Affect needs windows of at least {affect_window} frames; none has")
        scores["l2_affect"] = float(np.mean(affect))
    return scores


def score_ground_truth(examples: Sequence[dict], seed: int = 0) -> dict[str, float]:
    """Variation and Diversity of the ground-truth listener motion (the table's GT row)."""
    if not examples:
        raise ValueError("no windows to score")
    gts = [as_motion(example, "listener_motion") for example in examples]
    return {
        "variation": float(np.mean([variation(gt) for gt in gts])),
        "diversity": float(np.mean([diversity(gt, seed=seed + index) for index, gt in enumerate(gts)])),
    }


__all__ = [
    "RecognizerValence",
    "ValenceFn",
    "as_motion",
    "as_valence_fn",
    "ground_truth_valence",
    "score_ground_truth",
    "score_predictions",
]
