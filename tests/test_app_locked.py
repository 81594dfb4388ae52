"""The locked page (`mmlistener-app --models ...`, the Space's `app.py`) served on a local port and called through
`gradio_client` as a visitor would: names, never paths; nothing read, loaded or downloaded on a visitor's behalf;
the length and upload limits; outputs deleted; the example recording. Tiny models (see test_listen.py)."""

import os
import shutil
import time
from pathlib import Path
from types import SimpleNamespace

import av
import datasets
import gradio as gr
import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from test_app import _free_port
from test_listen import _speech, _write_wav, models  # noqa: F401 (models is a fixture)

from mmlistener.cli import app_locked, listen
from mmlistener.cli.app import AppArguments, launch
from mmlistener.cli.app_locked import LockedApp, parse_models
from mmlistener.evaluation import systems
from mmlistener.processing import audio as audio_module

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
LISTENERS = 3  # windows of the operator's dataset


@pytest.fixture(scope="module")
def served(models, tmp_path_factory):  # noqa: F811
    """The locked page with one model named "tiny", a dataset of 3 listeners, small limits, its own gradio cache."""
    cache, root = tmp_path_factory.mktemp("gradio_cache"), tmp_path_factory.mktemp("operator")
    betas = np.random.default_rng(0).standard_normal((LISTENERS, 100)).astype(np.float32)
    datasets.DatasetDict({"test": datasets.Dataset.from_dict({"listener_identity": betas.tolist()})}).save_to_disk(
        root / "dataset"
    )
    previous = os.environ.get("GRADIO_TEMP_DIR")
    os.environ["GRADIO_TEMP_DIR"] = str(cache)
    args = AppArguments(
        models=[f"tiny={models / 'lm'}:{models / 'vqvae'}"], listener_dataset=f"{root / 'dataset'}:test",
        asr_checkpoint=str(models / "whisper.pt"), speechtokenizer_checkpoint=str(models / "speechtokenizer"),
        size=32, max_seconds=8.0, max_upload_mb=0.3, keep_outputs_seconds=1, server_name="127.0.0.1",
        server_port=_free_port(),
    )  # fmt: skip
    app = launch(args, prevent_thread_lock=True, quiet=True)
    client = Client(app.local_url, verbose=False, download_files=str(root / "downloads"), analytics_enabled=False)
    yield SimpleNamespace(app=app, client=client, cache=cache, root=root, betas=betas, args=args)
    app.close()
    if previous is None:
        os.environ.pop("GRADIO_TEMP_DIR")
    else:
        os.environ["GRADIO_TEMP_DIR"] = previous


def _listen(served, audio, model="tiny", identity="random", beta_file=None, listener=0, seed=0):
    return served.client.predict(audio, model, identity, beta_file, listener, seed, api_name="/listen")


def _raw_call(url: str, data: list) -> tuple[str, str]:
    """POST `data` to `/listen` as a bare HTTP client would; (the last event's name, its data)."""
    import httpx

    with httpx.Client(base_url=url, timeout=60) as http:
        event_id = http.post("gradio_api/call/listen", json={"data": data}).json()["event_id"]
        stream = http.get(f"gradio_api/call/listen/{event_id}").text
    events = [line.removeprefix("event: ") for line in stream.splitlines() if line.startswith("event: ")]
    payloads = [line.removeprefix("data: ") for line in stream.splitlines() if line.startswith("data: ")]
    return events[-1], payloads[-1]


def _frames(video) -> int:
    with av.open(video["video"] if isinstance(video, dict) else video) as container:
        return sum(1 for _ in container.decode(video=0))


def test_the_page_offers_names_and_no_path(served):
    kinds = {component["type"] for component in served.app.config["components"]}
    assert "textbox" not in kinds  # nothing to type a path into
    (endpoint,) = served.client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    assert endpoint == "/listen"
    assert "Unlocked" not in str(served.app.config)


def test_a_visitor_gets_the_listener_of_the_dataset(served, tmp_path):
    speech = _write_wav(tmp_path / "speaker.wav", _speech(1.0, 16000), 16000)
    video, summary = _listen(served, handle_file(speech), identity="listener of a dataset", listener=2)
    assert _frames(video) == 30 and "Listener: listener 2 of the dataset" in summary
    np.save(tmp_path / "beta.npy", served.betas[0])
    _, summary = _listen(served, handle_file(speech), identity="beta .npy", beta_file=handle_file(tmp_path / "beta.npy"))
    assert "Listener: beta.npy" in summary


def test_the_example_recording_is_the_packages_and_plays(served):
    examples = [c for c in served.app.config["components"] if c["type"] == "dataset"]
    assert len(examples) == 1 and "example-speaker.wav" in str(examples[0])
    (recording,) = (served.cache / "mmlistener-examples").glob("*.wav")
    video, summary = _listen(served, handle_file(recording))
    assert _frames(video) > 60 and summary.startswith(f"{_frames(video)} frames")


def test_a_visitor_cannot_make_the_server_read_load_or_download(served, models, tmp_path, monkeypatch):  # noqa: F811
    calls = []

    def forbidden(name):
        def call(*args, **kwargs):
            calls.append(name)
            raise AssertionError(f"{name} ran for a visitor")

        return call

    for module, name in [(listen, "build_pipeline"), (app_locked, "build_pipeline"), (systems, "load_split"),
                         (datasets, "load_from_disk"), (listen, "listener_identity")]:  # fmt: skip
        monkeypatch.setattr(module, name, forbidden(name))
    import huggingface_hub
    import whisper

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", forbidden("hf_hub_download"))
    monkeypatch.setattr(whisper, "load_model", forbidden("whisper.load_model"))
    speech = handle_file(_write_wav(tmp_path / "speaker.wav", _speech(1.0, 16000), 16000))
    server_file = _write_wav(tmp_path / "on_the_server.wav", _speech(1.0, 16000), 16000)
    np.save(tmp_path / "on_the_server.npy", np.zeros(100))
    refused = [
        ({"model": str(models / "lm")}, "not in the list of choices|no model named"),  # a folder
        ({"model": "large-v3"}, "not in the list of choices|no model named"),  # a download
        ({"identity": f"{models}:test:0"}, "not in the list of choices|expected one of"),  # a dataset window
        ({"identity": "listener of a dataset", "listener": LISTENERS}, "greater than maximum value 2|out of range"),
    ]  # fmt: skip
    for changes, message in refused:
        with pytest.raises(AppError, match=message):
            _listen(served, **{"audio": speech, **changes})
    # a server path sent as a file, straight to the HTTP API (the Python client would upload a local file instead)
    on_the_server = {"path": server_file, "meta": {"_type": "gradio.FileData"}}
    npy_on_the_server = {"path": str(tmp_path / "on_the_server.npy"), "meta": {"_type": "gradio.FileData"}}
    reads, read_audio, load_npy = [], audio_module.read_audio, app_locked.load_npy
    monkeypatch.setattr(audio_module, "read_audio", lambda path: reads.append(path) or read_audio(path))
    monkeypatch.setattr(app_locked, "load_npy", lambda path, flag: reads.append(path) or load_npy(path, flag))
    for data in ([on_the_server, "tiny", "random", None, 0, 0], [speech, "tiny", "beta .npy", npy_on_the_server, 0, 0]):
        assert _raw_call(served.app.local_url, data)[0] == "error"
    assert reads == []  # refused before the app read anything
    video, _ = _listen(served, speech, seed=3)  # the page still works, with what was loaded at its start
    assert _frames(video) == 30 and calls == []


def test_respond_itself_refuses_what_the_page_would_not_send(served, tmp_path):
    locked = LockedApp(served.args)  # the same checks without gradio's own in front
    outside = _write_wav(tmp_path / "outside.wav", _speech(1.0, 16000), 16000)
    inside = Path(shutil.copy(outside, served.cache / "inside.wav"))
    np.save(served.cache / "beta.npy", np.zeros(100))
    refused = [
        ({"audio": outside}, "the speaker must be a file uploaded to this page"),
        ({"audio": None}, "upload or record the speaker first"),
        ({"model": "../lm"}, "no model named '../lm' here: choose one of tiny"),
        ({"identity": "beta .npy", "beta_file": str(tmp_path / "x.npy")}, "must be a file uploaded to this page"),
        ({"identity": "listener of a dataset", "listener": 7}, r"listener 7 is out of range: .* listeners 0-2"),
        ({"identity": "outputs/dataset:test:0"}, "expected one of random, beta .npy, listener of a dataset"),
    ]  # fmt: skip
    for changes, message in refused:
        with pytest.raises(gr.Error, match=message):
            locked.respond(**{"audio": str(inside), "model": "tiny", **changes})
    path, summary = locked.respond(str(inside), "tiny", "beta .npy", str(served.cache / "beta.npy"))
    assert Path(path).parent == served.cache / "mmlistener-app" and "Listener: beta.npy" in summary
    for made in (inside, Path(path), served.cache / "beta.npy"):
        made.unlink()


def test_a_too_long_recording_gets_a_clear_error(served, tmp_path):
    long = _write_wav(tmp_path / "long.wav", _speech(9.0, 8000), 8000)  # 144 kB: under the upload limit
    with pytest.raises(AppError, match="the recording is 9.0 s long: this page takes at most 8 s"):
        _listen(served, handle_file(long))


def test_an_upload_over_the_limit_is_refused(served, tmp_path):
    import httpx

    big = _write_wav(tmp_path / "big.wav", _speech(4.0, 44100), 44100)  # 353 kB > 0.3 MB
    with pytest.raises(ValueError, match="exceeds the maximum file size of 300000 bytes"):  # the client checks first
        _listen(served, handle_file(big))
    with open(big, "rb") as handle:  # and the server refuses a bare upload
        answer = httpx.post(f"{served.app.local_url}gradio_api/upload", files={"files": handle}, timeout=60)
    assert answer.status_code == 413 and "300000" in answer.text.replace(",", ""), (answer.status_code, answer.text)


def _files(folder: Path) -> set[Path]:
    return {path for path in folder.rglob("*") if path.is_file() and "mmlistener-examples" not in path.parts}


def _left_after_cleanup(cache: Path, before: set, seconds: float = 10.0) -> set:
    """The cache's files not in `before` once the server's cleanup (files older than keep_outputs_seconds=1, checked
    every second) has had up to `seconds` to remove them: empty unless outputs pile up."""
    deadline = time.monotonic() + seconds
    while (left := _files(cache) - before) and time.monotonic() < deadline:
        time.sleep(0.5)
    return left


def test_outputs_and_uploads_do_not_pile_up(served, tmp_path):
    speech = _write_wav(tmp_path / "speaker.wav", _speech(1.0, 16000), 16000)
    time.sleep(2.5)  # keep_outputs_seconds=1, checked every second: what earlier tests left is gone by now
    before = _files(served.cache)
    for seed in range(3):
        video, _ = _listen(served, handle_file(speech), seed=seed)
        assert _frames(video) == 30  # served (the client downloaded it)
        made = _files(served.cache) - before
        assert any(path.parent.name == "mmlistener-app" for path in made)  # the video, and the upload
        left = _left_after_cleanup(served.cache, before)  # a loaded machine runs the cleanup late, not never
        assert not left, f"left after call {seed}: {left}"
    assert (served.cache / "mmlistener-examples" / "example-speaker.wav").is_file()  # the example stays


@pytest.mark.parametrize(
    "specs, message",
    [(["tiny"], "expected NAME=LM_DIR:VQVAE_DIR"), (["a=lm"], "expected NAME=LM_DIR:VQVAE_DIR"),
     (["a=lm:vq", "a=lm2:vq2"], "names 'a' twice"), ([], "at least one model")],
)  # fmt: skip
def test_bad_model_specs_are_named(specs, message):
    with pytest.raises(ValueError, match=message):
        parse_models(specs)
    assert parse_models(["a=x/lm:x/vq", "b=y:z"]) == {"a": ("x/lm", "x/vq"), "b": ("y", "z")}
