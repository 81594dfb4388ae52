"""Live listening: the speaker's features in as they become known, listener frames out as each group completes."""

from .decoding import DEFAULT_LOOK_BACK, StreamingDecoder
from .listener_stream import ListenerStream

__all__ = ["DEFAULT_LOOK_BACK", "ListenerStream", "StreamingDecoder"]
