"""Pinned outputs: fixed inputs through the processor and greedy `generate` of a seeded tiny model give exactly the
token sequences recorded before the layout, layering and processor-API refactors (issue 22).

A refactor that changes which tokens the processor writes, or which codes `generate` picks, fails here. When a
change of behaviour is meant, record the new values with `python tests/test_pinned_outputs.py` and say why in the
commit message.
"""

import hashlib

import numpy as np
import torch
from test_listener_model import TEXT_VOCAB, listener_config, text_tokenizer

from mmlistener import ListenerForCausalLM, ListenerProcessor

# clips of 5, 7 and 4 groups of 8 frames at 30 fps, acoustic codes at 50 per second
GROUPS = (5, 7, 4)
MODALITY_SETS = {"default": ("words", "acoustic", "emotion"), "all": ("words", "acoustic", "content", "emotion")}

PINNED_CODES = {
    "default": [[0, 15, 15, 12, 15], [8, 8, 8, 13, 8, 2, 3], [8, 8, 15, 8]],
    "all": [[11, 3, 2, 8, 15], [8, 8, 15, 15, 15, 15, 8], [15, 2, 2, 2]],
}
PINNED_INPUT_DIGESTS = {
    "default": "9951e379fb9b62d26a8387254672a5c3c52690710d09c9f6e58cbf08b97efa4d",
    "all": "156e33ee449db1fef70290b63fb98fad70fa7aa6b05cacade607418135570dab",
}


def clips(seed: int = 7) -> dict:
    """Per-clip features of `GROUPS`: timed words, history words, acoustic and content codes, emotion ids."""
    rng = np.random.default_rng(seed)
    batch = {key: [] for key in ("words", "history_words", "acoustic_codes", "content_codes", "emotion_ids")}
    batch["num_frames"] = []
    for num_groups in GROUPS:
        seconds = num_groups * 8 / 30
        ends = np.sort(rng.uniform(0.0, seconds, size=2 * num_groups))
        batch["words"].append([{"text": f"w{rng.integers(TEXT_VOCAB)}", "end": float(end)} for end in ends])
        batch["history_words"].append([{"text": f"w{rng.integers(TEXT_VOCAB)}", "end": -0.4 * k} for k in (3, 2, 1)])
        batch["acoustic_codes"].append(rng.integers(32, size=int(seconds * 50)).tolist())
        batch["content_codes"].append(rng.integers(8, size=int(seconds * 50)).tolist())
        batch["emotion_ids"].append(rng.integers(4, size=num_groups).tolist())
        batch["num_frames"].append(num_groups * 8)
    return batch


def model() -> ListenerForCausalLM:
    torch.manual_seed(0)
    return ListenerForCausalLM(listener_config(initializer_range=0.3)).eval()


def outputs(name: str) -> tuple[str, list[list[int]]]:
    """`(digest of the processor's input_ids, group_ids and slot mask, greedy codes of each clip's groups)` for the
    modality set `name` (a batch's codes past a shorter clip's last group are not its own: they are cut)."""
    lm = model()
    processor = ListenerProcessor.from_listener_config(text_tokenizer(), lm.config, modalities=MODALITY_SETS[name])
    batch = processor(**clips(), return_tensors="pt")
    digest = hashlib.sha256()
    for key in ("input_ids", "group_ids", "listener_slot_mask"):
        digest.update(batch[key].numpy().astype(np.int64).tobytes())
    codes = lm.generate(**batch).tolist()
    return digest.hexdigest(), [row[:num_groups] for row, num_groups in zip(codes, GROUPS)]


def test_the_processor_writes_the_recorded_tokens():
    for name in MODALITY_SETS:
        assert outputs(name)[0] == PINNED_INPUT_DIGESTS[name], name


def test_greedy_generation_picks_the_recorded_codes():
    for name in MODALITY_SETS:
        assert outputs(name)[1] == PINNED_CODES[name], name


if __name__ == "__main__":
    for name in MODALITY_SETS:
        print(name, *outputs(name), sep="\n")
