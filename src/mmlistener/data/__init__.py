"""Dataset builders (L2L-trevor, RealTalk), the example schema, and the synthetic dyadic corpus."""

from .features import EXAMPLE_FEATURES
from .l2l_trevor import L2LTrevor, L2LTrevorConfig
from .loading import build_dataset
from .media import media_path, window_audio
from .reading import load_torch_file, motion_statistics
from .realtalk import RealTalk, RealTalkConfig
from .synthetic import DyadicClip, sample_dyadic_clip, sample_identity_motion, write_synthetic_corpus
from .windowing import no_events, resample_motion, window_bounds, window_events, window_words

__all__ = [
    "EXAMPLE_FEATURES",
    "DyadicClip",
    "L2LTrevor",
    "L2LTrevorConfig",
    "RealTalk",
    "RealTalkConfig",
    "build_dataset",
    "load_torch_file",
    "media_path",
    "motion_statistics",
    "no_events",
    "resample_motion",
    "sample_dyadic_clip",
    "sample_identity_motion",
    "write_synthetic_corpus",
    "window_audio",
    "window_bounds",
    "window_events",
    "window_words",
]
