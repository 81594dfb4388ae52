"""The paper's metrics, baselines and results table."""

from .hub_metric import listener_metrics_path
from .metrics import (
    diversity,
    frechet_distance,
    frechet_distance_from_statistics,
    gaussian_statistics,
    l2,
    l2_affect,
    paired_frechet_distance,
    variation,
    window_means,
)
from .scoring import RecognizerValence, ValenceFn, as_motion, score_ground_truth, score_predictions

__all__ = [
    "RecognizerValence",
    "ValenceFn",
    "as_motion",
    "diversity",
    "frechet_distance",
    "frechet_distance_from_statistics",
    "gaussian_statistics",
    "l2",
    "l2_affect",
    "listener_metrics_path",
    "paired_frechet_distance",
    "score_ground_truth",
    "score_predictions",
    "variation",
    "window_means",
]
