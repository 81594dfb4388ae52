"""The one declaration of a dataset example (a window of a dyadic clip), shared by every builder.

An example holds one window of `T` frames:

- `speaker_motion`, `listener_motion` (`float32 (T, 56)`): raw (de-normalised) FLAME expression (50) +
  head rotation (3) + jaw (3) per frame, at `fps` frames per second.
- `listener_identity` (`float32 (100,)`): the listener's FLAME shape beta (mean over the window's frames).
- `speaker_shape` (`float32 (100,)`): the speaker's shape beta (used by the emotion recogniser).
- `words`: `{"text", "start", "end"}` in seconds from the window's first frame, the words that end inside
  the window; `history_words`: the same for words spoken before it (negative times).
- `acoustic_codes`, `content_codes` (`int` lists at 50 Hz from the window's first frame, may be empty):
  SpeechTokenizer quantizer 2 and quantizer 1.
- `emotion_ids` (`int` list, one per group of 8 frames, may be empty): speaker emotion (AffectNet order).
- `source` (file or video the window comes from), `start_frame` (first frame of the window in `source`),
  `listener_id`, `fps`.

After tokenisation with a trained VQ-VAE an example also carries `listener_codes` (`T // 8` ints); that
column is added by the tokenising step, not by the builders.
"""

from datasets import Array2D, Features, List, Value

MOTION_DIM = 56
IDENTITY_DIM = 100
EXPRESSION_DIM = 50
POSE_DIM = 6

WORD = {"text": Value("string"), "start": Value("float32"), "end": Value("float32")}

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
    }
)

__all__ = ["EXAMPLE_FEATURES", "EXPRESSION_DIM", "IDENTITY_DIM", "MOTION_DIM", "POSE_DIM", "WORD"]
