"""Model inputs from prepared splits, for training and evaluation alike: the splits, VQ-VAE motion crops and the
listener LM collator (below both `mmlistener.training` and `mmlistener.evaluation`; the processor is passed in)."""

import os
from collections.abc import Sequence

import numpy as np
import torch

from ..processing.batching import without_streams


def load_splits(dataset_path: str):
    """A `DatasetDict` from a `save_to_disk` directory, or from the Hub / a loading script by name."""
    import datasets

    if os.path.isdir(dataset_path):
        dataset = datasets.load_from_disk(dataset_path)
        if not isinstance(dataset, datasets.DatasetDict):
            raise ValueError(f"{dataset_path!r} holds a single Dataset; save a DatasetDict with train/val/test splits")
        return dataset
    if os.path.exists(dataset_path):
        raise ValueError(f"{dataset_path!r} is a file; expected a directory written by DatasetDict.save_to_disk")
    return datasets.load_dataset(dataset_path)


def select_split(splits, name: str | None, limit: int | None = None, required: bool = True):
    """Split `name` of `splits` (its first `limit` windows), or `None` when `name` is empty and not required."""
    if not name:
        if required:
            raise ValueError("a training split name is required")
        return None
    if name not in splits:
        if not required:
            return None
        raise ValueError(f"the dataset has no split {name!r}; it has {sorted(splits)}")
    split = splits[name]
    if limit is not None:
        split = split.select(range(min(limit, len(split))))
    return split


class MotionCrops(torch.utils.data.Dataset):
    """Fixed-length crops of listener motion with the listener identity: the VQ-VAE's training items.

    Every window yields the crops starting at `0, stride, 2 * stride, ...` that fit inside it (a window
    shorter than `window_frames` yields none). Items are `{"motion": (window_frames, 56), "identity": (100,)}`
    float32 tensors.

    Args:
        windows: a split of `mmlistener.data` (rows with `listener_motion` and `listener_identity`).
        window_frames (`int`): frames per crop.
        stride (`int`): frames between crop starts.
    """

    def __init__(self, windows, window_frames: int, stride: int):
        if window_frames <= 0 or stride <= 0:
            raise ValueError(f"window_frames and stride must be positive, got {window_frames} and {stride}")
        motions, identities, starts = [], [], []
        columns = windows.select_columns(["listener_motion", "listener_identity"]).with_format("numpy")
        for row in columns:
            motion = np.asarray(row["listener_motion"], dtype=np.float32)
            if motion.ndim != 2:
                motion = np.stack(motion).astype(np.float32)
            motions.append(motion)
            identities.append(np.asarray(row["listener_identity"], dtype=np.float32))
            for start in range(0, len(motion) - window_frames + 1, stride):
                starts.append((len(motions) - 1, start))
        if not starts:
            raise ValueError(f"no window is at least {window_frames} frames long: lower window_frames")
        self.motions, self.identities, self.starts = motions, identities, starts
        self.window_frames = window_frames

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, index: int) -> dict:
        window, start = self.starts[index]
        return {
            "motion": torch.from_numpy(self.motions[window][start : start + self.window_frames]),
            "identity": torch.from_numpy(self.identities[window]),
        }


def stack_collate(items: Sequence[dict]) -> dict:
    """Stack equally shaped tensors of items into batches."""
    return {key: torch.stack([item[key] for item in items]) for key in items[0]}


class ListenerCollator:
    """Dataset windows -> the `BatchEncoding` the listener LM trains on (`ListenerProcessor.encode_examples`).

    Args:
        processor (`ListenerProcessor`): builds the interleaved sequences and labels.
        stage (`str`): `"speaker"` (stage 1) or `"listener"` (stage 2, needs `listener_codes` in the windows).
        max_length (`int`, *optional*): longest sequence allowed; a longer window is an error naming it.
        stream_dropout (`float`, defaults to 0): stage "listener" only: the chance that a window is encoded without
            `dropped_streams` (`mmlistener.processing.batching.without_streams`), so that the model also learns to
            listen without them: the contrast of a guided `generate` (`guidance_scale`); 1 takes them out of every
            window (a phase that trains on the other streams alone, as `PipelineBudget.lm_words_first_steps` does).
        dropped_streams (`list[str]`, defaults to `["words"]`): the streams stream dropout takes out.
        seed (`int`, defaults to 0): seed of the dropout's draws (one generator per collator).
    """

    def __init__(
        self,
        processor,
        stage: str,
        max_length: int | None = None,
        stream_dropout: float = 0.0,
        dropped_streams: Sequence[str] = ("words",),
        seed: int = 0,
    ):
        if not 0.0 <= stream_dropout <= 1.0:
            raise ValueError(f"stream_dropout must lie in [0, 1], got {stream_dropout}")
        if stream_dropout and stage != "listener":
            raise ValueError("stream dropout is for stage 'listener': stage 'speaker' scores the speaker's streams")
        for stream in dropped_streams:
            processor.layout.stream_mask(0, stream)  # names an unknown stream
        self.processor = processor
        self.stage = stage
        self.max_length = max_length
        self.stream_dropout = stream_dropout
        self.dropped_streams = list(dropped_streams)
        self.rng = np.random.default_rng(seed)

    def __call__(self, examples: Sequence[dict]) -> dict:
        if self.stage == "listener" and any(example.get("listener_codes") is None for example in examples):
            raise ValueError(
                "stage 'listener' needs 'listener_codes' in every window: tokenise the dataset first "
                "(mmlistener-tokenize --vqvae_path ...)"
            )
        batch = self.processor.encode_examples(
            examples, stage=self.stage, max_length=self.max_length, return_tensors="pt"
        )
        if self.stream_dropout:
            dropped = np.flatnonzero(self.rng.random(len(examples)) < self.stream_dropout)
            if len(dropped):
                batch = without_streams(batch, self.processor.layout, self.dropped_streams, rows=dropped)
        return dict(batch)


__all__ = ["ListenerCollator", "MotionCrops", "load_splits", "select_split", "stack_collate"]
