"""mmlistener.rendering: head models, the rasterizer, MP4 writing, the FLAME loader and `mmlistener-render`."""

import os
import pickle
import subprocess
import sys
import types
import wave

import av
import numpy as np
import pytest
import scipy.sparse

from mmlistener.cli.render import parse_and_run
from mmlistener.rendering import (
    EXPRESSION_TABLE,
    FLAME_URL,
    Panel,
    builtin_head,
    load_flame,
    render_frames,
    render_video,
    write_video,
)

SIZE = 96
PITCH, JAW, SMILE = 50, 53, 1


@pytest.fixture(scope="module")
def head():
    return builtin_head()


def _frames(head, motion, size=SIZE) -> list[np.ndarray]:
    return list(render_frames([Panel(np.asarray(motion, dtype=float))], head, size))


def _poses(*settings) -> np.ndarray:
    """One frame per `{channel: value}` of `settings`, all other channels 0."""
    motion = np.zeros((len(settings), 56))
    for frame, values in enumerate(settings):
        for channel, value in values.items():
            motion[frame, channel] = value
    return motion


def _lip_pixels(image: np.ndarray) -> np.ndarray:
    """(row, column) of red lip and mouth pixels."""
    red = image[..., 0].astype(int) - image[..., 1].astype(int) > 60
    return np.argwhere(red)


def _head_rows(image: np.ndarray) -> tuple[int, int]:
    """First and last image row that the head covers (pixels that are not the background)."""
    rows = np.flatnonzero((np.abs(image.astype(int) - image[0, 0].astype(int)).sum(-1) > 0).any(axis=1))
    return rows[0], rows[-1]


def _changed(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """(row, column) of pixels that differ by more than a little."""
    return np.argwhere(np.abs(before.astype(int) - after.astype(int)).max(-1) > 12)


def test_pitch_nod_moves_the_face_down_and_back(head):
    rest, down, back, up = _frames(head, _poses({}, {PITCH: 0.15}, {}, {PITCH: -0.15}))
    row = {name: _lip_pixels(image)[:, 0].mean() for name, image in dict(rest=rest, down=down, up=up).items()}
    assert row["down"] > row["rest"] + 3  # a positive pitch nods down: the mouth moves down the image
    assert row["up"] < row["rest"] - 3
    np.testing.assert_array_equal(back, rest)


def test_jaw_opening_changes_the_mouth_not_the_top_of_the_head(head):
    rest, open_ = _frames(head, _poses({}, {JAW: 0.25}))
    changed = _changed(rest, open_)
    top, bottom = _head_rows(rest)
    assert len(changed) > 30
    assert changed[:, 0].min() > top + 0.55 * (bottom - top)  # nothing above the nose moved
    dark = lambda image: (image.astype(int).sum(-1) < 150).sum()  # noqa: E731 (the open mouth is dark)
    assert dark(open_) > dark(rest) + 20


def test_smile_lifts_the_mouth_corners(head):
    rest, smile = _frames(head, _poses({}, {SMILE: 1.5}))
    changed = _changed(rest, smile)
    top, bottom = _head_rows(rest)
    assert changed[:, 0].min() > top + 0.45 * (bottom - top)
    middle = SIZE / 2
    assert (changed[:, 1] < middle - 8).sum() > 5 and (changed[:, 1] > middle + 8).sum() > 5  # both corners

    def corner_rise(image):
        lips = _lip_pixels(image)
        left, right = lips[:, 1].min(), lips[:, 1].max()
        corners = lips[(lips[:, 1] <= left + 2) | (lips[:, 1] >= right - 2), 0].mean()
        return lips[:, 0].mean() - corners

    assert corner_rise(smile) > corner_rise(rest) + 1


def test_every_documented_expression_coefficient_moves_the_head_and_the_others_do_not(head):
    moving = [coefficient for coefficient, *_ in EXPRESSION_TABLE]
    settings = [{}] + [{k: 1.0} for k in moving] + [{k: 2.0} for k in range(len(moving), 50)]
    rest, *others = _frames(head, _poses(*settings), size=64)
    for index, image in enumerate(others):
        moved = len(_changed(rest, image)) > 0
        assert moved == (index < len(moving)), f"expression coefficient {index}"


def _read_video(path) -> dict:
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video)]
        audio = container.streams.audio[0].rate if container.streams.audio else None
        return {"frames": len(frames), "fps": video.average_rate, "shape": frames[0].shape, "audio_rate": audio}


def test_frames_are_posed_a_chunk_at_a_time_and_come_out_the_same(head, monkeypatch):
    import mmlistener.rendering.render as render

    motion = _poses(*[{PITCH: 0.1 * np.sin(i), JAW: 0.05 * i} for i in range(7)])
    posed = []
    counting = types.SimpleNamespace(faces=head.faces, face_colors=head.face_colors,
                                     vertices=lambda m, beta: posed.append(len(m)) or head.vertices(m, beta))  # fmt: skip
    monkeypatch.setattr(render, "POSE_FRAMES", 3)
    chunked = list(render_frames([Panel(motion), Panel(0.5 * motion)], counting, 32))
    assert posed == [1, 1, 3, 3, 3, 3, 1, 1]  # the rest poses, then three chunks of each panel: never the clip
    monkeypatch.setattr(render, "POSE_FRAMES", 256)
    whole = list(render_frames([Panel(motion), Panel(0.5 * motion)], head, 32))
    assert len(chunked) == 7 and all(np.array_equal(a, b) for a, b in zip(chunked, whole))


def test_video_has_frame_count_fps_size_and_audio(tmp_path):
    motion = _poses(*[{PITCH: 0.1 * np.sin(i)} for i in range(12)])
    tone = 0.2 * np.sin(2 * np.pi * 220 * np.arange(16000) / 16000).astype(np.float32)
    with_audio = _read_video(render_video(motion, tmp_path / "a.mp4", audio=tone, sampling_rate=16000, size=64))
    assert with_audio == {"frames": 12, "fps": 30, "shape": (64, 64, 3), "audio_rate": 16000}
    assert _read_video(render_video(motion, tmp_path / "b.mp4", size=64))["audio_rate"] is None


def test_audio_from_a_wav_file(tmp_path):
    path = tmp_path / "speech.wav"
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1), handle.setsampwidth(2), handle.setframerate(22050)
        handle.writeframes((np.sin(np.arange(22050) / 5) * 8000).astype("<i2").tobytes())
    video = _read_video(render_video(_poses({}, {}), tmp_path / "a.mp4", audio=str(path), size=32))
    assert video["audio_rate"] == 22050


def test_side_by_side_panels(tmp_path):
    motion = _poses({}, {JAW: 0.2})
    two = _read_video(render_video(motion, tmp_path / "two.mp4", speaker_motion=motion, size=48))
    assert two["shape"] == (48, 96, 3)
    panels = [Panel(motion, label="ground truth"), Panel(motion * 0.5, label="ours")]
    three = _read_video(render_video(panels, tmp_path / "three.mp4", speaker_motion=motion, size=48))
    assert three["shape"] == (48, 144, 3)


@pytest.mark.parametrize(
    "change, error, words",
    [
        (dict(listener_motion=np.zeros((4, 55))), ValueError, "(frames, 56)"),
        (dict(listener_motion=np.full((4, 56), np.nan)), ValueError, "NaN"),
        (dict(speaker_motion=np.zeros((5, 56))), ValueError, "same number of frames"),
        (dict(identity=np.zeros(99)), ValueError, "shape beta of shape (100,)"),
        (dict(audio="missing.wav"), FileNotFoundError, "missing.wav"),
        (dict(head="flame", flame_model="missing.pkl"), FileNotFoundError, FLAME_URL),
        (dict(head="flame"), ValueError, "flame_model"),
        (dict(size=33), ValueError, "even"),
    ],
)
def test_bad_input_is_named_and_leaves_nothing(tmp_path, change, error, words):
    arguments = dict(listener_motion=np.zeros((4, 56)), out_path=tmp_path / "out" / "video.mp4", size=32) | change
    with pytest.raises(error, match=None) as raised:
        render_video(**arguments)
    assert words in str(raised.value)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_failure_while_encoding_leaves_no_file(tmp_path):
    def frames():
        yield np.zeros((32, 32, 3), np.uint8)
        raise RuntimeError("renderer broke")

    with pytest.raises(RuntimeError):
        write_video(frames(), tmp_path / "video.mp4")
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------------------------------
# FLAME from a pickle shaped like FLAME 2020's generic_model.pkl (a small made-up mesh)


def _sphere(rings=6, segments=8):
    """A small closed mesh: vertices (V, 3), faces (F, 3) with outward counter-clockwise winding."""
    theta, phi = np.meshgrid(np.linspace(0, np.pi, rings + 2)[1:-1], np.linspace(0, 2 * np.pi, segments, endpoint=False),
                             indexing="ij")  # fmt: skip
    points = np.stack([np.sin(theta) * np.sin(phi), np.cos(theta), np.sin(theta) * np.cos(phi)], -1).reshape(-1, 3)
    points = np.concatenate([[[0, 1, 0]], points, [[0, -1, 0]]])
    index = 1 + np.arange(rings * segments).reshape(rings, segments)
    after = np.roll(index, -1, axis=1)
    faces = [np.stack([np.zeros(segments, int), index[0], after[0]], 1),
             np.stack([index[:-1], index[1:], after[1:]], -1).reshape(-1, 3),
             np.stack([index[:-1], after[1:], after[:-1]], -1).reshape(-1, 3),
             np.stack([np.full(segments, len(points) - 1), after[-1], index[-1]], 1)]  # fmt: skip
    faces = np.concatenate(faces)
    corners = points[faces]
    inward = (np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]) * corners.mean(1)).sum(1) < 0
    faces[inward] = faces[inward][:, ::-1]
    return points, faces


def _fake_chumpy():
    """A stand-in `chumpy.ch` module whose `Ch` pickles like chumpy's (its state dict holds the array in 'x')."""
    module = types.ModuleType("chumpy.ch")

    class Ch:
        def __init__(self, x):
            self.x = x

        def __getstate__(self):
            return {"x": self.x, "_dirty_vars": set(), "_itr": None, "_depends_on_deps": {}, "_make_dense": False}

    Ch.__module__, Ch.__qualname__ = "chumpy.ch", "Ch"
    module.Ch = Ch
    return module


@pytest.fixture(scope="module")
def flame_file(tmp_path_factory):
    """Path of a FLAME-shaped pickle, and its arrays."""
    rng = np.random.default_rng(0)
    template, faces = _sphere()
    template = template * 0.1
    num_vertices = len(template)
    jaw = ((template[:, 1] < -0.03) & (template[:, 2] > 0)).astype(float)
    weights = np.zeros((num_vertices, 5))
    weights[:, 1], weights[:, 2] = 1 - jaw, jaw
    regressor = np.zeros((5, num_vertices))
    regressor[[0, 1, 3, 4], -1] = 1.0  # root, neck and eyes at the bottom pole
    regressor[2] = 1.0 / num_vertices  # jaw at the centre
    arrays = {
        "v_template": template,
        "f": faces.astype(np.uint32),
        "shapedirs": rng.normal(0, 0.002, (num_vertices, 3, 400)),
        "posedirs": rng.normal(0, 0.001, (num_vertices, 3, 36)),
        "weights": weights,
        "kintree_table": np.array([[4294967295, 0, 1, 1, 1], [0, 1, 2, 3, 4]], dtype=np.int64),
        "J_regressor": regressor,
    }
    chumpy = types.ModuleType("chumpy")
    chumpy.ch = _fake_chumpy()
    content = dict(arrays, bs_style="lbs", bs_type="lrotmin", J=regressor @ template)
    content["shapedirs"] = chumpy.ch.Ch(arrays["shapedirs"])
    content["J_regressor"] = scipy.sparse.csc_matrix(regressor)
    path = tmp_path_factory.mktemp("flame") / "generic_model.pkl"
    sys.modules.update({"chumpy": chumpy, "chumpy.ch": chumpy.ch})
    try:
        path.write_bytes(pickle.dumps(content, protocol=2))
    finally:
        del sys.modules["chumpy"], sys.modules["chumpy.ch"]
    return str(path), arrays


def test_flame_blend_shapes_and_skinning(flame_file):
    path, arrays = flame_file
    flame = load_flame(path)
    assert "chumpy" not in sys.modules
    beta = np.random.default_rng(1).normal(size=100)
    motion = _poses({}, {0: 1.0}, {JAW: 0.3})
    meshes = flame.vertices(motion, beta)
    shaped = arrays["v_template"] + arrays["shapedirs"][..., :100] @ beta
    np.testing.assert_allclose(meshes[0], shaped, atol=1e-12)
    np.testing.assert_allclose(meshes[1], shaped + arrays["shapedirs"][..., 300], atol=1e-12)  # expression 0
    angle = 0.3  # the jaw's rotation about x, its pose-corrective offsets (joint 2: pose feature 9..18)
    rotation = np.array([[1, 0, 0], [0, np.cos(angle), -np.sin(angle)], [0, np.sin(angle), np.cos(angle)]])
    corrected = shaped + arrays["posedirs"][..., 9:18] @ (rotation - np.eye(3)).ravel()
    moved = np.abs(meshes[2] - corrected).max(axis=1) > 1e-9
    np.testing.assert_array_equal(moved, arrays["weights"][:, 2] > 0)  # skinning moves the jaw's vertices only


def test_flame_renders(flame_file, tmp_path):
    path, _ = flame_file
    video = render_video(_poses({}, {PITCH: 0.15}), tmp_path / "flame.mp4", head="flame", flame_model=path, size=32)
    assert _read_video(video)["frames"] == 2


class _RunsCommand:
    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def test_malicious_pickle_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "generic_model.pkl"
    path.write_bytes(pickle.dumps({"v_template": _RunsCommand(f"touch {marker}")}, protocol=2))
    with pytest.raises(ValueError, match="refused to load .*system"):
        load_flame(str(path))
    assert not marker.exists()


def test_not_a_flame_file(tmp_path):
    path = tmp_path / "generic_model.pkl"
    path.write_bytes(pickle.dumps({"v_template": np.zeros((3, 3))}, protocol=2))
    with pytest.raises(ValueError, match="no 'shapedirs'.*flame.is.tue.mpg.de"):
        load_flame(str(path))


# --------------------------------------------------------------------------------------------------
# mmlistener-render


def test_render_command_positional_motion_and_dashed_flags(tmp_path):
    motion = _poses({}, {PITCH: 0.1}, {JAW: 0.2})
    np.save(tmp_path / "listener.npy", motion)
    np.save(tmp_path / "speaker.npy", motion[::-1].copy())
    np.save(tmp_path / "beta.npy", np.ones(100))
    path = parse_and_run([str(tmp_path / "listener.npy"), "--out", str(tmp_path / "o.mp4"), "--speaker-motion",
                          str(tmp_path / "speaker.npy"), "--identity", str(tmp_path / "beta.npy"), "--size", "32",
                          "--frame_png", str(tmp_path / "frame.png")])  # fmt: skip
    assert _read_video(path) == {"frames": 3, "fps": 30, "shape": (32, 64, 3), "audio_rate": None}
    from PIL import Image

    assert Image.open(tmp_path / "frame.png").size == (64, 32)


def test_render_command_dataset_window(dataset_dir, tmp_path):
    from datasets import load_from_disk

    frames = len(load_from_disk(dataset_dir)["test"][0]["listener_motion"])
    np.save(tmp_path / "generated.npy", np.zeros((frames, 56)))
    window = parse_and_run(["--dataset", dataset_dir, "--split", "test", "--index", "0", "--size", "32",
                            "--out", str(tmp_path / "window.mp4")])  # fmt: skip
    assert _read_video(window) == {"frames": frames, "fps": 30, "shape": (32, 64, 3), "audio_rate": None}
    compare = parse_and_run([str(tmp_path / "generated.npy"), "--dataset", dataset_dir, "--size", "32",
                             "--out", str(tmp_path / "compare.mp4")])  # fmt: skip
    assert _read_video(compare)["shape"] == (32, 96, 3)  # speaker | ground truth | generated


def test_render_console_script(tmp_path):
    np.save(tmp_path / "listener.npy", np.zeros((2, 56)))
    script = os.path.join(os.path.dirname(sys.executable), "mmlistener-render")
    run = lambda *flags: subprocess.run([script, *flags], capture_output=True, text=True, timeout=120)  # noqa: E731
    good = run(str(tmp_path / "listener.npy"), "--out", str(tmp_path / "o.mp4"), "--size", "32")
    assert good.returncode == 0, good.stderr[-2000:]
    assert (tmp_path / "o.mp4").is_file()


def test_render_command_names_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="--motion: no file at .*missing.npy"):
        parse_and_run(["--motion", str(tmp_path / "missing.npy"), "--out", str(tmp_path / "o.mp4")])
    np.save(tmp_path / "listener.npy", np.zeros((2, 56)))
    with pytest.raises(FileNotFoundError, match="--speaker_motion: no file at .*missing.npy"):
        parse_and_run([str(tmp_path / "listener.npy"), "--speaker_motion", str(tmp_path / "missing.npy"),
                       "--out", str(tmp_path / "o.mp4")])  # fmt: skip
    assert not (tmp_path / "o.mp4").exists()


# --------------------------------------------------------------------------------------------------
# docs/rendering.md

DOCS = os.path.join(os.path.dirname(__file__), os.pardir, "docs", "rendering.md")


def test_docs_python_blocks_run(tmp_path, monkeypatch):
    import re

    text = open(DOCS, encoding="utf-8").read()
    blocks = re.findall(r"^```python[ \t]*\n(.*?)^```[ \t]*$", text, re.MULTILINE | re.DOTALL)
    assert blocks
    monkeypatch.chdir(tmp_path)
    namespace = {}
    for block in blocks:
        exec(compile(block, DOCS, "exec"), namespace)
    assert _read_video(tmp_path / "pair.mp4")["audio_rate"] == 16000
    assert _read_video(tmp_path / "compare.mp4")["shape"] == (128, 384, 3)


def test_docs_table_is_the_code_table():
    text = open(DOCS, encoding="utf-8").read()
    for coefficient, name, effect, limit in EXPRESSION_TABLE:
        assert f"| {coefficient} | {name} | {effect} | {limit:g} |" in text
