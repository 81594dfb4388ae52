"""Refused pickles and errors that name the file, the record and the key."""

import json
import pathlib

import numpy as np
import pytest
import torch

from mmlistener.data import L2LTrevor, RealTalk, build_dataset, load_torch_file, motion_statistics
from mmlistener.data.synthetic import write_synthetic_corpus


class CreatesAFile:
    """Unpickling this calls `pathlib.Path(marker).touch()`: arbitrary code the loader must not run."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return pathlib.Path.touch, (pathlib.Path(self.marker),)


@pytest.fixture(scope="module")
def segments(tmp_path_factory):
    root = tmp_path_factory.mktemp("segments")
    write_synthetic_corpus(
        str(root), num_train=1, num_val=1, num_test=1, seed=1, min_frames=200, max_frames=200
    )
    return torch.load(root / "segments_train.pth", weights_only=True)


def build_with(tmp_path, segments_or_bytes, **kwargs):
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    path = data / "segments_train.pth"
    if isinstance(segments_or_bytes, bytes):
        path.write_bytes(segments_or_bytes)
    else:
        torch.save(segments_or_bytes, path)
    return build_dataset(
        L2LTrevor, str(data), "lm_listener", cache_dir=str(tmp_path / "cache"), **kwargs
    ), path


def test_malicious_pickle_is_refused_and_not_executed(tmp_path, segments):
    marker = tmp_path / "executed"
    poisoned = [dict(segments[0], fname=CreatesAFile(str(marker)))]
    with pytest.raises(ValueError, match="refusing to load it") as error:
        build_with(tmp_path, poisoned)
    assert "segments_train.pth" in str(error.value)
    assert not marker.exists()
    with pytest.raises(ValueError, match="refusing"):
        load_torch_file(str(tmp_path / "data" / "segments_train.pth"))
    assert not marker.exists()


def test_a_builder_used_directly_names_the_refused_file(tmp_path, segments):
    """`download_and_prepare` without `build_dataset`: the error is raised before datasets wraps generation."""
    marker = tmp_path / "executed"
    data = tmp_path / "data"
    data.mkdir()
    torch.save(segments, data / "segments_train.pth")
    torch.save([dict(segments[0], fname=CreatesAFile(str(marker)))], data / "segments_test.pth")
    builder = L2LTrevor(data_dir=str(data), cache_dir=str(tmp_path / "cache"))
    with pytest.raises(ValueError, match=r"segments_test\.pth holds pickled objects .*refusing to load it"):
        builder.download_and_prepare()
    assert not marker.exists()
    (data / "segments_test.pth").write_bytes(b"this is not a torch file")
    with pytest.raises(ValueError, match=r"segments_test\.pth is not a readable torch file"):
        L2LTrevor(data_dir=str(data), cache_dir=str(tmp_path / "cache")).download_and_prepare()
    torch.save([], data / "segments_test.pth")
    with pytest.raises(ValueError, match=r"segments_test\.pth: the split is empty"):
        L2LTrevor(data_dir=str(data), cache_dir=str(tmp_path / "cache")).download_and_prepare()


def test_missing_key_is_named_with_file_and_segment(tmp_path, segments):
    broken = dict(segments[0])
    del broken["p1_pose"]
    with pytest.raises(ValueError, match=r"segments_train\.pth, segment 1: missing key 'p1_pose'"):
        build_with(tmp_path, [segments[0], broken])


def test_mismatched_lengths_are_named(tmp_path, segments):
    broken = dict(segments[0], p1_exp=segments[0]["p1_exp"][:-3])
    with pytest.raises(ValueError, match=r"segment 0: mismatched frame counts .*'p1_exp': 197"):
        build_with(tmp_path, [broken])


def test_wrong_width_and_nan_are_named(tmp_path, segments):
    with pytest.raises(ValueError, match=r"key 'p0_pose' must have shape \(frames, 6\)"):
        build_with(tmp_path, [dict(segments[0], p0_pose=segments[0]["p0_pose"][:, :3])])
    nan = segments[0]["p0_exp"].clone()
    nan[5, 2] = float("nan")
    with pytest.raises(ValueError, match=r"key 'p0_exp' contains NaN"):
        build_with(tmp_path, [dict(segments[0], p0_exp=nan)])


def test_empty_split_is_named(tmp_path):
    with pytest.raises(ValueError, match=r"segments_train\.pth: the split is empty"):
        build_with(tmp_path, [])


def test_unreadable_file_is_named(tmp_path):
    with pytest.raises(ValueError, match=r"segments_train\.pth is not a readable torch file"):
        build_with(tmp_path, b"this is not a torch file")


def test_missing_release_files_and_directory(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"no segments_\{train,val,test\}\.pth in"):
        build_dataset(L2LTrevor, str(tmp_path / "empty"), "lm_listener", cache_dir=str(tmp_path / "cache"))
    with pytest.raises(ValueError, match="is not a directory"):
        build_dataset(L2LTrevor, str(tmp_path / "nowhere"), "lm_listener")
    with pytest.raises(ValueError, match="no mean.npy/std.npy"):
        motion_statistics(data_dir=str(tmp_path / "empty"))
    np.save(tmp_path / "empty" / "mean.npy", np.zeros(50))
    np.save(tmp_path / "empty" / "std.npy", np.ones(50))
    with pytest.raises(ValueError, match=r"mean\.npy must hold 56 values"):
        motion_statistics(data_dir=str(tmp_path / "empty"))


def test_pickled_npy_is_refused(tmp_path):
    folder = tmp_path / "data" / "trevor" / "train"
    folder.mkdir(parents=True)
    marker = tmp_path / "executed"
    np.save(folder / "p0_list_faces_clean_deca.npy", np.array([CreatesAFile(str(marker))], dtype=object))
    np.save(folder / "p1_speak_faces_clean_deca.npy", np.zeros((1, 64, 184), dtype=np.float32))
    with pytest.raises(ValueError, match=r"p0_list_faces_clean_deca\.npy is not a readable \.npy array"):
        build_dataset(L2LTrevor, str(tmp_path / "data"), "l2l_original", cache_dir=str(tmp_path / "cache"))
    assert not marker.exists()


def test_realtalk_manifest_errors_name_line_and_key(tmp_path):
    root = tmp_path / "realtalk"
    root.mkdir()
    row = {
        "clip_id": "c",
        "words": [],
        "fps": 25,
        "listener_id": "host",
        **{f"{p}_{k}": f"{p}_{k}.npy" for p in ("speaker", "listener") for k in ("exp", "pose", "shape")},
    }
    (root / "train.jsonl").write_text(json.dumps({**row, "listener_pose": ""}) + "\n")
    with pytest.raises(ValueError, match=r"train\.jsonl, line 1: missing key 'listener_pose'"):
        build_dataset(RealTalk, str(root), cache_dir=str(tmp_path / "cache"))
    (root / "train.jsonl").write_text("\n" + json.dumps(row) + "\n")
    with pytest.raises(ValueError, match=r"no file at .*speaker_exp\.npy"):
        build_dataset(RealTalk, str(root), cache_dir=str(tmp_path / "cache"))
    (root / "train.jsonl").write_text("")
    with pytest.raises(ValueError, match=r"train\.jsonl: the split is empty"):
        build_dataset(RealTalk, str(root), cache_dir=str(tmp_path / "cache"))
