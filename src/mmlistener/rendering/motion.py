"""The checks every public entry of the renderer applies to its inputs.

A frame is 56 values (REFERENCE §1, the layout of `mmlistener.modeling.constants`): `[0:50]` FLAME expression
coefficients, `[50:53]` global head rotation and `[53:56]` jaw rotation, both axis-angle in radians. An identity
is a FLAME shape vector beta `(100,)`.
"""

import numpy as np

from ..modeling.constants import IDENTITY_DIM, MOTION_DIM


def check_motion(motion, name: str = "motion") -> np.ndarray:
    """`motion` as float64 `(T, 56)` with `T >= 1`; a `ValueError` naming `name` otherwise (shape, NaN/inf)."""
    array = np.asarray(motion, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != MOTION_DIM or array.shape[0] == 0:
        raise ValueError(
            f"{name} must have shape (frames, {MOTION_DIM}) with at least one frame "
            f"(50 expression + 3 head rotation + 3 jaw), got {array.shape}"
        )
    if not np.isfinite(array).all():
        frame = int(np.flatnonzero(~np.isfinite(array).all(axis=1))[0])
        raise ValueError(f"{name} contains NaN or infinite values (first at frame {frame})")
    return array


def check_identity(identity, name: str = "identity") -> np.ndarray:
    """A shape beta as float64 `(100,)` (zeros when `identity` is None); a `ValueError` naming `name` otherwise."""
    if identity is None:
        return np.zeros(IDENTITY_DIM)
    array = np.asarray(identity, dtype=np.float64)
    if array.shape != (IDENTITY_DIM,):
        raise ValueError(f"{name} must be a FLAME shape beta of shape ({IDENTITY_DIM},), got {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return array


__all__ = ["check_identity", "check_motion"]
