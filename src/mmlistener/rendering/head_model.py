"""A head as FLAME builds one: blend shapes, then linear blend skinning over a small joint tree.

Both heads of the package are a `HeadModel`: FLAME from the user's model file (`flame.py`) and the
built-in parametric head (`builtin_head.py`). Only the arrays differ.
"""

from dataclasses import dataclass

import numpy as np

from ..modeling.constants import HEAD_ROTATION, JAW_ROTATION
from .motion import check_identity, check_motion


def axis_angle_to_matrix(rotation: np.ndarray) -> np.ndarray:
    """Rodrigues' formula: axis-angle vectors `(..., 3)` (radians) -> rotation matrices `(..., 3, 3)`."""
    rotation = np.asarray(rotation, dtype=np.float64)
    angle = np.linalg.norm(rotation, axis=-1, keepdims=True)
    axis = rotation / np.maximum(angle, 1e-12)
    x, y, z = np.moveaxis(axis, -1, 0)
    zero = np.zeros_like(x)
    cross = np.stack([zero, -z, y, z, zero, -x, -y, x, zero], axis=-1).reshape(*rotation.shape[:-1], 3, 3)
    sin, cos = np.sin(angle)[..., None], np.cos(angle)[..., None]
    return np.eye(3) + sin * cross + (1.0 - cos) * (cross @ cross)


@dataclass
class HeadModel:
    """Blend shapes and skinning of a head mesh with `V` vertices, `F` faces and `K` joints.

    A frame of motion poses it as FLAME does: `template + shapedirs @ beta + exprdirs @ expression
    (+ posedirs @ pose feature)`, joints regressed from that mesh, then linear blend skinning with the
    head rotation on joint `head_joint` and the jaw rotation on joint `jaw_joint` (other joints rest).

    Attributes:
        name (`str`): shown in messages ("FLAME", "built-in head").
        template (`np.ndarray` of shape `(V, 3)`): the neutral mesh, y up, the face looking along +z.
        faces (`np.ndarray` of shape `(F, 3)`, int): triangles, counter-clockwise seen from outside.
        shapedirs (`np.ndarray` of shape `(V, 3, S)`): identity blend shapes, `S <= 100` (beta's first `S`).
        exprdirs (`np.ndarray` of shape `(V, 3, E)`): expression blend shapes, `E <= 50` (the first `E`).
        joint_regressor (`np.ndarray` of shape `(K, V)`): joint positions as weighted sums of vertices.
        parents (`np.ndarray` of shape `(K,)`, int): parent of each joint, `-1` for the root (joint 0);
            parents come before their children.
        weights (`np.ndarray` of shape `(V, K)`): skinning weights, rows summing to 1.
        face_colors (`np.ndarray` of shape `(F, 3)`): RGB albedo of each face in `[0, 1]`.
        posedirs (`np.ndarray` of shape `(V, 3, 9 * (K - 1))`, *optional*): pose-corrective blend shapes
            driven by `(R_k - I)` of joints `1..K-1`, flattened row-major.
        head_joint (`int`), jaw_joint (`int`): the joints the head and jaw rotations drive.
        expression_limits (`np.ndarray` of shape `(E,)`, *optional*): soft limits `L`: coefficient `c` acts as
            `L * tanh(c / L)` (linear near 0, never beyond `L`), for blend shapes that fold over when pushed
            far; FLAME has none.
    """

    name: str
    template: np.ndarray
    faces: np.ndarray
    shapedirs: np.ndarray
    exprdirs: np.ndarray
    joint_regressor: np.ndarray
    parents: np.ndarray
    weights: np.ndarray
    face_colors: np.ndarray
    posedirs: np.ndarray | None = None
    head_joint: int = 1
    jaw_joint: int = 2
    expression_limits: np.ndarray | None = None

    def vertices(self, motion, identity=None) -> np.ndarray:
        """Posed meshes of a clip.

        Args:
            motion (`np.ndarray` of shape `(T, 56)`): expression, head rotation, jaw rotation per frame.
            identity (`np.ndarray` of shape `(100,)`, *optional*): shape beta; the mean shape when None.

        Returns:
            `np.ndarray` of shape `(T, V, 3)`.
        """
        motion = check_motion(motion)
        beta = check_identity(identity)
        num_frames, num_vertices = len(motion), len(self.template)
        shaped = self.template + self.shapedirs @ beta[: self.shapedirs.shape[-1]]
        expression = motion[:, : self.exprdirs.shape[-1]]
        if self.expression_limits is not None:
            expression = self.expression_limits * np.tanh(expression / self.expression_limits)
        offsets = expression @ self.exprdirs.reshape(num_vertices * 3, -1).T
        meshes = shaped[None] + offsets.reshape(num_frames, num_vertices, 3)
        joints = np.einsum("kv,tvc->tkc", self.joint_regressor, meshes)

        local = np.broadcast_to(np.eye(3), (num_frames, len(self.parents), 3, 3)).copy()
        local[:, self.head_joint] = axis_angle_to_matrix(motion[:, HEAD_ROTATION])
        local[:, self.jaw_joint] = axis_angle_to_matrix(motion[:, JAW_ROTATION])
        if self.posedirs is not None:
            feature = (local[:, 1:] - np.eye(3)).reshape(num_frames, -1)
            meshes = meshes + (feature @ self.posedirs.reshape(num_vertices * 3, -1).T).reshape(meshes.shape)
        return self._skin(meshes, joints, local)

    def _skin(self, meshes: np.ndarray, joints: np.ndarray, local: np.ndarray) -> np.ndarray:
        """Linear blend skinning of rest-pose `meshes (T, V, 3)` with `joints (T, K, 3)` and `local (T, K, 3, 3)`."""
        world_rotation = np.empty_like(local)
        world_translation = np.empty_like(joints)
        for joint, parent in enumerate(self.parents):
            if parent < 0:
                world_rotation[:, joint] = local[:, joint]
                world_translation[:, joint] = joints[:, joint]
                continue
            world_rotation[:, joint] = world_rotation[:, parent] @ local[:, joint]
            offset = (joints[:, joint] - joints[:, parent])[..., None]
            world_translation[:, joint] = (world_rotation[:, parent] @ offset)[..., 0] + world_translation[:, parent]
        # each joint's transform relative to its rest position: x -> R (x - J) + t
        posed = np.zeros_like(meshes)
        for joint in range(len(self.parents)):
            weight = self.weights[:, joint]
            if not weight.any():
                continue
            moved = (meshes - joints[:, joint, None]) @ np.swapaxes(world_rotation[:, joint], 1, 2)
            posed += weight[None, :, None] * (moved + world_translation[:, joint, None])
        return posed


__all__ = ["HeadModel", "axis_angle_to_matrix"]
