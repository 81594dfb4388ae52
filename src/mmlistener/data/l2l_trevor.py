"""L2L-trevor: the LM-Listener release (`lm_listener`) and the original Learning2Listen layout (`l2l_original`).

`lm_listener` reads `segments_{train,val,test}.pth` (+ `mean.npy`, `std.npy`) from `data_dir`. Each file is
a list of dicts: `fname`, `split_start_frame`, `split_end_frame`, `before_words`, `during_words` (`text`,
`end` [, `start`] in seconds of the source video), `p0_exp (T, 50)`, `p0_pose (T, 6)`, `p0_shape (T, 100)`,
`p1_exp`, `p1_pose`, `p1_shape`; p0 is the listener, p1 the speaker. Optional keys per segment (written by the
synthetic corpus or by a preparation step): `p1_acoustic_codes` / `p1_content_codes` (50 Hz ints from the
segment's first frame), `p1_emotion` (speaker emotion class per frame), `listener_id`, `events` (ground-truth
`{"utterance_ends", "joke_ends", "emotion_changes"}` lists of seconds on the words' clock; windows get them
relative to their first frame, see `window_events`).
Each segment is cut into windows from frame `first_frame` every `stride` frames, `window_frames` long, keeping
windows of at least `min_frames` frames.

`l2l_original` reads `data_dir/<speaker>/<split>/p{0,1}_{list_faces,speak_faces,speak_files}_clean_deca.npy`:
faces `(N, 64, 184)` of which `[..., :56]` is the motion; each sequence is one window. This release has no
transcripts, audio codes, events or shape parameters: `words` and `events` are empty and identities are zeros.
"""

import os
import zipfile
from dataclasses import dataclass

import datasets
import numpy as np

from ..modeling.constants import (
    EXPRESSION_DIM,
    FPS,
    GROUP_SIZE,
    HISTORY_SECONDS,
    IDENTITY_DIM,
    MOTION_DIM,
    POSE_DIM,
)
from .features import EXAMPLE_FEATURES, SCHEMA_VERSION
from .reading import as_array, check_lengths, load_npy, load_torch_file, require
from .windowing import group_labels, no_events, window_bounds, window_codes, window_events, window_words

SPLITS = {"train": datasets.Split.TRAIN, "val": datasets.Split.VALIDATION, "test": datasets.Split.TEST}
SEGMENT_KEYS = ("fname", "split_start_frame", "before_words", "during_words")


@dataclass
class L2LTrevorConfig(datasets.BuilderConfig):
    """Settings of the L2L-trevor builder.

    Args:
        layout (`str`): `"lm_listener"` (LM-Listener's `.pth` segments) or `"l2l_original"` (Learning2Listen's
            `.npy` arrays).
        fps (`int`, defaults to 30): frame rate of the motion and of the word clock.
        first_frame, stride, window_frames, min_frames (`int`): windowing of `lm_listener` segments (LM-Listener
            uses 96, 240, 240, 24).
        history_seconds (`float`, defaults to 3.0): how far back `history_words` and `events` reach.
        group_size (`int`, defaults to 8): frames per emotion id.
        num_emotion_classes (`int`, defaults to 8): classes of per-frame `p1_emotion` labels.
        listener_id (`str`, defaults to `"trevor"`): listener of segments without a `listener_id` key.
        listener_prefix, speaker_prefix (`str`): which person is the listener in `l2l_original` files (`"p0"` /
            `"p1"` for trevor; swap them for fallon).
        speakers (`tuple[str]`, *optional*): `l2l_original` sub-folders to read (default: all).
    """

    layout: str = "lm_listener"
    fps: int = FPS
    first_frame: int = 96
    stride: int = 240
    window_frames: int = 240
    min_frames: int = 24
    history_seconds: float = HISTORY_SECONDS
    group_size: int = GROUP_SIZE
    num_emotion_classes: int = 8
    listener_id: str = "trevor"
    listener_prefix: str = "p0"
    speaker_prefix: str = "p1"
    speakers: tuple[str, ...] | None = None

    def __post_init__(self):
        super().__post_init__()
        if self.layout not in ("lm_listener", "l2l_original"):
            raise ValueError(f"layout must be 'lm_listener' or 'l2l_original', got {self.layout!r}")


class L2LTrevor(datasets.GeneratorBasedBuilder):
    """Windows of L2L-trevor dyadic clips (see the module docstring for the layouts).

    Example (the synthetic corpus is in the `lm_listener` layout):

    ```python
    >>> import tempfile
    >>> from mmlistener.data import L2LTrevor, write_synthetic_corpus
    >>> root = tempfile.mkdtemp()
    >>> _ = write_synthetic_corpus(f"{root}/corpus", num_train=2, num_val=1, num_test=1, seed=0)
    >>> builder = L2LTrevor(config_name="lm_listener", data_dir=f"{root}/corpus", cache_dir=f"{root}/cache")
    >>> builder.download_and_prepare()
    >>> builder.as_dataset("train")[0]["speaker_motion"].__len__() <= 240
    True

    ```
    """

    BUILDER_CONFIG_CLASS = L2LTrevorConfig
    BUILDER_CONFIGS = [
        L2LTrevorConfig(
            name="lm_listener",
            version=SCHEMA_VERSION,
            layout="lm_listener",
            description="LM-Listener's release (.pth)",
        ),
        L2LTrevorConfig(
            name="l2l_original",
            version=SCHEMA_VERSION,
            layout="l2l_original",
            description="Learning2Listen's .npy arrays",
        ),
    ]
    DEFAULT_CONFIG_NAME = "lm_listener"

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(
            description="L2L-trevor dyadic listening windows: speaker and listener FLAME motion, words, codes.",
            features=EXAMPLE_FEATURES,
        )

    def _split_generators(self, dl_manager):
        data_dir = self.config.data_dir
        if data_dir is None or not os.path.isdir(data_dir):
            raise ValueError(f"data_dir must be an existing directory, got {data_dir!r}")
        if self.config.layout == "lm_listener":
            found = {name: os.path.join(data_dir, f"segments_{name}.pth") for name in SPLITS}
            found = {name: path for name, path in found.items() if os.path.isfile(path)}
            if not found:
                raise ValueError(f"no segments_{{train,val,test}}.pth in {data_dir}")
            for path in found.values():  # refused or unreadable files fail here, unwrapped by datasets
                _load_segments(path, mmap=zipfile.is_zipfile(path))
            return [
                datasets.SplitGenerator(name=SPLITS[name], gen_kwargs={"path": path})
                for name, path in found.items()
            ]
        speakers = self.config.speakers or sorted(
            entry for entry in os.listdir(data_dir) if os.path.isdir(os.path.join(data_dir, entry))
        )
        generators = []
        for name, split in SPLITS.items():
            folders = [os.path.join(data_dir, speaker, name) for speaker in speakers]
            folders = [folder for folder in folders if os.path.isdir(folder)]
            if folders:
                generators.append(datasets.SplitGenerator(name=split, gen_kwargs={"folders": folders}))
        if not generators:
            raise ValueError(f"no <speaker>/{{train,val,test}} folders in {data_dir} (speakers: {speakers})")
        return generators

    def _generate_examples(self, path: str | None = None, folders: list[str] | None = None):
        if self.config.layout == "lm_listener":
            yield from self._lm_listener_examples(path)
        else:
            yield from self._l2l_original_examples(folders)

    # -- LM-Listener release -----------------------------------------------------------------------

    def _lm_listener_examples(self, path: str):
        for index, segment in enumerate(_load_segments(path)):
            for key, example in self._segment_windows(segment, f"{path}, segment {index}"):
                yield f"{index}-{key}", example

    def _segment_windows(self, segment, where: str):
        config = self.config
        for key in SEGMENT_KEYS:
            require(segment, key, where)
        motion = {
            "p0_exp": as_array(require(segment, "p0_exp", where), "p0_exp", where, EXPRESSION_DIM),
            "p0_pose": as_array(require(segment, "p0_pose", where), "p0_pose", where, POSE_DIM),
            "p0_shape": as_array(require(segment, "p0_shape", where), "p0_shape", where, IDENTITY_DIM),
            "p1_exp": as_array(require(segment, "p1_exp", where), "p1_exp", where, EXPRESSION_DIM),
            "p1_pose": as_array(require(segment, "p1_pose", where), "p1_pose", where, POSE_DIM),
            "p1_shape": as_array(require(segment, "p1_shape", where), "p1_shape", where, IDENTITY_DIM),
        }
        num_frames = check_lengths(motion, where)
        listener = np.concatenate([motion["p0_exp"], motion["p0_pose"]], axis=1)
        speaker = np.concatenate([motion["p1_exp"], motion["p1_pose"]], axis=1)
        words = list(segment["before_words"]) + list(segment["during_words"])
        emotion = segment.get("p1_emotion")
        if emotion is not None:
            emotion = as_array(emotion, "p1_emotion", where, dtype=np.int64).reshape(-1)
            check_lengths({"p1_exp": speaker, "p1_emotion": emotion}, where)
        segment_start = int(segment["split_start_frame"])
        for start, end in window_bounds(
            num_frames, config.first_frame, config.stride, config.window_frames, config.min_frames
        ):
            length = end - start
            window_start = (segment_start + start) / config.fps
            inside, history = window_words(
                words, window_start, length, config.fps, config.history_seconds, where
            )
            yield (
                str(start),
                {
                    "speaker_motion": speaker[start:end],
                    "listener_motion": listener[start:end],
                    "listener_identity": motion["p0_shape"][start:end]
                    .mean(axis=0, dtype=np.float64)
                    .astype(np.float32),
                    "speaker_shape": motion["p1_shape"][start:end]
                    .mean(axis=0, dtype=np.float64)
                    .astype(np.float32),
                    "words": inside,
                    "history_words": history,
                    "acoustic_codes": window_codes(
                        segment.get("p1_acoustic_codes"), start, length, config.fps
                    ),
                    "content_codes": window_codes(segment.get("p1_content_codes"), start, length, config.fps),
                    "emotion_ids": []
                    if emotion is None
                    else group_labels(emotion[start:end], config.group_size, config.num_emotion_classes),
                    "source": str(segment["fname"]),
                    "start_frame": segment_start + start,
                    "listener_id": str(segment.get("listener_id", config.listener_id)),
                    "fps": config.fps,
                    "events": window_events(
                        segment.get("events"),
                        window_start,
                        length,
                        config.fps,
                        config.history_seconds,
                        f"{where}: key 'events'",
                    ),
                },
            )

    # -- original Learning2Listen arrays -----------------------------------------------------------

    def _l2l_original_examples(self, folders: list[str]):
        config = self.config
        for folder in folders:
            listener_path = os.path.join(folder, f"{config.listener_prefix}_list_faces_clean_deca.npy")
            speaker_path = os.path.join(folder, f"{config.speaker_prefix}_speak_faces_clean_deca.npy")
            files_path = os.path.join(folder, f"{config.speaker_prefix}_speak_files_clean_deca.npy")
            listener, speaker = load_npy(listener_path), load_npy(speaker_path)
            for path, faces in ((listener_path, listener), (speaker_path, speaker)):
                if faces.ndim != 3 or faces.shape[-1] < MOTION_DIM:
                    raise ValueError(
                        f"{path}: faces must be (sequences, frames, >= {MOTION_DIM}), got {faces.shape}"
                    )
            if listener.shape[:2] != speaker.shape[:2]:
                raise ValueError(
                    f"{folder}: mismatched (sequences, frames): listener {listener.shape[:2]} vs speaker "
                    f"{speaker.shape[:2]}"
                )
            if len(listener) == 0:
                raise ValueError(f"{listener_path}: the split is empty (no sequence)")
            files = load_npy(files_path) if os.path.isfile(files_path) else None
            if files is not None and (
                files.ndim != 3 or files.shape[:2] != listener.shape[:2] or files.shape[2] < 3
            ):
                raise ValueError(f"{files_path}: expected (sequences, frames, 3), got {files.shape}")
            zeros = np.zeros(IDENTITY_DIM, dtype=np.float32)
            for index in range(len(listener)):
                source = (
                    f"{folder}:{index}" if files is None else f"{files[index, 0, 0]}:{files[index, 0, 1]}"
                )
                start_frame = 0 if files is None else int(float(files[index, 0, 2]))
                yield (
                    f"{folder}-{index}",
                    {
                        "speaker_motion": speaker[index, :, :MOTION_DIM].astype(np.float32),
                        "listener_motion": listener[index, :, :MOTION_DIM].astype(np.float32),
                        "listener_identity": zeros,
                        "speaker_shape": zeros,
                        "words": [],
                        "history_words": [],
                        "acoustic_codes": [],
                        "content_codes": [],
                        "emotion_ids": [],
                        "source": source,
                        "start_frame": start_frame,
                        "listener_id": os.path.basename(os.path.dirname(folder)),
                        "fps": config.fps,
                        "events": no_events(),
                    },
                )


def _load_segments(path: str, mmap: bool = False) -> list:
    """The non-empty list of segments of an LM-Listener `.pth` file (see `load_torch_file` for `mmap`)."""
    segments = load_torch_file(path, mmap=mmap)
    if not isinstance(segments, (list, tuple)):
        raise ValueError(f"{path}: expected a list of segment dicts, got {type(segments).__name__}")
    if not segments:
        raise ValueError(f"{path}: the split is empty (no segment)")
    return segments


__all__ = ["L2LTrevor", "L2LTrevorConfig"]
