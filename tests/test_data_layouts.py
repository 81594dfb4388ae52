"""The original Learning2Listen `.npy` layout and the RealTalk manifest with 25 -> 30 fps resampling."""

import json

import numpy as np
import pytest

from mmlistener.data import L2LTrevor, RealTalk, build_dataset, resample_motion


def write_l2l_original(root, speaker="trevor", split="train", sequences=3, frames=64, seed=0):
    rng = np.random.default_rng(seed)
    folder = root / speaker / split
    folder.mkdir(parents=True)
    faces = {}
    for person in ("p0", "p1"):
        for kind in ("list_faces", "speak_faces"):
            faces[f"{person}_{kind}"] = rng.standard_normal((sequences, frames, 184)).astype(np.float32)
            np.save(folder / f"{person}_{kind}_clean_deca.npy", faces[f"{person}_{kind}"])
    files = np.empty((sequences, frames, 3), dtype="<U16")
    files[..., 0] = "video7"
    files[..., 1] = "loc2"
    files[..., 2] = (np.arange(sequences)[:, None] * 64 + np.arange(frames)[None]).astype(str)
    np.save(folder / "p1_speak_files_clean_deca.npy", files)
    return faces


def test_l2l_original_reads_listener_p0_and_speaker_p1(tmp_path):
    train = write_l2l_original(tmp_path / "data", split="train", sequences=3)
    write_l2l_original(tmp_path / "data", split="test", sequences=2, seed=1)
    dataset = build_dataset(
        L2LTrevor, str(tmp_path / "data"), "l2l_original", cache_dir=str(tmp_path / "cache")
    )
    assert {split: len(part) for split, part in dataset.items()} == {"train": 3, "test": 2}
    examples = sorted(dataset["train"].with_format("numpy"), key=lambda e: int(e["start_frame"]))
    for index, example in enumerate(examples):
        np.testing.assert_array_equal(example["listener_motion"], train["p0_list_faces"][index, :, :56])
        np.testing.assert_array_equal(example["speaker_motion"], train["p1_speak_faces"][index, :, :56])
        assert int(example["start_frame"]) == 64 * index
        assert example["source"] == "video7:loc2"
        assert example["listener_id"] == "trevor"
        assert len(example["words"]) == 0 and len(example["acoustic_codes"]) == 0
        assert not np.any(example["listener_identity"])


def test_l2l_original_listener_prefix_swaps_the_roles(tmp_path):
    faces = write_l2l_original(tmp_path / "data", speaker="fallon", sequences=2)
    dataset = build_dataset(
        L2LTrevor,
        str(tmp_path / "data"),
        "l2l_original",
        cache_dir=str(tmp_path / "cache"),
        listener_prefix="p1",
        speaker_prefix="p0",
    )
    example = sorted(dataset["train"].with_format("numpy"), key=lambda e: int(e["start_frame"]))[0]
    np.testing.assert_array_equal(example["listener_motion"], faces["p1_list_faces"][0, :, :56])
    np.testing.assert_array_equal(example["speaker_motion"], faces["p0_speak_faces"][0, :, :56])
    assert example["source"].endswith(":0")  # no p0_speak_files: the folder and the index name the source


def test_resample_motion_25_to_30_fps_keeps_times():
    times = np.arange(26) / 25  # 1 s at 25 fps
    motion = np.stack([np.sin(times), 2 * times], axis=1)
    resampled = resample_motion(motion, 25, 30)
    assert resampled.shape == (31, 2)  # frames at 0, 1/30, ..., 1 s
    np.testing.assert_allclose(resampled[:, 1], 2 * np.arange(31) / 30, atol=1e-6)  # linear parts are exact
    np.testing.assert_allclose(resampled[::6, 0], motion[::5, 0], atol=1e-6)  # shared instants are unchanged
    with pytest.raises(ValueError, match="frame rates must be positive"):
        resample_motion(motion, 0, 30)


def write_realtalk_clip(root, clip_id, frames, rng, fps=25):
    arrays = {}
    for person in ("speaker", "listener"):
        for part, width in (("exp", 50), ("pose", 6)):
            arrays[f"{person}_{part}"] = rng.standard_normal((frames, width)).astype(np.float32)
        arrays[f"{person}_shape"] = rng.standard_normal(100).astype(np.float32)
    (root / clip_id).mkdir(parents=True)
    for key, value in arrays.items():
        np.save(root / clip_id / f"{key}.npy", value)
    return arrays


def test_realtalk_manifest_resamples_to_30_fps_and_windows(tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / "realtalk"
    clip = write_realtalk_clip(root, "clip0", frames=251, rng=rng)  # 10 s at 25 fps -> 301 frames at 30 fps
    words = [
        {"text": "before", "start": 0.0, "end": 0.5},
        {"text": "late", "start": 8.5, "end": 9.0},
    ]
    row = {key: f"clip0/{key}.npy" for key in clip}
    row.update(clip_id="clip0", words=words, fps=25, listener_id="host", audio="audio/clip0.wav")
    (root / "train.jsonl").write_text(json.dumps(row) + "\n")
    csv_words = root / "clip0_words.json"
    csv_words.write_text(json.dumps(words))
    header = ",".join([*clip, "clip_id", "words", "fps", "listener_id"])
    values = ",".join([*(f"clip0/{key}.npy" for key in clip), "clip0", "clip0_words.json", "25", "host"])
    (root / "test.csv").write_text(header + "\n" + values + "\n")

    dataset = build_dataset(RealTalk, str(root), cache_dir=str(tmp_path / "cache"))
    for split in ("train", "test"):
        examples = sorted(dataset[split].with_format("numpy"), key=lambda e: int(e["start_frame"]))
        assert [int(e["start_frame"]) for e in examples] == [0, 240]
        assert [len(e["listener_motion"]) for e in examples] == [240, 61]
        first, second = examples
        assert int(first["fps"]) == 30
        expected = resample_motion(np.concatenate([clip["listener_exp"], clip["listener_pose"]], 1), 25, 30)
        np.testing.assert_allclose(second["listener_motion"], expected[240:], rtol=1e-6)
        np.testing.assert_allclose(
            first["listener_motion"][::6],
            np.concatenate([clip["listener_exp"], clip["listener_pose"]], 1)[:200:5],
            atol=1e-5,
        )
        np.testing.assert_allclose(first["listener_identity"], clip["listener_shape"])
        assert [w["text"] for w in first["words"]] == ["before"]
        assert [w["text"] for w in second["words"]] == ["late"] and second["words"][0][
            "end"
        ] == pytest.approx(1.0)
        assert [w["text"] for w in second["history_words"]] == []  # 'before' ended 7.5 s earlier
        assert first["listener_id"] == "host"
    assert dataset["train"][0]["source"] == "audio/clip0.wav"
    assert dataset["test"][0]["source"] == "clip0"
