"""Motion `(T, 56)` -> frames -> MP4: one panel per head (speaker, listener, ground truth, ours), side by side."""

import functools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..modeling.constants import FPS
from .builtin_head import builtin_head
from .head_model import HeadModel
from .motion import check_identity, check_motion
from .rasterizer import Framing, rasterize
from .video import check_audio, write_video

HEADS = ("builtin", "flame")
POSE_FRAMES = 64  # frames posed at a time by `render_frames` (FLAME: 8 MB of vertices, some copies while posing)


@dataclass
class Panel:
    """One head in the video.

    Attributes:
        motion (`np.ndarray` of shape `(T, 56)`): expression, head rotation, jaw rotation per frame.
        identity (`np.ndarray` of shape `(100,)`, *optional*): shape beta; the mean shape when None.
        label (`str`): written at the top of the panel (empty: no label).
    """

    motion: np.ndarray
    identity: np.ndarray | None = None
    label: str = ""


def load_head(head: str | HeadModel = "builtin", flame_model: str | None = None) -> HeadModel:
    """A `HeadModel`: `"builtin"` (the package's proxy head), `"flame"` (needs `flame_model`, the path of
    FLAME 2020's `generic_model.pkl`) or a `HeadModel` as it is."""
    if isinstance(head, HeadModel):
        return head
    if head == "builtin":
        return builtin_head()
    if head == "flame":
        from .flame import FLAME_URL, load_flame

        if flame_model is None:
            raise ValueError(f"head 'flame' needs flame_model, the path of FLAME 2020's generic_model.pkl ({FLAME_URL})")
        return load_flame(flame_model)
    raise ValueError(f"head must be one of {HEADS} or a HeadModel, got {head!r}")


@functools.lru_cache(maxsize=4)
def _font(size: int):
    """Pillow's built-in font at `size` pixels (no font file needed)."""
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


def _label(image: np.ndarray, text: str) -> np.ndarray:
    """`image` with `text` written at its top centre."""
    from PIL import Image, ImageDraw

    canvas = Image.fromarray(image)
    draw = ImageDraw.Draw(canvas)
    font = _font(max(10, image.shape[0] // 18))
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    draw.text(((image.shape[1] - (right - left)) / 2, image.shape[0] // 40), text, fill=(40, 40, 40), font=font)
    return np.asarray(canvas)


def render_frames(panels: Sequence[Panel], head: HeadModel, size: int = 256) -> Iterator[np.ndarray]:
    """Frames of panels drawn side by side, one at a time.

    Each panel is framed once, on its head at rest, so head motion shows as motion in the image. The heads are
    posed `POSE_FRAMES` frames at a time, so memory stays flat whatever the clip's length.

    Args:
        panels (`list` of `Panel`): all with the same number of frames `T`.
        head (`HeadModel`): the head every panel is drawn with.
        size (`int`): height and width of each panel in pixels (even).

    Yields:
        `np.ndarray` of shape `(size, size * len(panels), 3)`, uint8, `T` times.
    """
    framings = [Framing.fit(head.vertices(np.zeros_like(panel.motion[:1]), panel.identity)[0], size)
                for panel in panels]  # fmt: skip
    for first in range(0, len(panels[0].motion), POSE_FRAMES):
        meshes = [head.vertices(panel.motion[first : first + POSE_FRAMES], panel.identity) for panel in panels]
        for frame in range(len(meshes[0])):
            images = []
            for panel, mesh, framing in zip(panels, meshes, framings):
                image = rasterize(mesh[frame], head.faces, head.face_colors, framing)
                images.append(_label(image, panel.label) if panel.label else image)
            yield np.concatenate(images, axis=1)


def check_panels(panels: Sequence[Panel], size: int) -> list[Panel]:
    """Checked copies of `panels` (motion `(T, 56)` without NaN, beta `(100,)`, one `T` for all) and `size`."""
    if not panels:
        raise ValueError("nothing to render: no panels")
    if int(size) != size or size < 16 or size % 2:
        raise ValueError(f"size must be an even number of pixels >= 16, got {size!r}")
    checked = []
    for index, panel in enumerate(panels):
        name = panel.label or f"panel {index}"
        motion = check_motion(panel.motion, f"motion of {name}")
        checked.append(Panel(motion, check_identity(panel.identity, f"identity of {name}"), panel.label))
    lengths = {panel.label or str(index): len(panel.motion) for index, panel in enumerate(checked)}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"all motions must have the same number of frames, got {lengths}")
    return checked


def video_panels(listener_motion, speaker_motion=None, identity=None, speaker_identity=None) -> list[Panel]:
    """The panels of `render_video`, left to right: the speaker (when given), then the listener(s).

    `listener_motion` is one `(T, 56)` array or a list of `Panel`; a panel without identity takes `identity`.
    """
    if isinstance(listener_motion, Sequence) and listener_motion and isinstance(listener_motion[0], Panel):
        listeners = [Panel(p.motion, identity if p.identity is None else p.identity, p.label) for p in listener_motion]
    else:
        listeners = [Panel(listener_motion, identity, "listener" if speaker_motion is not None else "")]
    speaker = [] if speaker_motion is None else [Panel(speaker_motion, speaker_identity, "speaker")]
    return speaker + listeners


def render_video(
    listener_motion,
    out_path: str | Path,
    speaker_motion=None,
    audio=None,
    sampling_rate: int | None = None,
    identity=None,
    speaker_identity=None,
    size: int = 256,
    head: str | HeadModel = "builtin",
    flame_model: str | None = None,
    fps: int = FPS,
    progress: bool = False,
) -> Path:
    """Render listener motion (and the speaker beside it) to an MP4 at `fps` frames per second.

    Args:
        listener_motion (`np.ndarray` of shape `(T, 56)`, or a `list` of `Panel`): the listener; a list draws
            several listeners side by side, e.g. `[Panel(truth, beta, "ground truth"), Panel(ours, beta, "ours")]`
            (a panel without identity takes `identity`).
        out_path (`str` or `Path`): the `.mp4` to write; nothing is left there if rendering fails.
        speaker_motion (`np.ndarray` of shape `(T, 56)`, *optional*): drawn first, on the left, labelled "speaker".
        audio (`np.ndarray` of shape `(samples,)`, `(samples, channels)` or `(channels, samples)`, or the path of
            an audio file, *optional*): down-mixed to mono (`processing.audio.to_mono`) and muxed as AAC.
        sampling_rate (`int`, *optional*): samples per second of an `audio` array.
        identity (`np.ndarray` of shape `(100,)`, *optional*): the listener's shape beta.
        speaker_identity (`np.ndarray` of shape `(100,)`, *optional*): the speaker's shape beta.
        size (`int`): pixels per panel side; the video is `size` high and `size * panels` wide.
        head (`str` or `HeadModel`): `"builtin"` or `"flame"` (with `flame_model`).
        flame_model (`str`, *optional*): path of FLAME 2020's `generic_model.pkl`.
        fps (`int`): frames per second of the motion and the video.
        progress (`bool`): show a progress bar over the frames.

    Returns:
        `Path` of the written video.
    """
    panels = check_panels(video_panels(listener_motion, speaker_motion, identity, speaker_identity), size)
    waveform, rate = check_audio(audio, sampling_rate) if audio is not None else (None, None)
    model = load_head(head, flame_model)
    frames = tqdm(render_frames(panels, model, size), total=len(panels[0].motion), desc="rendering", unit="frame",
                  disable=not progress)  # fmt: skip
    return write_video(frames, out_path, fps=fps, audio=waveform, sampling_rate=rate)


__all__ = ["FPS", "HEADS", "Panel", "check_panels", "load_head", "render_frames", "render_video", "video_panels"]
