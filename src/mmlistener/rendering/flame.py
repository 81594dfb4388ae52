"""FLAME from the user's model file, as a `HeadModel`.

FLAME's licence forbids redistributing the model, so users download FLAME 2020 (`generic_model.pkl`) from
https://flame.is.tue.mpg.de themselves and pass its path. The file is read by `safe_pickle` (no chumpy,
no code from the file runs). FLAME 2020's `shapedirs` has 400 columns, 300 shape then 100 expression
components: the renderer uses the first 100 shape and the first 50 expression components, the standard
FLAME pose blend shapes and linear blend skinning over its 5 joints (root, neck, jaw, eyes). The motion's
head rotation drives the neck joint, its jaw rotation the jaw joint; the root and eyes stay at rest.
"""

import os

import numpy as np

from .head_model import HeadModel
from .safe_pickle import ChumpyArray, SparseCSC, load_restricted

FLAME_URL = "https://flame.is.tue.mpg.de"
FLAME_HINT = (
    f"expected FLAME 2020's generic_model.pkl, which you download from {FLAME_URL} after accepting its licence "
    "(the licence forbids shipping it with this package)"
)
NUM_SHAPE, NUM_EXPRESSION, FLAME_SHAPE_COLUMNS, FLAME_COLUMNS = 100, 50, 300, 400
NECK, JAW = 1, 2
FLAME_COLOR = (0.80, 0.72, 0.66)


def _array(model: dict, key: str, path: str) -> np.ndarray:
    if key not in model:
        raise ValueError(f"{path} has no {key!r}: {FLAME_HINT}")
    value = model[key]
    if isinstance(value, ChumpyArray):
        value = value.array
    elif isinstance(value, SparseCSC):
        value = value.toarray()
    return np.asarray(value)


def load_flame(path: str) -> HeadModel:
    """Load FLAME 2020 from `path` (its `generic_model.pkl`).

    Raises:
        FileNotFoundError: no file at `path` (the message says where to get it).
        ValueError: the file is not a FLAME model, or names anything outside the unpickler's allow-list.
    """
    if not path or not os.path.isfile(path):
        raise FileNotFoundError(f"no FLAME model at {path!r}: {FLAME_HINT}")
    model = load_restricted(path)
    if not isinstance(model, dict):
        raise ValueError(f"{path} holds a {type(model).__name__}, not a dict of FLAME arrays: {FLAME_HINT}")
    template = _array(model, "v_template", path).astype(np.float64)
    num_vertices = len(template)
    shapedirs = _array(model, "shapedirs", path).astype(np.float64)
    posedirs = _array(model, "posedirs", path).astype(np.float64)
    regressor = _array(model, "J_regressor", path).astype(np.float64)
    weights = _array(model, "weights", path).astype(np.float64)
    parents = _array(model, "kintree_table", path)[0].astype(np.int64)
    faces = _array(model, "f", path).astype(np.int64)
    num_joints = len(parents)
    expected = {
        "v_template": (template.shape, (num_vertices, 3)),
        "shapedirs": (shapedirs.shape, (num_vertices, 3, FLAME_COLUMNS)),
        "posedirs": (posedirs.shape, (num_vertices, 3, 9 * (num_joints - 1))),
        "J_regressor": (regressor.shape, (num_joints, num_vertices)),
        "weights": (weights.shape, (num_vertices, num_joints)),
    }
    for key, (shape, wanted) in expected.items():
        if shape != wanted:
            raise ValueError(f"{path}: {key} has shape {shape}, expected {wanted} for FLAME 2020; {FLAME_HINT}")
    parents[0] = -1  # the root's parent is stored as an unsigned -1
    tree_ok = num_joints > JAW and (parents[1:] < np.arange(1, num_joints)).all() and (parents[1:] >= 0).all()
    faces_ok = faces.ndim == 2 and faces.shape[1] == 3 and faces.min() >= 0 and faces.max() < num_vertices
    if not (tree_ok and faces_ok):
        raise ValueError(f"{path}: faces or joint tree do not fit a FLAME mesh; {FLAME_HINT}")
    return HeadModel(
        name="FLAME",
        template=template,
        faces=faces,
        shapedirs=shapedirs[..., :NUM_SHAPE],
        exprdirs=shapedirs[..., FLAME_SHAPE_COLUMNS : FLAME_SHAPE_COLUMNS + NUM_EXPRESSION],
        joint_regressor=regressor,
        parents=parents,
        weights=weights,
        face_colors=np.tile(np.asarray(FLAME_COLOR), (len(faces), 1)),
        posedirs=posedirs,
        head_joint=NECK,
        jaw_joint=JAW,
    )


__all__ = ["FLAME_URL", "load_flame"]
