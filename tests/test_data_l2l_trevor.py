"""Synthetic corpus -> L2LTrevor("lm_listener") -> examples: shapes, alignment with the source segments."""

import math

import numpy as np
import pytest
import torch

from mmlistener import ListenerProcessor
from mmlistener.data import (
    EXAMPLE_FEATURES,
    L2LTrevor,
    build_dataset,
    motion_statistics,
    write_synthetic_corpus,
)
from mmlistener.data.windowing import window_bounds
from mmlistener.processing import gpt2_tokenizer_from_tiktoken

FPS, GROUP = 30, 8


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("l2l")
    write_synthetic_corpus(
        str(root / "corpus"), num_train=3, num_val=1, num_test=2, seed=3, min_frames=300, max_frames=620
    )
    dataset = build_dataset(L2LTrevor, str(root / "corpus"), "lm_listener", cache_dir=str(root / "cache"))
    return root / "corpus", dataset


def test_lm_listener_windowing_settings():
    assert window_bounds(600) == [(96, 336), (336, 576), (576, 600)]
    assert window_bounds(599) == [(96, 336), (336, 576)]  # a 23-frame tail is dropped
    assert window_bounds(400, first_frame=0, stride=120, window_frames=240, min_frames=24) == [
        (0, 240),
        (120, 360),
        (240, 400),
        (360, 400),
    ]


def test_splits_and_features(corpus, capsys):
    directory, dataset = corpus
    assert set(dataset) == {"train", "validation", "test"}
    assert dataset["train"].features == EXAMPLE_FEATURES
    segments = torch.load(directory / "segments_train.pth", weights_only=True)
    expected = sum(len(window_bounds(len(s["p0_exp"]))) for s in segments)
    assert len(dataset["train"]) == expected
    build_dataset(L2LTrevor, str(directory), "lm_listener", cache_dir=str(directory.parent / "cache"))
    assert f"train: {expected}" in capsys.readouterr().out


def test_examples_match_their_source_segment(corpus):
    directory, dataset = corpus
    segments = {s["fname"]: s for s in torch.load(directory / "segments_test.pth", weights_only=True)}
    for example in dataset["test"].with_format("numpy"):
        segment = segments[str(example["source"])]
        offset = int(example["start_frame"]) - segment["split_start_frame"]
        speaker, listener = np.asarray(example["speaker_motion"]), np.asarray(example["listener_motion"])
        frames = len(speaker)
        assert speaker.shape == listener.shape == (frames, 56) and 24 <= frames <= 240
        assert speaker.dtype == np.float32
        source_listener = torch.cat([segment["p0_exp"], segment["p0_pose"]], 1)[offset : offset + frames]
        source_speaker = torch.cat([segment["p1_exp"], segment["p1_pose"]], 1)[offset : offset + frames]
        np.testing.assert_allclose(listener, source_listener.numpy())
        np.testing.assert_allclose(speaker, source_speaker.numpy())
        np.testing.assert_allclose(example["listener_identity"], segment["p0_shape"][0].numpy(), rtol=1e-6)
        np.testing.assert_allclose(example["speaker_shape"], segment["p1_shape"][0].numpy(), rtol=1e-6)
        assert example["listener_id"] == segment["listener_id"]

        # words: exactly the source words that end inside the window, on the window's clock
        window_start = int(example["start_frame"]) / FPS
        source_words = segment["before_words"] + segment["during_words"]
        inside = [w for w in source_words if 0 <= w["end"] - window_start <= frames / FPS]
        assert [w["text"] for w in example["words"]] == [w["text"] for w in inside]
        for word, source in zip(example["words"], inside):
            assert math.isclose(word["end"] + window_start, source["end"], abs_tol=1e-4)
        history = [w for w in source_words if -3.0 <= w["end"] - window_start < 0]
        assert [w["text"] for w in example["history_words"]] == [w["text"] for w in history]
        assert all(-3.0 - 1e-4 <= w["end"] < 0 for w in example["history_words"])

        # 50 Hz codes from the window's first frame; one emotion id per group, the speaker's true emotion
        first_code = round(offset * 50 / FPS)
        codes = segment["p1_acoustic_codes"][first_code : first_code + round(frames * 50 / FPS)].tolist()
        assert list(example["acoustic_codes"]) == codes
        assert len(example["content_codes"]) == len(codes)
        emotion = segment["p1_emotion"][offset : offset + frames]
        assert list(example["emotion_ids"]) == emotion[::GROUP].tolist()
        assert len(example["emotion_ids"]) == math.ceil(frames / GROUP)


def test_examples_feed_the_processor_with_words_in_their_groups(corpus):
    _, dataset = corpus
    processor = ListenerProcessor(gpt2_tokenizer_from_tiktoken())
    examples = [dataset["train"][i] for i in range(2)]
    batch = processor.encode_examples(examples, return_tensors="np")
    layout = processor.layout
    for row, example in enumerate(examples):
        frames = len(example["speaker_motion"])
        assert int(batch["listener_slot_mask"][row].sum()) == math.ceil(frames / GROUP)
        ids, groups = batch["input_ids"][row], batch["group_ids"][row]
        for word in example["words"]:
            group = min(math.ceil(word["end"] * FPS - 1e-6), frames - 1) // GROUP
            token = processor.tokenizer(" " + word["text"], add_special_tokens=False)["input_ids"][0]
            assert token in ids[groups == group].tolist()
        emotion_tokens = ids[(ids >= layout.emotion_offset) & (ids < layout.emotion_offset + 8)]
        assert (emotion_tokens - layout.emotion_offset).tolist() == list(example["emotion_ids"])


def test_motion_statistics_prefer_the_release_files(corpus):
    directory, dataset = corpus
    mean, std = motion_statistics(dataset["train"], data_dir=str(directory))
    np.testing.assert_array_equal(mean, np.load(directory / "mean.npy"))
    computed_mean, computed_std = motion_statistics(dataset["train"])
    frames = np.concatenate([np.asarray(m) for m in dataset["train"]["listener_motion"]])
    np.testing.assert_allclose(computed_mean, frames.mean(0), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(computed_std, frames.std(0), rtol=1e-4, atol=1e-5)
    assert mean.shape == std.shape == (56,) and (std > 0).all()


def test_numpy_formatted_examples_encode_like_plain_rows(corpus):
    _, dataset = corpus
    processor = ListenerProcessor(gpt2_tokenizer_from_tiktoken())
    plain = processor.encode_examples([dataset["train"][0]], return_tensors="np")
    as_numpy = processor.encode_examples([dataset["train"].with_format("numpy")[0]], return_tensors="np")
    np.testing.assert_array_equal(plain["input_ids"], as_numpy["input_ids"])
