"""A small CPU rasterizer: triangles -> an RGB image with a z-buffer, back-face culling and flat Lambert
shading, vectorised with numpy.

Why our own: the usual Python renderers (pyrender, moderngl, the VTK/pyvista wheels, open3d) all load the
system's libGL / libEGL / libOSMesa at run time, so none of them renders on a headless machine that lacks
those system packages, and pip cannot install them. A head mesh of a few thousand faces at 256 x 256 needs
no GPU: this rasterizer draws one in a few tens of milliseconds on one core.

The camera is orthographic and looks along -z (y up): a `Framing` maps world x, y to pixels.
"""

from dataclasses import dataclass

import numpy as np

LIGHT = np.array([-0.35, 0.45, 1.0]) / np.linalg.norm([-0.35, 0.45, 1.0])  # towards the light, from the upper left
AMBIENT, DIFFUSE = 0.35, 0.65
BACKGROUND = (0.93, 0.93, 0.93)


@dataclass(frozen=True)
class Framing:
    """Where the world's `center` (x, y) lands (the image centre) and how many pixels a world unit spans."""

    center_x: float
    center_y: float
    pixels_per_unit: float
    size: int

    @classmethod
    def fit(cls, vertices: np.ndarray, size: int, fill: float = 0.8) -> "Framing":
        """The framing that fits `vertices (V, 3)`'s x-y bounding box in `fill` of a `size` x `size` image."""
        low, high = vertices[:, :2].min(axis=0), vertices[:, :2].max(axis=0)
        extent = max(float((high - low).max()), 1e-9)
        center = (low + high) / 2
        return cls(float(center[0]), float(center[1]), fill * size / extent, size)

    def project(self, vertices: np.ndarray) -> np.ndarray:
        """World `(V, 3)` -> `(V, 3)` of pixel column, pixel row (both continuous, pixel centres at `i + 0.5`) and
        depth (world z, larger is nearer)."""
        column = (vertices[:, 0] - self.center_x) * self.pixels_per_unit + self.size / 2
        row = self.size / 2 - (vertices[:, 1] - self.center_y) * self.pixels_per_unit
        return np.stack([column, row, vertices[:, 2]], axis=1)


def _fragments(triangles: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixels covered by projected triangles `(N, 3, 3)` (column, row, depth per corner).

    Each triangle is tested against the pixel centres of its bounding box; triangles are grouped by box size
    (1, 2, 4, 8, ... pixels a side) so that each group is one array operation on `N_k x k x k` candidates.

    Returns:
        `(pixel, depth, triangle)`: flat pixel index `row * size + column`, interpolated depth and the index
        of the triangle, one entry per covered pixel.
    """
    column, row, depth = triangles[..., 0], triangles[..., 1], triangles[..., 2]
    first_column = np.maximum(np.ceil(column.min(axis=1) - 0.5), 0).astype(np.int64)
    last_column = np.minimum(np.floor(column.max(axis=1) - 0.5), size - 1).astype(np.int64)
    first_row = np.maximum(np.ceil(row.min(axis=1) - 0.5), 0).astype(np.int64)
    last_row = np.minimum(np.floor(row.max(axis=1) - 0.5), size - 1).astype(np.int64)
    box = np.maximum(last_column - first_column, last_row - first_row) + 1
    area = (column[:, 1] - column[:, 0]) * (row[:, 2] - row[:, 0]) - (column[:, 2] - column[:, 0]) * (row[:, 1] - row[:, 0])
    visible = (last_column >= first_column) & (last_row >= first_row) & (np.abs(area) > 1e-12)
    side = np.where(visible, 2 ** np.ceil(np.log2(np.maximum(box, 1))).astype(np.int64), 0)

    pixels, depths, owners = [], [], []
    for k in np.unique(side[side > 0]):
        group = np.flatnonzero(side == k)
        offset_row, offset_column = np.divmod(np.arange(k * k), k)
        px = first_column[group, None] + offset_column[None]  # (n, k*k)
        py = first_row[group, None] + offset_row[None]
        x, y = px + 0.5, py + 0.5
        c, r, z, a = column[group], row[group], depth[group], area[group, None]
        weight1 = ((x - c[:, :1]) * (r[:, 2:] - r[:, :1]) - (c[:, 2:] - c[:, :1]) * (y - r[:, :1])) / a
        weight2 = ((c[:, 1:2] - c[:, :1]) * (y - r[:, :1]) - (x - c[:, :1]) * (r[:, 1:2] - r[:, :1])) / a
        weight0 = 1.0 - weight1 - weight2
        inside = (weight0 >= -1e-9) & (weight1 >= -1e-9) & (weight2 >= -1e-9)
        inside &= (px <= last_column[group, None]) & (py <= last_row[group, None])
        hit = np.nonzero(inside)
        pixels.append(py[hit] * size + px[hit])
        depths.append((weight0 * z[:, :1] + weight1 * z[:, 1:2] + weight2 * z[:, 2:])[hit])
        owners.append(group[hit[0]])
    if not pixels:
        return np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.int64)
    return np.concatenate(pixels), np.concatenate(depths), np.concatenate(owners)


def rasterize(
    vertices: np.ndarray, faces: np.ndarray, face_colors: np.ndarray, framing: Framing, background=BACKGROUND
) -> np.ndarray:
    """Draw a mesh.

    Args:
        vertices (`np.ndarray` of shape `(V, 3)`): world positions (y up, the viewer on +z).
        faces (`np.ndarray` of shape `(F, 3)`, int): counter-clockwise triangles seen from outside; faces
            turned away from the viewer are culled.
        face_colors (`np.ndarray` of shape `(F, 3)`): RGB albedo in `[0, 1]`, shaded flat by Lambert's law
            with one directional light (`LIGHT`) plus an ambient term.
        framing (`Framing`): the orthographic camera and the image size.
        background (3 floats): RGB of empty pixels.

    Returns:
        `np.ndarray` of shape `(size, size, 3)`, uint8.
    """
    corners = vertices[faces]
    normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    front = np.flatnonzero(normals[:, 2] > 0)
    normals = normals[front] / np.linalg.norm(normals[front], axis=1, keepdims=True)
    shade = AMBIENT + DIFFUSE * np.clip(normals @ LIGHT, 0.0, 1.0)
    colors = np.clip(face_colors[front] * shade[:, None], 0.0, 1.0)

    projected = framing.project(vertices)[faces[front]]
    pixel, depth, owner = _fragments(projected, framing.size)
    # nearest fragment per pixel: sort by depth (nearest first), then keep the first of each pixel
    order = np.argsort(-depth, kind="stable")
    pixel, owner = pixel[order], owner[order]
    nearest_first = np.argsort(pixel, kind="stable")
    pixel, owner = pixel[nearest_first], owner[nearest_first]
    first = np.ones(len(pixel), bool)
    first[1:] = pixel[1:] != pixel[:-1]

    image = np.empty((framing.size * framing.size, 3))
    image[:] = background
    image[pixel[first]] = colors[owner[first]]
    return (image.reshape(framing.size, framing.size, 3) * 255.0 + 0.5).astype(np.uint8)


__all__ = ["Framing", "rasterize"]
