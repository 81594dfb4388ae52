"""Video of listening heads: motion `(T, 56)` -> a head mesh -> a CPU rasterizer -> MP4 (PyAV).

Reads motion arrays only; imports no model. Two heads: FLAME from the user's model file (`load_flame`) and
the package's built-in parametric head (`builtin_head`, a proxy for FLAME, not FLAME).
"""

from .builtin_head import EXPRESSION_TABLE, SHAPE_TABLE, builtin_head
from .flame import FLAME_URL, load_flame
from .head_model import HeadModel
from .rasterizer import Framing, rasterize
from .render import Panel, check_panels, load_head, render_frames, render_video, video_panels
from .video import write_video

__all__ = [
    "EXPRESSION_TABLE",
    "FLAME_URL",
    "Framing",
    "HeadModel",
    "Panel",
    "SHAPE_TABLE",
    "builtin_head",
    "check_panels",
    "load_flame",
    "load_head",
    "rasterize",
    "render_frames",
    "render_video",
    "video_panels",
    "write_video",
]
