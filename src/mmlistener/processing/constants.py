"""The motion layout and timing defaults as the processor's files import them (`from .constants import ...`).

In the package this module hands on `mmlistener.modeling.constants`, the one definition; beside a saved processor
(Hub remote code) `ListenerProcessor.save_pretrained` writes that file in this module's place (see
`token_layout.py` here for why the import is absolute).
"""

from mmlistener.modeling.constants import FPS, GROUP_SIZE, HISTORY_SECONDS, IDENTITY_DIM, MOTION_DIM

__all__ = ["FPS", "GROUP_SIZE", "HISTORY_SECONDS", "IDENTITY_DIM", "MOTION_DIM"]
