"""Safe, checked reading of release files: every error names the file, the record and the key."""

import os
import pickle
from collections.abc import Mapping

import numpy as np
import torch

from ..modeling.constants import MOTION_DIM


def load_torch_file(path: str, mmap: bool = False):
    """Read a `.pth` file with `torch.load(..., weights_only=True)`: tensors and plain containers only.

    `mmap=True` (zip-format files only) maps the tensor data instead of reading it: a cheap check of the file.

    Raises:
        ValueError: the file is missing, unreadable, or carries arbitrary pickled objects (refused: loading
            them would run code).
    """
    if not os.path.isfile(path):
        raise ValueError(f"no file at {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as error:
        raise ValueError(
            f"{path} holds pickled objects other than tensors, numbers, strings and plain containers; refusing "
            f"to load it (it is read with torch.load(weights_only=True) only). Details: {error}"
        ) from None
    except Exception as error:  # torch raises many types on corrupt input (RuntimeError, IndexError, ...)
        raise ValueError(f"{path} is not a readable torch file: {type(error).__name__}: {error}") from None


def load_npy(path: str) -> np.ndarray:
    """Read a `.npy` array without unpickling (`allow_pickle=False`)."""
    if not os.path.isfile(path):
        raise ValueError(f"no file at {path}")
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise ValueError(f"{path} is not a readable .npy array of numbers: {error}") from None


def require(record: Mapping, key: str, where: str):
    """`record[key]`, or a ValueError naming `where` (file and record) and the missing key."""
    if not isinstance(record, Mapping):
        raise ValueError(f"{where}: expected a dict of fields, got {type(record).__name__}")
    if key not in record:
        raise ValueError(f"{where}: missing key {key!r} (has {sorted(map(str, record))})")
    return record[key]


def as_array(value, key: str, where: str, width: int | None = None, dtype=np.float32) -> np.ndarray:
    """`value` (tensor, array or nested list) as a numpy array; 2-D `(frames, width)` when `width` is given."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    try:
        array = np.asarray(value, dtype=dtype)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{where}: key {key!r} is not numeric: {error}") from None
    if width is not None and (array.ndim != 2 or array.shape[1] != width):
        raise ValueError(f"{where}: key {key!r} must have shape (frames, {width}), got {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{where}: key {key!r} contains NaN or infinite values")
    return array


def check_lengths(arrays: Mapping[str, np.ndarray], where: str) -> int:
    """The common number of frames of `arrays`, or a ValueError listing each key's length."""
    lengths = {key: len(array) for key, array in arrays.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"{where}: mismatched frame counts {lengths}")
    frames = next(iter(lengths.values()))
    if frames == 0:
        raise ValueError(f"{where}: no frames in {sorted(lengths)}")
    return frames


def motion_statistics(dataset=None, data_dir: str | None = None, epsilon: float = 1e-6):
    """Z-normalisation statistics `(mean, std)`, each float32 `(56,)`, of listener motion.

    The release's own `mean.npy` / `std.npy` in `data_dir` when both are there; otherwise computed over every
    frame of `dataset["listener_motion"]` (pass the train split). Standard deviations are floored at
    `epsilon` so that a constant channel does not divide by zero.
    """
    if data_dir is not None and all(
        os.path.isfile(os.path.join(data_dir, f"{n}.npy")) for n in ("mean", "std")
    ):
        mean = load_npy(os.path.join(data_dir, "mean.npy")).astype(np.float32).reshape(-1)
        std = load_npy(os.path.join(data_dir, "std.npy")).astype(np.float32).reshape(-1)
        for name, value in (("mean.npy", mean), ("std.npy", std)):
            if value.shape != (MOTION_DIM,):
                raise ValueError(
                    f"{os.path.join(data_dir, name)} must hold {MOTION_DIM} values, got {value.shape}"
                )
        return mean, np.maximum(std, epsilon)
    if dataset is None:
        raise ValueError(f"no mean.npy/std.npy in {data_dir}: pass the train split to compute the statistics")
    if len(dataset) == 0:
        raise ValueError("cannot compute motion statistics from an empty split")
    total, squares, count = np.zeros(MOTION_DIM), np.zeros(MOTION_DIM), 0
    for batch in dataset.select_columns(["listener_motion"]).with_format("numpy").iter(batch_size=256):
        for motion in batch["listener_motion"]:
            motion = np.asarray(motion, dtype=np.float64)
            total, squares, count = total + motion.sum(0), squares + (motion**2).sum(0), count + len(motion)
    mean = total / count
    std = np.sqrt(np.maximum(squares / count - mean**2, 0.0))
    return mean.astype(np.float32), np.maximum(std, epsilon).astype(np.float32)


__all__ = ["as_array", "check_lengths", "load_npy", "load_torch_file", "motion_statistics", "require"]
