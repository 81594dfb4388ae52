"""The facts no model setting changes, and the defaults every setting of frame timing starts from.

The motion layout of a frame (REFERENCE §1), the same for the data, the models, the metrics and the renderer::

    [0:50]   FLAME expression coefficients
    [50:53]  global head rotation (axis-angle, radians)
    [53:56]  jaw rotation (axis-angle, radians)

An identity is a FLAME shape beta of `IDENTITY_DIM` values. The frame rate and the group size (frames per
listener token) are settings of [`ListenerConfig`] (`fps`, `group_size`) and of the processor that matches it;
`FPS` and `GROUP_SIZE` are their defaults, the corpora's frame rate and the paper's group. Everything that has a
config or a processor reads its values from there; only defaults read them here.

This file imports nothing: it is saved beside the models' and the processor's Hub remote code.
"""

EXPRESSION_DIM = 50
HEAD_ROTATION = slice(EXPRESSION_DIM, EXPRESSION_DIM + 3)
JAW_ROTATION = slice(EXPRESSION_DIM + 3, EXPRESSION_DIM + 6)
POSE_DIM = 6  # head rotation and jaw
MOTION_DIM = EXPRESSION_DIM + POSE_DIM
IDENTITY_DIM = 100

FPS = 30
GROUP_SIZE = 8
HISTORY_SECONDS = 3.0  # words spoken this long before a window enter it as history (the processor's default)

# speaker emotion classes in AffectNet order: 0 Neutral, 1 Happy, 2 Sad, 3 Surprise, 4 Fear, 5 Disgust, 6 Anger,
# 7 Contempt
NUM_EMOTIONS = 8
NEUTRAL = 0

__all__ = [
    "EXPRESSION_DIM",
    "FPS",
    "GROUP_SIZE",
    "HEAD_ROTATION",
    "HISTORY_SECONDS",
    "IDENTITY_DIM",
    "JAW_ROTATION",
    "MOTION_DIM",
    "NEUTRAL",
    "NUM_EMOTIONS",
    "POSE_DIM",
]
