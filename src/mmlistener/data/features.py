"""The one declaration of a dataset example (a window of a dyadic clip), shared by every builder.

An example holds one window of `T` frames:

- `speaker_motion`, `listener_motion` (`float32 (T, 56)`): raw (de-normalised) FLAME expression (50) +
  head rotation (3) + jaw (3) per frame (the layout of `mmlistener.modeling.constants`), at `fps` frames per
  second.
- `listener_identity` (`float32 (100,)`): the listener's FLAME shape beta (mean over the window's frames).
- `speaker_shape` (`float32 (100,)`): the speaker's shape beta (used by the emotion recogniser).
- `words`: `{"text", "start", "end"}` in seconds from the window's first frame, the words that end inside
  the window; `history_words`: the same for words spoken before it (negative times).
- `acoustic_codes`, `content_codes` (`int` lists at 50 Hz from the window's first frame, may be empty):
  SpeechTokenizer quantizer 2 and quantizer 1.
- `emotion_ids` (`int` list, one per group of 8 frames, may be empty): speaker emotion (AffectNet order).
- `source` (file or video the window comes from), `start_frame` (first frame of the window in `source`),
  `listener_id`, `fps`.
- `events`: ground-truth speaker events that listeners respond to, `{"utterance_ends", "joke_ends",
  "emotion_changes"}` (`float32` lists, seconds from the window's first frame, sorted): those from `history_seconds`
  before the window (negative times: their responses may spill into it) to its end. Only the synthetic corpus
  has them; every list is empty for other data.

After tokenisation with a trained VQ-VAE an example also carries `listener_codes` (`ceil(T / 8)` ints); that
column is added by the tokenising step, not by the builders.
"""

from datasets import Array2D, Features, List, Value

from ..modeling.constants import IDENTITY_DIM, MOTION_DIM

SCHEMA_VERSION = "1.1.0"  # builders cache under it: bump whenever EXAMPLE_FEATURES change

WORD = {"text": Value("string"), "start": Value("float32"), "end": Value("float32")}
EVENT_KINDS = ("utterance_ends", "joke_ends", "emotion_changes")
EVENTS = {kind: List(Value("float32")) for kind in EVENT_KINDS}

EXAMPLE_FEATURES = Features(
    {
        "speaker_motion": Array2D(shape=(None, MOTION_DIM), dtype="float32"),
        "listener_motion": Array2D(shape=(None, MOTION_DIM), dtype="float32"),
        "listener_identity": List(Value("float32"), length=IDENTITY_DIM),
        "speaker_shape": List(Value("float32"), length=IDENTITY_DIM),
        "words": List(WORD),
        "history_words": List(WORD),
        "acoustic_codes": List(Value("int32")),
        "content_codes": List(Value("int32")),
        "emotion_ids": List(Value("int32")),
        "source": Value("string"),
        "start_frame": Value("int32"),
        "listener_id": Value("string"),
        "fps": Value("int32"),
        "events": EVENTS,
    }
)

__all__ = [
    "EVENTS",
    "EVENT_KINDS",
    "EXAMPLE_FEATURES",
    "SCHEMA_VERSION",
    "WORD",
]
