"""The built-in head: a parametric mesh made by this package, driven by the same 56 values as FLAME.

It is a proxy for FLAME, not FLAME: a deformed sphere with a nose, lips, eyes, brows and hair, whose
blend shapes and joints are written here by hand, so that motion can be watched without the licensed
FLAME file. The head rotation `[50:53]` turns it about a neck pivot below the chin (positive x rotation
nods down, as in FLAME); the jaw rotation `[53:56]` opens the mouth about a hinge at ear height; the first
expression coefficients move the features listed in `EXPRESSION_TABLE`, the other coefficients
(6..49) move nothing. FLAME's expression basis is a PCA whose components mix several features, so the
same coefficients look alike on both heads only in spirit (FLAME's first components also open the mouth
and stretch the lips), not in detail.

Coordinates: a unit sphere point `(u, v, w)` (x right of the image, y up, z towards the viewer) is
stretched into an ellipsoid of half-axes `(0.75, 1.0, 0.85)`; features are placed by their `(u, v)` on
the front of the sphere, so they keep their place whatever the identity.
"""

import numpy as np

from .head_model import HeadModel

# (coefficient, name, what moves per unit of the coefficient, soft limit); the fields are in `_expression_dirs`.
# A coefficient c acts as limit * tanh(c / limit): linear near 0, never beyond the limit.
EXPRESSION_TABLE = (
    (0, "mouth open", "lower lip and chin down 0.06, upper lip up 0.015: the lips part (negative: pressed)", 2.0),
    (1, "smile", "mouth corners up 0.05, out 0.03 and back; cheeks up (negative: corners down)", 2.0),
    (2, "brow raise", "both brows up 0.06 (negative: lowered)", 2.0),
    (3, "eyelids close", "upper eyelids down, 1 = closed (negative: eyes wide open)", 1.0),
    (4, "brow frown", "inner brows down 0.04 and together 0.02", 2.0),
    (5, "lip pucker", "mouth narrows by 20 %, lips forward 0.04", 1.5),
)
SHAPE_TABLE = (
    (0, "head width", "x scaled by 1 + 0.05 beta"),
    (1, "head height", "y scaled by 1 + 0.04 beta"),
    (2, "jaw width", "lower face x scaled by 1 + 0.06 beta"),
    (3, "nose length", "nose 0.05 longer per unit"),
    (4, "face depth", "z scaled by 1 + 0.04 beta"),
)

NUM_RINGS, NUM_SEGMENTS = 60, 72
RADII = np.array([0.75, 1.0, 0.85])
MOUTH_V, MOUTH_HALF_WIDTH = -0.45, 0.22
EYE_U, EYE_V, EYE_HALF_WIDTH, EYE_HALF_HEIGHT = 0.3, 0.12, 0.13, 0.065
BROW_U, BROW_V = 0.3, 0.28

SKIN, LIPS, MOUTH, SCLERA, IRIS, BROW, HAIR = (
    (0.87, 0.70, 0.60), (0.72, 0.36, 0.36), (0.25, 0.05, 0.07), (0.96, 0.96, 0.94),
    (0.22, 0.14, 0.09), (0.24, 0.16, 0.11), (0.33, 0.22, 0.15),
)  # fmt: skip


def _smoothstep(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    """0 at `edge0`, 1 at `edge1` (either order), cubic in between."""
    t = np.clip((x - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _bump(u: np.ndarray, v: np.ndarray, center_u: float, center_v: float, width: float, height: float):
    """Gaussian bump on the front of the sphere."""
    return np.exp(-0.5 * (((u - center_u) / width) ** 2 + ((v - center_v) / height) ** 2))


def _sphere() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit-sphere vertices `(V, 3)`, outward faces `(F, 3)` and each vertex's ring `(V,)` (-1 and
    `NUM_RINGS` for the poles). Rings and segments are denser on the face (around the equator, in front)."""
    t = np.linspace(0.0, np.pi, NUM_RINGS + 2)[1:-1]
    theta = t + 0.3 * np.sin(2.0 * t)  # d theta / dt = 0.4 at the equator
    s = np.linspace(-np.pi, np.pi, NUM_SEGMENTS, endpoint=False)
    phi = s - 0.6 * np.sin(s)  # d phi / ds = 0.4 in front
    theta, phi = np.meshgrid(theta, phi, indexing="ij")
    rings = np.stack([np.sin(theta) * np.sin(phi), np.cos(theta), np.sin(theta) * np.cos(phi)], -1).reshape(-1, 3)
    points = np.concatenate([[[0.0, 1.0, 0.0]], rings, [[0.0, -1.0, 0.0]]])
    ring_of = np.concatenate([[-1], np.repeat(np.arange(NUM_RINGS), NUM_SEGMENTS), [NUM_RINGS]])

    index = 1 + np.arange(NUM_RINGS * NUM_SEGMENTS).reshape(NUM_RINGS, NUM_SEGMENTS)
    after = np.roll(index, -1, axis=1)
    top = np.stack([np.zeros(NUM_SEGMENTS, int), index[0], after[0]], axis=1)
    bottom = np.stack([np.full(NUM_SEGMENTS, len(points) - 1), after[-1], index[-1]], axis=1)
    a, b, c, d = index[:-1], index[1:], after[1:], after[:-1]
    quads = np.concatenate([np.stack([a, b, c], -1).reshape(-1, 3), np.stack([a, c, d], -1).reshape(-1, 3)])
    faces = np.concatenate([top, quads, bottom])
    corners = points[faces]
    normal = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    inward = (normal * corners.mean(axis=1)).sum(axis=1) < 0
    faces[inward] = faces[inward][:, ::-1]
    return points, faces, ring_of


def _closest_ring(points: np.ndarray, height: float) -> int:
    """The ring whose height `v` on the unit sphere is closest to `height`."""
    ring_v = points[1 :: NUM_SEGMENTS, 1][:NUM_RINGS]
    return int(np.argmin(np.abs(ring_v - height)))


def _template(points: np.ndarray, ring_of: np.ndarray, mouth_ring: int) -> np.ndarray:
    """The neutral head `(V, 3)`: the ellipsoid with a tapered jaw, nose, brow ridge, lips, chin, ears."""
    u, v, w = points.T
    front = np.clip(w, 0.0, 1.0) ** 2
    head = points * RADII
    head[:, 0] *= 1.0 - 0.15 * _smoothstep(-0.1, -1.0, v)  # narrower towards the chin
    depth = (
        0.20 * _bump(u, v, 0.0, -0.08, 0.08, 0.16)  # nose
        + 0.05 * _bump(np.abs(u), v, BROW_U, BROW_V + 0.02, 0.16, 0.06)  # brow ridge
        - 0.04 * _bump(np.abs(u), v, EYE_U, EYE_V, 0.12, 0.07)  # eye sockets
        + 0.05 * _bump(u, v, 0.0, MOUTH_V, 0.22, 0.08)  # lips
        + 0.05 * _bump(u, v, 0.0, -0.8, 0.2, 0.1)  # chin
    )
    head[:, 2] += depth * front
    head[:, 0] += np.sign(u) * 0.06 * _bump(w, v, 0.0, 0.0, 0.12, 0.15) * _smoothstep(0.75, 0.95, np.abs(u))  # ears
    # closed lips: the row of faces below the mouth ring is squeezed to a thin line inside the mouth
    lower_lip = ring_of == mouth_ring + 1
    squeeze = _smoothstep(MOUTH_HALF_WIDTH + 0.04, MOUTH_HALF_WIDTH - 0.06, np.abs(u)) * (w > 0)
    ring_y = head[ring_of == mouth_ring, 1].max()
    head[lower_lip, 1] += squeeze[lower_lip] * (ring_y - 0.006 - head[lower_lip, 1])
    return head


def _jaw_weight(points: np.ndarray, ring_of: np.ndarray, mouth_ring: int) -> np.ndarray:
    """Share `(V,)` of each vertex that follows the jaw: all of the lower lip and chin below the mouth
    ring (a sharp split between the lips), fading out over the cheeks, towards the back and the neck."""
    u, v, w = points.T
    sharp = (ring_of > mouth_ring).astype(float)
    smooth = _smoothstep(MOUTH_V, MOUTH_V - 0.25, v)
    lateral = _smoothstep(MOUTH_HALF_WIDTH + 0.08, MOUTH_HALF_WIDTH - 0.02, np.abs(u))
    return (lateral * sharp + (1.0 - lateral) * smooth) * _smoothstep(-0.2, 0.3, w)


def _expression_dirs(points: np.ndarray, jaw: np.ndarray, ring_of: np.ndarray, mouth_ring: int) -> np.ndarray:
    """Expression blend shapes `(V, 3, 6)`, one per row of `EXPRESSION_TABLE`."""
    u, v, w = points.T
    side = np.sign(u)
    front = _smoothstep(0.2, 0.5, w)
    dirs = np.zeros((len(points), 3, len(EXPRESSION_TABLE)))
    upper_lip = (ring_of <= mouth_ring) * _smoothstep(MOUTH_HALF_WIDTH, 0.1, np.abs(u))
    dirs[:, 1, 0] = -0.06 * jaw + 0.015 * upper_lip * _bump(u, v, 0.0, MOUTH_V, 1.0, 0.06)
    corners = _bump(np.abs(u), v, MOUTH_HALF_WIDTH, MOUTH_V, 0.09, 0.1)
    cheeks = _bump(np.abs(u), v, 0.35, -0.25, 0.1, 0.1)
    dirs[:, :, 1] = corners[:, None] * np.stack([0.03 * side, 0.05 + 0 * u, -0.02 + 0 * u], -1)
    dirs[:, 1:, 1] += 0.02 * cheeks[:, None]
    dirs[:, 1, 2] = 0.06 * _bump(np.abs(u), v, BROW_U, BROW_V, 0.16, 0.08)
    dirs[:, 1, 3] = -_eyelid_drop(u, v)
    inner_brows = _bump(np.abs(u), v, 0.18, BROW_V, 0.08, 0.07)
    dirs[:, 0, 4], dirs[:, 1, 4] = -0.02 * side * inner_brows, -0.04 * inner_brows
    pucker = _bump(u, v, 0.0, MOUTH_V, 0.2, 0.1)
    dirs[:, 0, 5], dirs[:, 2, 5] = -0.2 * u * pucker, 0.04 * pucker
    return dirs * front[:, None, None]


def _eyelid_drop(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """How far `(V,)` each vertex moves down when the eyes close: the upper half of each eye onto its middle
    line (so the eye's faces collapse), the lid above it by the eye's height, fading out towards the brow."""
    across = np.clip(1.0 - ((np.abs(u) - EYE_U) / EYE_HALF_WIDTH) ** 2, 0.0, 1.0)
    opening = EYE_HALF_HEIGHT * np.sqrt(across)
    above = np.maximum(v - EYE_V, 0.0)
    lid = opening * np.clip(1.0 - (above - opening) / 0.1, 0.0, 1.0)
    return np.where(above <= opening, above, lid)


def _shape_dirs(points: np.ndarray, template: np.ndarray) -> np.ndarray:
    """Identity blend shapes `(V, 3, 5)`, one per row of `SHAPE_TABLE`."""
    u, v, w = points.T
    dirs = np.zeros((len(points), 3, len(SHAPE_TABLE)))
    dirs[:, 0, 0] = 0.05 * template[:, 0]
    dirs[:, 1, 1] = 0.04 * template[:, 1]
    dirs[:, 0, 2] = 0.06 * template[:, 0] * _smoothstep(-0.2, -0.8, v)
    dirs[:, 2, 3] = 0.05 * _bump(u, v, 0.0, -0.08, 0.08, 0.16) * (w > 0)
    dirs[:, 2, 4] = 0.04 * template[:, 2]
    return dirs


def _face_colors(points: np.ndarray, faces: np.ndarray, ring_of: np.ndarray, mouth_ring: int) -> np.ndarray:
    """RGB `(F, 3)` of each face from where its centre sits on the sphere."""
    u, v, w = points[faces].mean(axis=1).T
    eye_u = np.abs(u) - EYE_U
    brow_u = (np.abs(u) - BROW_U) / 0.15
    front = w > 0.3
    rings = ring_of[faces]
    regions = [  # later regions paint over earlier ones
        (HAIR, (v > 0.62) | ((w < 0.1) & (v > -0.35 + 0.5 * np.clip(w + 0.6, 0, 1)))),
        (LIPS, front & ((u / (MOUTH_HALF_WIDTH + 0.02)) ** 2 + ((v - MOUTH_V) / 0.075) ** 2 < 1.0)),
        (MOUTH, (rings.min(1) == mouth_ring) & (rings.max(1) == mouth_ring + 1) & (np.abs(u) < MOUTH_HALF_WIDTH)
         & (w > 0)),
        (SCLERA, front & ((eye_u / EYE_HALF_WIDTH) ** 2 + ((v - EYE_V) / EYE_HALF_HEIGHT) ** 2 < 1.0)),
        (IRIS, front & ((eye_u / 0.055) ** 2 + ((v - EYE_V) / 0.055) ** 2 < 1.0)),
        (BROW, front & (brow_u**2 < 1.0) & (np.abs(v - BROW_V - 0.03 * (1.0 - brow_u**2)) < 0.03)),
    ]  # fmt: skip
    colors = np.tile(np.asarray(SKIN), (len(faces), 1))
    for color, mask in regions:
        colors[mask] = color
    return colors


def builtin_head() -> HeadModel:
    """The built-in parametric head (about 4.3k vertices, 8.6k faces): a proxy for FLAME, not FLAME.

    Joints: 0 root and 1 neck (both 1.15 x bottom pole - 0.15 x top pole, 0.3 below the chin), 2 jaw hinge
    (the mean of the ring at ear height). Identity moves `SHAPE_TABLE`'s proportions (beta's first 5 values).
    """
    points, faces, ring_of = _sphere()
    mouth_ring = _closest_ring(points, MOUTH_V)  # the lips part between this ring and the next one down
    template = _template(points, ring_of, mouth_ring)
    jaw = _jaw_weight(points, ring_of, mouth_ring)
    ear_ring = _closest_ring(points, -0.1)
    regressor = np.zeros((3, len(points)))
    regressor[:2, -1], regressor[:2, 0] = 1.15, -0.15
    regressor[2, ring_of == ear_ring] = 1.0 / NUM_SEGMENTS
    return HeadModel(
        name="built-in head",
        template=template,
        faces=faces,
        shapedirs=_shape_dirs(points, template),
        exprdirs=_expression_dirs(points, jaw, ring_of, mouth_ring),
        joint_regressor=regressor,
        parents=np.array([-1, 0, 1]),
        weights=np.stack([np.zeros(len(points)), 1.0 - jaw, jaw], axis=1),
        face_colors=_face_colors(points, faces, ring_of, mouth_ring),
        head_joint=1,
        jaw_joint=2,
        expression_limits=np.array([limit for *_, limit in EXPRESSION_TABLE]),
    )


__all__ = ["EXPRESSION_TABLE", "SHAPE_TABLE", "builtin_head"]
