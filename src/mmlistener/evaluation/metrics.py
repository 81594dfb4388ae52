"""The paper's metrics on one window of motion, in plain numpy / scipy (REFERENCE §5).

Every function takes de-normalised motion of ONE window, `(frames, dims)` arrays (dims = 56 for
listener motion: 50 FLAME expression + 3 head rotation + 3 jaw), and returns a Python float.
`mmlistener.evaluation.scoring` averages them over the windows of a split.

Formulas (x = one window, T frames):

- ``l2(pred, gt) = mean((gt - pred) ** 2)`` over frames and dims (an MSE).
- ``frechet_distance(pred, gt)``: fit a Gaussian to the frames of each window (mean, ``np.cov(rowvar=False)``,
  i.e. the unbiased T - 1 covariance) and return
  ``|mu1 - mu2|^2 + Tr S1 + Tr S2 - 2 Tr sqrtm(S1 S2)``.
  If ``sqrtm(S1 S2)`` has a non-finite entry it is recomputed as ``sqrtm((S1 + eps I)(S2 + eps I))``
  with ``eps = 1e-6`` (the traces keep the unperturbed matrices). If the imaginary part of its
  diagonal (the part that enters the trace) exceeds 1e-3 in absolute value a `ValueError` is
  raised, otherwise the real part is kept.
- ``paired_frechet_distance(pred, gt, speaker)``: the same on ``[speaker, listener]`` concatenated
  along dims (112 for 56-dim motion), speaker first.
- ``variation(x) = mean(var(x, axis=0))``: per-dim variance over frames (``ddof=0``), averaged.
- ``diversity(x, seed)``: draw ``n`` distinct frame indices twice (``n = 30``, or 10 when
  ``T <= 30``) with ``np.random.default_rng(seed).choice(T, n, replace=False)``, return the mean
  Euclidean distance between the paired frames. Needs ``T > n``.
- ``l2_affect(pred_valence, gt_valence, window=30)``: cut both per-frame valence curves into
  non-overlapping windows of ``window`` frames (a trailing partial window is dropped), average
  each window, return the MSE between predicted and GT window means. The paper prints it x 10^2.
"""

import functools
import warnings

import numpy as np
from scipy import linalg
from threadpoolctl import ThreadpoolController

FD_EPSILON = 1e-6
FD_MAX_IMAGINARY = 1e-3


@functools.cache
def _threadpools() -> ThreadpoolController:
    return ThreadpoolController()


def _as_window(x, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"{name} must be one window of shape (frames, dims), got shape {x.shape}")
    if x.shape[0] == 0:
        raise ValueError(f"{name} has no frames")
    return x


def _same_shape(pred: np.ndarray, gt: np.ndarray) -> None:
    if pred.shape != gt.shape:
        raise ValueError(
            f"pred and gt must have the same (frames, dims) shape, got {pred.shape} and {gt.shape}"
        )


def l2(pred, gt) -> float:
    """Mean squared error between two windows.

    Args:
        pred (`np.ndarray` of shape `(frames, dims)`): generated motion.
        gt (`np.ndarray` of shape `(frames, dims)`): ground-truth motion.
    """
    pred, gt = _as_window(pred, "pred"), _as_window(gt, "gt")
    _same_shape(pred, gt)
    return float(np.mean((gt - pred) ** 2))


def gaussian_statistics(x) -> tuple[np.ndarray, np.ndarray]:
    """Mean `(dims,)` and covariance `(dims, dims)` of the frames of one window `(frames, dims)`."""
    x = _as_window(x, "x")
    if x.shape[0] < 2:
        raise ValueError(f"a covariance needs at least 2 frames, got {x.shape[0]}")
    return x.mean(axis=0), np.atleast_2d(np.cov(x, rowvar=False))


def frechet_distance_from_statistics(mu1, sigma1, mu2, sigma2, eps: float = FD_EPSILON) -> float:
    """Frechet distance between N(mu1, sigma1) and N(mu2, sigma2), with the fallbacks of the module doc.

    Args:
        mu1, mu2 (`np.ndarray` of shape `(dims,)`): means.
        sigma1, sigma2 (`np.ndarray` of shape `(dims, dims)`): covariances.
        eps (`float`): added to the diagonals when ``sqrtm(sigma1 @ sigma2)`` is not finite.

    Raises:
        ValueError: on mismatched shapes, or when the diagonal of the matrix square root has an
            imaginary part above 1e-3 (the covariances are then not valid covariances).
    """
    mu1, mu2 = (
        np.atleast_1d(np.asarray(mu1, dtype=np.float64)),
        np.atleast_1d(np.asarray(mu2, dtype=np.float64)),
    )
    sigma1, sigma2 = (
        np.atleast_2d(np.asarray(sigma1, dtype=np.float64)),
        np.atleast_2d(np.asarray(sigma2, dtype=np.float64)),
    )
    dims = mu1.shape[0]
    if mu2.shape != (dims,) or sigma1.shape != (dims, dims) or sigma2.shape != (dims, dims):
        raise ValueError(
            f"statistics do not match: mu1 {mu1.shape}, mu2 {mu2.shape}, sigma1 {sigma1.shape}, sigma2 {sigma2.shape}"
        )
    diff = mu1 - mu2
    # The matrices are small (56 or 112 dims): one BLAS thread is faster than several, and much faster
    # on a busy machine (bench/metrics.py). The result does not depend on the thread count.
    with warnings.catch_warnings(), _threadpools().limit(limits=1, user_api="blas"):
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(sigma1 @ sigma2)
        if not np.isfinite(covmean).all():
            offset = np.eye(dims) * eps
            covmean = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):
        imaginary = np.abs(np.diagonal(covmean).imag).max()
        if imaginary > FD_MAX_IMAGINARY:
            raise ValueError(
                f"sqrtm(sigma1 @ sigma2) has an imaginary part of {imaginary:.3g} on its diagonal "
                f"(limit {FD_MAX_IMAGINARY}): the covariances are not positive semi-definite"
            )
        covmean = covmean.real
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean))


def frechet_distance(pred, gt) -> float:
    """FD between Gaussians fitted over the frames of two windows `(frames, dims)` (any frame counts >= 2)."""
    pred, gt = _as_window(pred, "pred"), _as_window(gt, "gt")
    if pred.shape[1] != gt.shape[1]:
        raise ValueError(
            f"pred and gt must have the same number of dims, got {pred.shape[1]} and {gt.shape[1]}"
        )
    mu1, sigma1 = gaussian_statistics(pred)
    mu2, sigma2 = gaussian_statistics(gt)
    return frechet_distance_from_statistics(mu1, sigma1, mu2, sigma2)


def paired_frechet_distance(pred, gt, speaker) -> float:
    """FD of ``[speaker, pred]`` against ``[speaker, gt]``, concatenated along dims.

    Args:
        pred (`np.ndarray` of shape `(frames, dims)`): generated listener motion.
        gt (`np.ndarray` of shape `(frames, dims)`): ground-truth listener motion.
        speaker (`np.ndarray` of shape `(frames, speaker_dims)`): the speaker motion of the window.
    """
    pred, gt, speaker = _as_window(pred, "pred"), _as_window(gt, "gt"), _as_window(speaker, "speaker")
    _same_shape(pred, gt)
    if speaker.shape[0] != gt.shape[0]:
        raise ValueError(f"speaker has {speaker.shape[0]} frames but the listener windows have {gt.shape[0]}")
    return frechet_distance(np.concatenate([speaker, pred], axis=1), np.concatenate([speaker, gt], axis=1))


def variation(x) -> float:
    """Mean over dims of the variance over frames (``ddof=0``) of one window `(frames, dims)`."""
    return float(np.mean(np.var(_as_window(x, "x"), axis=0)))


def diversity(x, seed: int = 0) -> float:
    """Mean distance between two seeded draws of frames of one window `(frames, dims)`.

    ``n = 30`` frames per draw (10 when the window has 30 frames or fewer), drawn without
    replacement by ``np.random.default_rng(seed)``; the window needs more than ``n`` frames.
    """
    x = _as_window(x, "x")
    frames = x.shape[0]
    draws = 30 if frames > 30 else 10
    if frames <= draws:
        raise ValueError(f"diversity needs more than {draws} frames, got {frames}")
    rng = np.random.default_rng(seed)
    first = rng.choice(frames, draws, replace=False)
    second = rng.choice(frames, draws, replace=False)
    return float(np.linalg.norm(x[first] - x[second], axis=1).mean())


def window_means(values, window: int = 30) -> np.ndarray:
    """Means `(frames // window,)` of non-overlapping windows of a per-frame curve `(frames,)`."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(f"expected a per-frame curve of shape (frames,), got shape {values.shape}")
    if window <= 0:
        raise ValueError(f"window must be positive, got {window}")
    count = values.shape[0] // window
    return values[: count * window].reshape(count, window).mean(axis=1)


def l2_affect(pred_valence, gt_valence, window: int = 30) -> float:
    """MSE between window-averaged predicted and ground-truth valence.

    Args:
        pred_valence (`np.ndarray` of shape `(frames,)`): per-frame valence of the generated motion.
        gt_valence (`np.ndarray` of shape `(frames,)`): per-frame valence of the ground truth.
        window (`int`, defaults to 30): frames per averaging window; a trailing partial window is dropped.

    Raises:
        ValueError: if the curves differ in length or are shorter than one window.
    """
    pred_means, gt_means = window_means(pred_valence, window), window_means(gt_valence, window)
    if np.shape(pred_valence) != np.shape(gt_valence):
        raise ValueError(
            f"valence curves differ in length: {np.shape(pred_valence)} and {np.shape(gt_valence)}"
        )
    if gt_means.size == 0:
        raise ValueError(f"l2_affect needs at least {window} frames, got {np.shape(gt_valence)[0]}")
    return float(np.mean((pred_means - gt_means) ** 2))


__all__ = [
    "l2",
    "gaussian_statistics",
    "frechet_distance_from_statistics",
    "frechet_distance",
    "paired_frechet_distance",
    "variation",
    "diversity",
    "window_means",
    "l2_affect",
]
