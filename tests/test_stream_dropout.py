"""Stream dropout: windows seen without a speaker stream (`without_streams`, `ListenerCollator(stream_dropout=...)`)."""

import numpy as np
import pytest
import torch
from test_listener_model import TEXT_VOCAB, text_tokenizer

from mmlistener import ListenerProcessor
from mmlistener.data.collators import ListenerCollator
from mmlistener.processing.batching import IGNORE_INDEX, without_streams
from mmlistener.training.arguments import ListenerModelArguments


@pytest.fixture(scope="module")
def processor():
    return ListenerProcessor(text_tokenizer(), num_listener_tokens=16)


def windows(count: int, seed: int = 0) -> list[dict]:
    """Dataset windows of 6 groups: words in most groups, two history words, acoustic codes, emotion, codes."""
    rng = np.random.default_rng(seed)
    return [
        {
            "words": [{"text": f"w{rng.integers(TEXT_VOCAB)}", "end": 0.1 + 0.25 * k} for k in range(6)],
            "history_words": [{"text": f"w{rng.integers(TEXT_VOCAB)}", "end": -0.5 + 0.2 * k} for k in range(2)],
            "acoustic_codes": rng.integers(1024, size=80).tolist(),
            "emotion_ids": rng.integers(8, size=6).tolist(),
            "listener_codes": rng.integers(16, size=6).tolist(),
            "num_frames": 48,
        }
        for _ in range(count)
    ]


def real(batch, row, key):
    return batch[key][row][batch["attention_mask"][row].bool()]


def test_without_streams_takes_out_only_that_stream(processor):
    layout = processor.layout
    batch = processor.encode_examples(windows(3), return_tensors="pt")
    out = without_streams(batch, layout, ["words"], rows=[1])
    for row in (0, 2):  # untouched rows
        assert torch.equal(real(out, row, "input_ids"), real(batch, row, "input_ids"))
    ids = real(out, 1, "input_ids")
    assert not bool((ids < layout.text_vocab_size).any())
    before = real(batch, 1, "input_ids")
    assert torch.equal(ids, before[before >= layout.text_vocab_size])  # the rest, in order
    for key in ("labels", "listener_slot_mask", "group_ids"):
        kept = real(batch, 1, key)[real(batch, 1, "input_ids") >= layout.text_vocab_size]
        assert torch.equal(real(out, 1, key), kept)
    assert int((real(out, 1, "labels") != IGNORE_INDEX).sum()) == 6  # every listener code still scored
    no_emotion = without_streams(batch, layout, ["emotion"])
    emotion_tokens = (batch["input_ids"] >= layout.emotion_offset) & (batch["input_ids"] < layout.special_offset)
    assert int(emotion_tokens.sum()) == 18 and int(no_emotion["attention_mask"].sum()) == int(
        batch["attention_mask"].sum()
    ) - 3 * 18  # <emo> e </emo> of 6 groups in 3 rows


def test_the_collator_drops_words_from_a_seeded_share_of_windows(processor):
    examples = windows(40, seed=1)
    layout = processor.layout
    plain = ListenerCollator(processor, "listener")(examples)
    batches = [ListenerCollator(processor, "listener", stream_dropout=0.3, seed=4)(examples) for _ in range(2)]
    assert all(torch.equal(batches[0][key], batches[1][key]) for key in plain)  # seeded
    without_words = [not bool((real(batches[0], row, "input_ids") < layout.text_vocab_size).any()) for row in range(40)]
    assert 4 <= sum(without_words) <= 20  # about 30 % of 40
    for row in range(40):
        if not without_words[row]:
            assert torch.equal(real(batches[0], row, "input_ids"), real(plain, row, "input_ids"))
    assert torch.equal(batches[0]["labels"][batches[0]["labels"] != IGNORE_INDEX], plain["labels"][plain["labels"] != IGNORE_INDEX])
    other = ListenerCollator(processor, "listener", stream_dropout=0.3, seed=5)(examples)
    assert not torch.equal(other["attention_mask"].sum(1), batches[0]["attention_mask"].sum(1))


def test_stream_dropout_settings_are_checked(processor):
    with pytest.raises(ValueError, match="stream_dropout must lie in"):
        ListenerCollator(processor, "listener", stream_dropout=1.5)
    with pytest.raises(ValueError, match="stage 'listener'"):
        ListenerCollator(processor, "speaker", stream_dropout=0.1)
    with pytest.raises(ValueError, match="unknown speaker stream 'voice'"):
        ListenerCollator(processor, "listener", stream_dropout=0.1, dropped_streams=["voice"])
    with pytest.raises(ValueError, match="--stream_dropout is for --stage listener"):
        ListenerModelArguments(stage="speaker", stream_dropout=0.2)


def test_stream_dropout_one_takes_the_streams_out_of_every_window(processor):
    examples = windows(5, seed=2)
    streams = ["acoustic", "emotion"]
    batch = ListenerCollator(processor, "listener", stream_dropout=1.0, dropped_streams=streams)(examples)
    expected = without_streams(processor.encode_examples(examples, return_tensors="pt"), processor.layout, streams)
    assert all(torch.equal(batch[key], expected[key]) for key in expected)
    words_and_codes = real(batch, 0, "input_ids")
    assert bool((words_and_codes < processor.layout.text_vocab_size).any())  # the words stay
