"""Batching: tell one clip from a batch of clips, and pad encoded clips into one right-padded batch."""

import numpy as np
import torch
from transformers import BatchEncoding

IGNORE_INDEX = -100


def _is_batched(name: str, value) -> bool | None:
    """True / False when `value` tells whether the call is batched, None when it cannot tell."""
    if value is None:
        return None
    if name in ("num_frames", "sampling_rate"):
        return not np.isscalar(value)
    item_ndim = {"speaker_motion": 2, "speaker_shape": 1, "audio": 1}.get(name)
    if item_ndim is not None:
        if isinstance(value, (list, tuple)):
            return len(value) > 0 and np.ndim(value[0]) >= item_ndim
        if name == "audio":
            return None  # an array may be stereo (2-D): batches of audio are lists
        return np.ndim(value) == item_ndim + 1
    if name in ("words", "history_words") and isinstance(value, dict):
        return False  # one clip's words in columnar form
    if len(value) == 0:
        return None
    first = value[0]
    if name in ("words", "history_words"):
        return not (isinstance(first, dict) and np.ndim(first.get("text")) == 0)
    return np.ndim(first) > 0


def split_batch(inputs: dict) -> list[dict]:
    """The per-clip dicts of `inputs` (the processor's call arguments): one for a single clip, one per clip of a
    batch. Mixed single and batched arguments, or batched ones of different lengths, are an error."""
    verdicts = {name: _is_batched(name, value) for name, value in inputs.items()}
    decided = {verdict for verdict in verdicts.values() if verdict is not None}
    if len(decided) > 1:
        batched = sorted(name for name, verdict in verdicts.items() if verdict)
        single = sorted(name for name, verdict in verdicts.items() if verdict is False)
        raise ValueError(f"mixed single and batched inputs: {batched} look batched, {single} look single")
    if decided != {True}:
        return [inputs]
    sizes = {name: len(value) for name, value in inputs.items() if value is not None and verdicts[name] is not False}
    sizes = {name: size for name, size in sizes.items() if verdicts[name] or size}
    if len(set(sizes.values())) > 1:
        raise ValueError(f"batched inputs have different lengths: {sizes}")
    batch = next(iter(sizes.values()))
    return [{name: (None if value is None else value[i]) for name, value in inputs.items()} for i in range(batch)]


def pad_rows(rows: list[tuple], pad_token_id: int, with_labels: bool, return_tensors: str | None) -> BatchEncoding:
    """Right-pad encoded clips into a batch.

    Args:
        rows (`list[tuple]`): per clip `(ids, group ids, listener-slot flags, scored flags)`, arrays of its length.
        pad_token_id (`int`): id filling `input_ids` after each clip.
        with_labels (`bool`): add `labels`, the ids where scored and `IGNORE_INDEX` elsewhere.
        return_tensors (`str`, *optional*): `"pt"`, `"np"`, or `None` for lists.

    Returns:
        [`BatchEncoding`] of `(batch, longest)` arrays: `input_ids`, `attention_mask`, `group_ids` (-1 on padding),
        `listener_slot_mask` and, with labels, `labels`.
    """
    batch, longest = len(rows), max(len(row[0]) for row in rows)
    input_ids = np.full((batch, longest), pad_token_id, dtype=np.int64)
    attention_mask = np.zeros((batch, longest), dtype=np.int64)
    group_ids = np.full((batch, longest), -1, dtype=np.int64)
    slot_mask = np.zeros((batch, longest), dtype=bool)
    labels = np.full((batch, longest), IGNORE_INDEX, dtype=np.int64)
    for i, (ids, groups, slots, scored) in enumerate(rows):
        n = len(ids)
        input_ids[i, :n] = ids
        attention_mask[i, :n] = 1
        group_ids[i, :n] = groups
        slot_mask[i, :n] = slots
        labels[i, :n] = np.where(scored, ids, IGNORE_INDEX)
    data = {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "group_ids": group_ids,
        "listener_slot_mask": slot_mask,
    }
    if with_labels:
        data["labels"] = labels
    if return_tensors == "pt":
        data = {key: torch.from_numpy(value) for key, value in data.items()}
    elif return_tensors is None:
        data = {key: value.tolist() for key, value in data.items()}
    elif return_tensors != "np":
        raise ValueError(f"return_tensors must be 'pt', 'np' or None, got {return_tensors!r}")
    return BatchEncoding(data)


def without_streams(batch, layout, streams, rows=None, return_tensors: str | None = "pt") -> BatchEncoding:
    """A right-padded batch with the tokens of speaker `streams` taken out of some of its rows.

    What a guided `generate` contrasts with, and what stream dropout trains on: the same groups, listener slots and
    labels, without the streams' tokens ([`TokenLayout.stream_mask`]: `"words"` are the text tokens, history
    included; `"acoustic"`, `"content"`, `"emotion"` a block with its opening and closing tokens).

    Args:
        batch (`dict`): `input_ids`, `attention_mask`, `group_ids`, `listener_slot_mask` and optionally `labels`,
            arrays or tensors `(batch, seq)`, right-padded (as `pad_rows` makes them).
        layout ([`TokenLayout`]): the batch's token layout.
        streams (`list[str]`): the streams to take out.
        rows (`list[int]`, *optional*): the rows to change; all by default. The others are kept as they are.
        return_tensors (`str`, *optional*): as in `pad_rows`.

    Returns:
        [`BatchEncoding`] with the keys of `batch`, padded to the new longest row.
    """
    arrays = {key: torch.as_tensor(batch[key]).cpu().numpy() for key in batch}
    rows = set(range(len(arrays["input_ids"]))) if rows is None else {int(row) for row in rows}
    encoded = []
    for i, ids in enumerate(arrays["input_ids"]):
        keep = arrays["attention_mask"][i].astype(bool)
        if i in rows:
            for stream in streams:
                keep &= ~layout.stream_mask(ids, stream)
        scored = arrays["labels"][i][keep] != IGNORE_INDEX if "labels" in arrays else np.zeros(int(keep.sum()), bool)
        encoded.append((ids[keep], arrays["group_ids"][i][keep], arrays["listener_slot_mask"][i][keep], scored))
    return pad_rows(encoded, layout.pad_token_id, "labels" in arrays, return_tensors)


__all__ = ["IGNORE_INDEX", "pad_rows", "split_batch", "without_streams"]
