"""RealTalk (Geng et al. 2023) through a documented manifest, with 25 -> 30 fps resampling.

RealTalk's raw layout is not public, so this builder reads a manifest that you write once from your copy:
one file per split in `data_dir`, `train.jsonl` / `val.jsonl` / `test.jsonl` (or `.csv` with the same
columns), one row per clip:

| column | content |
| --- | --- |
| `clip_id` | unique name of the clip |
| `speaker_exp`, `listener_exp` | `.npy` path, `(T, 50)` FLAME expression (EMOCA) |
| `speaker_pose`, `listener_pose` | `.npy` path, `(T, 6)` head rotation + jaw (axis-angle) |
| `speaker_shape`, `listener_shape` | `.npy` path, `(T, 100)` or `(100,)` FLAME shape beta |
| `words` | timed words `[{"text", "start", "end"}]` in seconds from the clip's first frame: a list (JSONL), a JSON string, or a `.json` path |
| `fps` | frame rate of the arrays (25 for RealTalk) |
| `listener_id` | who listens (an identity name) |
| `audio` | *optional*: the clip's speaker audio or video path (kept as the example's `source`) |

Relative paths are taken from `data_dir`. Motion is resampled linearly to the config's `fps` (30) and cut
into windows like L2L-trevor's (`first_frame`, `stride`, `window_frames`, `min_frames`). RealTalk has no
ground-truth listening events: every window's `events` lists are empty.
"""

import csv
import json
import os
from dataclasses import dataclass

import datasets
import numpy as np

from ..modeling.constants import EXPRESSION_DIM, FPS, GROUP_SIZE, HISTORY_SECONDS, IDENTITY_DIM, POSE_DIM
from .features import EXAMPLE_FEATURES, SCHEMA_VERSION
from .reading import as_array, check_lengths, load_npy
from .windowing import no_events, resample_motion, window_bounds, window_words

SPLITS = {"train": datasets.Split.TRAIN, "val": datasets.Split.VALIDATION, "test": datasets.Split.TEST}
MANIFEST_KEYS = (
    "clip_id",
    "speaker_exp",
    "speaker_pose",
    "speaker_shape",
    "listener_exp",
    "listener_pose",
    "listener_shape",
    "words",
    "fps",
    "listener_id",
)
ARRAY_WIDTHS = {"exp": EXPRESSION_DIM, "pose": POSE_DIM, "shape": IDENTITY_DIM}


@dataclass
class RealTalkConfig(datasets.BuilderConfig):
    """Settings of the RealTalk builder.

    Args:
        fps (`int`, defaults to 30): frame rate of the examples; clips at another rate are resampled.
        first_frame, stride, window_frames, min_frames (`int`, defaults to 0, 240, 240, 24): windowing.
        history_seconds (`float`, defaults to 3.0): how far back `history_words` reach.
        group_size (`int`, defaults to 8): frames per emotion id (used when features are added).
    """

    fps: int = FPS
    first_frame: int = 0
    stride: int = 240
    window_frames: int = 240
    min_frames: int = 24
    history_seconds: float = HISTORY_SECONDS
    group_size: int = GROUP_SIZE


def read_manifest(path: str) -> list[dict]:
    """Rows of a `.jsonl` or `.csv` manifest, each with its line number under `"_line"`; fails if empty."""
    rows = []
    try:
        with open(path, newline="") as handle:
            if path.endswith(".jsonl"):
                for line_number, line in enumerate(handle, start=1):
                    if line.strip():
                        try:
                            rows.append({**json.loads(line), "_line": line_number})
                        except json.JSONDecodeError as error:
                            raise ValueError(
                                f"{path}, line {line_number}: not a JSON object: {error}"
                            ) from None
            else:
                rows = [{**row, "_line": n} for n, row in enumerate(csv.DictReader(handle), start=2)]
    except OSError as error:
        raise ValueError(f"cannot read manifest {path}: {error}") from None
    if not rows:
        raise ValueError(f"{path}: the split is empty (no clip)")
    return rows


class RealTalk(datasets.GeneratorBasedBuilder):
    """Windows of RealTalk clips listed in per-split manifests (see the module docstring)."""

    BUILDER_CONFIG_CLASS = RealTalkConfig
    BUILDER_CONFIGS = [
        RealTalkConfig(name="default", version=SCHEMA_VERSION, description="RealTalk clips from a manifest")
    ]
    DEFAULT_CONFIG_NAME = "default"

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(
            description="RealTalk dyadic listening windows: speaker and listener FLAME motion and words.",
            features=EXAMPLE_FEATURES,
        )

    def _split_generators(self, dl_manager):
        data_dir = self.config.data_dir
        if data_dir is None or not os.path.isdir(data_dir):
            raise ValueError(f"data_dir must be an existing directory, got {data_dir!r}")
        generators = []
        for name, split in SPLITS.items():
            for extension in ("jsonl", "csv"):
                path = os.path.join(data_dir, f"{name}.{extension}")
                if os.path.isfile(path):
                    generators.append(datasets.SplitGenerator(name=split, gen_kwargs={"manifest": path}))
                    break
        if not generators:
            raise ValueError(f"no manifest {{train,val,test}}.jsonl or .csv in {data_dir}")
        return generators

    def _generate_examples(self, manifest: str):
        for row in read_manifest(manifest):
            where = f"{manifest}, line {row['_line']}"
            for key in MANIFEST_KEYS:
                if row.get(key) in (None, ""):
                    raise ValueError(f"{where}: missing key {key!r}")
            for start, example in self._clip_windows(row, where):
                yield f"{row['clip_id']}-{start}", example

    def _array(self, row, key: str, where: str) -> np.ndarray:
        path = os.path.join(self.config.data_dir, str(row[key]))
        width = ARRAY_WIDTHS[key.split("_")[1]]
        array = load_npy(path)
        if key.endswith("shape") and array.ndim == 1:
            array = array[None]
        return as_array(array, key, f"{where} ({path})", width)

    def _words(self, row, where: str) -> list:
        words = row["words"]
        if isinstance(words, str):
            if words.endswith(".json"):
                path = os.path.join(self.config.data_dir, words)
                try:
                    with open(path) as handle:
                        words = json.load(handle)
                except (OSError, json.JSONDecodeError) as error:
                    raise ValueError(f"{where}: key 'words': cannot read {path}: {error}") from None
            else:
                try:
                    words = json.loads(words)
                except json.JSONDecodeError as error:
                    raise ValueError(
                        f"{where}: key 'words' is neither JSON nor a .json path: {error}"
                    ) from None
        if not isinstance(words, list):
            raise ValueError(
                f"{where}: key 'words' must be a list of {{text, start, end}}, got {type(words).__name__}"
            )
        return words

    def _clip_windows(self, row, where: str):
        config = self.config
        try:
            source_fps = float(row["fps"])
        except ValueError:
            raise ValueError(f"{where}: key 'fps' is not a number: {row['fps']!r}") from None
        arrays = {
            key: self._array(row, key, where)
            for key in ("speaker_exp", "speaker_pose", "listener_exp", "listener_pose")
        }
        check_lengths(arrays, where)
        speaker = resample_motion(
            np.concatenate([arrays["speaker_exp"], arrays["speaker_pose"]], 1), source_fps, config.fps
        )
        listener = resample_motion(
            np.concatenate([arrays["listener_exp"], arrays["listener_pose"]], 1), source_fps, config.fps
        )
        listener_shape = (
            self._array(row, "listener_shape", where).mean(axis=0, dtype=np.float64).astype(np.float32)
        )
        speaker_shape = (
            self._array(row, "speaker_shape", where).mean(axis=0, dtype=np.float64).astype(np.float32)
        )
        words = self._words(row, where)
        source = str(row.get("audio") or row["clip_id"])
        for start, end in window_bounds(
            len(speaker), config.first_frame, config.stride, config.window_frames, config.min_frames
        ):
            inside, history = window_words(
                words,
                start / config.fps,
                end - start,
                config.fps,
                config.history_seconds,
                f"{where}: key 'words'",
            )
            yield (
                start,
                {
                    "speaker_motion": speaker[start:end],
                    "listener_motion": listener[start:end],
                    "listener_identity": listener_shape,
                    "speaker_shape": speaker_shape,
                    "words": inside,
                    "history_words": history,
                    "acoustic_codes": [],
                    "content_codes": [],
                    "emotion_ids": [],
                    "source": source,
                    "start_frame": start,
                    "listener_id": str(row["listener_id"]),
                    "fps": config.fps,
                    "events": no_events(),
                },
            )


__all__ = ["MANIFEST_KEYS", "RealTalk", "RealTalkConfig", "read_manifest"]
