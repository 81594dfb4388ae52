"""Processor batches drive a tiny GPT-2 ListenerForCausalLM: both training stages and generation."""

import copy

import pytest
import torch
import torch.nn.functional as F
from transformers import GPT2Config

from mmlistener import ListenerConfig, ListenerForCausalLM, ListenerProcessor
from mmlistener.processing import gpt2_tokenizer_from_tiktoken

CLIPS = {  # two 40-frame clips (5 groups) with different token counts per group
    "words": [
        [{"text": "so", "end": 0.1}, {"text": "what do you think", "end": 0.6}],
        [{"text": "yeah", "end": 1.2}],
    ],
    "history_words": [[{"text": "well", "end": -0.3}], []],
    "acoustic_codes": [list(range(3, 70)), [5] * 60],
    "emotion_ids": [[0, 1, 1, 2, 3], [4, 4, 4, 4, 4]],
    "num_frames": [40, 40],
}


@pytest.fixture(scope="module")
def parts():
    tokenizer = gpt2_tokenizer_from_tiktoken()
    backbone = GPT2Config(vocab_size=len(tokenizer), n_layer=2, n_embd=16, n_head=2, n_positions=256)
    config = ListenerConfig(backbone_config=backbone, num_listener_tokens=32)
    torch.manual_seed(0)
    model = ListenerForCausalLM(config).eval()
    return ListenerProcessor.from_listener_config(tokenizer, config), model


def test_stage_two_batch_gives_a_listener_loss_that_trains_the_head(parts):
    processor, model = parts
    batch = processor(**CLIPS, listener_codes=[[1, 2, 3, 4, 5], [31, 0, 7, 7, 9]], return_tensors="pt")
    out = model(**batch)
    assert out.lm_loss is None and torch.isfinite(out.listener_loss) and out.loss == out.listener_loss
    out.loss.backward()
    assert model.listener_head.weight.grad.abs().sum() > 0
    model.zero_grad()


def test_stage_two_steps_lower_the_cross_entropy_of_the_listener_codes(parts):
    """Measured from the logits at each slot's `<lr>`, not from the model's own loss: a loss of the wrong sign
    or on the wrong positions would still fall while this one rises or stays."""
    processor, model = parts
    model = copy.deepcopy(model).train()
    codes = torch.tensor([[1, 2, 3, 4, 5], [31, 0, 7, 7, 9]])
    batch = processor(**CLIPS, listener_codes=codes.tolist(), return_tensors="pt")
    rows, slots = torch.nonzero(batch["listener_slot_mask"], as_tuple=True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    entropies = []
    for _ in range(8):
        out = model(**batch)
        entropies.append(F.cross_entropy(out.listener_logits[rows, slots - 1], codes.flatten()).item())
        out.loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    assert entropies[-1] < 0.8 * entropies[0], entropies


def test_stage_one_batch_gives_a_language_model_loss(parts):
    processor, model = parts
    batch = processor(**CLIPS, stage="speaker", return_tensors="pt")
    out = model(**batch)
    assert out.listener_loss is None and torch.isfinite(out.lm_loss)


def test_generate_reads_processor_batches_and_matches_teacher_forcing(parts):
    processor, model = parts
    batch = processor(**CLIPS, return_tensors="pt")
    codes = model.generate(**batch)
    assert codes.shape == (2, 5) and codes.dtype == torch.long
    assert 0 <= int(codes.min()) and int(codes.max()) < 32
    for row in range(2):  # a batch of two gives each clip's own codes
        alone = processor(**{key: [value[row]] for key, value in CLIPS.items()}, return_tensors="pt")
        assert torch.equal(model.generate(**alone)[0], codes[row])
    # Fill the slots with the generated codes: the listener head at each `<lr>` (the token before its slot)
    # must pick that same code, so processor positions and model generation agree.
    forced = processor(**CLIPS, listener_codes=codes.tolist(), return_tensors="pt")
    with torch.no_grad():
        logits = model(**{key: value for key, value in forced.items() if key != "labels"}).listener_logits
    for row in range(2):
        slots = torch.nonzero(forced["listener_slot_mask"][row]).flatten()
        assert torch.equal(logits[row, slots - 1].argmax(-1), codes[row])
