"""`mmlistener-app`, unlocked (local use): the Gradio page served on a local port, called through `gradio_client`
and shown in a headless browser (into a temporary folder: `bench/app_screenshot.py` makes the docs' image); `respond`
called directly; the unlocked page refuses to be served publicly. Tiny models and speech made by the tests (see
test_listen.py). The locked page: test_app_locked.py.

The screenshot test needs a Chromium (the Debian package `chromium-headless-shell` or `chromium`, or the
path of one in `MMLISTENER_BROWSER`): without one it fails and says so. `MMLISTENER_SKIP_BROWSER=1` skips it
on purpose.
"""

import os
import shutil
import socket
import subprocess
from importlib.metadata import entry_points

import av
import gradio as gr
import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image
from test_listen import _speech, _write_wav, models  # noqa: F401 (models is a fixture)

from mmlistener.cli.app import (
    ENVIRONMENT,
    UNLOCKED_NOTICE,
    AppArguments,
    build_app,
    launch,
    respond,
    with_environment,
)

BROWSERS = ("chromium-headless-shell", "chromium", "chromium-browser", "google-chrome")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(models):  # noqa: F811
    """The page served on a free local port (no share link), its model folders set to the tiny models."""
    app = build_app(AppArguments(model=str(models / "lm"), vqvae=str(models / "vqvae"),
                                 asr_checkpoint=str(models / "whisper.pt"),
                                 speechtokenizer_checkpoint=str(models / "speechtokenizer")))  # fmt: skip
    _, url, _ = app.launch(server_name="127.0.0.1", server_port=_free_port(), prevent_thread_lock=True, share=False,
                           quiet=True)  # fmt: skip
    yield url
    app.close()


@pytest.fixture(scope="module")
def client(app_url, tmp_path_factory):
    return Client(app_url, verbose=False, download_files=str(tmp_path_factory.mktemp("downloads")),
                  analytics_enabled=False)  # fmt: skip


def _inputs(models, **changes):  # noqa: F811
    """The inputs of `/listen` in the page's order (audio, identity, beta, dataset, seed, folders, size)."""
    inputs = {
        "audio": None, "identity": "random", "beta_file": None, "dataset_listener": "", "seed": 0,
        "model": str(models / "lm"), "vqvae": str(models / "vqvae"), "asr_checkpoint": str(models / "whisper.pt"),
        "speechtokenizer_checkpoint": str(models / "speechtokenizer"), "without_acoustic": False, "size": 32,
        "asr_backend": "openai-whisper",
    }  # fmt: skip
    inputs.update(changes)
    return list(inputs.values())


def _video(output) -> str:
    return output["video"] if isinstance(output, dict) else output


def test_client_gets_the_video_with_frames_and_sound(client, models, tmp_path):  # noqa: F811
    speech = _write_wav(tmp_path / "speaker.wav", _speech(2.0, 22050), 22050)
    video, summary = client.predict(*_inputs(models, audio=handle_file(speech)), api_name="/listen")
    with av.open(_video(video)) as container:
        assert container.streams.audio, "the recording is muxed in"
        assert sum(1 for _ in container.decode(video=0)) == 60  # 2 s at 30 fps
    assert summary.startswith("60 frames (2.0 s at 30 fps)") and "acoustic" in summary


def test_client_with_a_beta_file_and_without_acoustic(client, models, tmp_path):  # noqa: F811
    speech = _write_wav(tmp_path / "speaker.wav", _speech(1.0, 16000), 16000)
    np.save(tmp_path / "beta.npy", np.linspace(-1, 1, 100))
    inputs = _inputs(models, audio=handle_file(speech), identity="beta .npy", beta_file=handle_file(tmp_path / "beta.npy"),
                     speechtokenizer_checkpoint="", without_acoustic=True)  # fmt: skip
    video, summary = client.predict(*inputs, api_name="/listen")
    assert "Listener: beta.npy" in summary and "acoustic" not in summary
    with av.open(_video(video)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 30


@pytest.mark.parametrize(
    "make_input, words",
    [
        (lambda tmp_path: {"audio": handle_file(_write_wav(tmp_path / "s.wav", np.zeros(16000), 16000))},
         "is silent"),
        (lambda tmp_path: {"model": str(tmp_path / "nowhere")}, "--model: no listener model at .*nowhere"),
        (lambda tmp_path: {"identity": "listener of a dataset"}, "name the dataset window"),
        (lambda tmp_path: {"audio": None}, "upload or record the speaker first"),
    ],
    ids=["silent audio", "missing model folder", "no dataset window", "no recording"],
)  # fmt: skip
def test_bad_input_is_a_clear_error_on_the_page(client, models, tmp_path, make_input, words):  # noqa: F811
    speech = _write_wav(tmp_path / "speaker.wav", _speech(1.0, 16000), 16000)
    changes = make_input(tmp_path)
    changes["audio"] = changes.get("audio", handle_file(speech))
    with pytest.raises(AppError, match=words):  # the message of a gr.Error (other exceptions arrive as "Error")
        client.predict(*_inputs(models, **changes), api_name="/listen")


def test_respond_direct_errors_are_gradio_errors(tmp_path):
    with pytest.raises(gr.Error, match="upload or record the speaker"):
        respond(None)
    with pytest.raises(gr.Error, match="upload the listener's beta"):
        respond(str(tmp_path / "a.wav"), identity="beta .npy")
    with pytest.raises(gr.Error, match="--model is required"):
        respond(_write_wav(tmp_path / "a.wav", _speech(1.0, 16000), 16000))


def test_model_folders_default_to_the_environment(monkeypatch):
    monkeypatch.setenv(ENVIRONMENT["model"], "/models/lm")
    monkeypatch.setenv(ENVIRONMENT["vqvae"], "/models/vqvae")
    args = with_environment(AppArguments(vqvae="flag/vqvae"))
    assert args.model == "/models/lm" and args.vqvae == "flag/vqvae"  # a flag wins over the environment


def test_the_unlocked_page_says_it_is_for_local_use(monkeypatch):
    assert UNLOCKED_NOTICE in str(build_app(AppArguments()).config)
    monkeypatch.delenv("GRADIO_SERVER_NAME", raising=False)
    for args in (AppArguments(server_name="0.0.0.0"), AppArguments(share=True)):
        with pytest.raises(ValueError, match="serves on this machine only .* lock it with --models"):
            launch(args)
    monkeypatch.setenv("GRADIO_SERVER_NAME", "0.0.0.0")  # as a Space sets it
    with pytest.raises(ValueError, match="address '0.0.0.0'"):
        launch(AppArguments())
    with pytest.raises(ValueError, match="serves the locked page only: name its models with --models"):
        launch(AppArguments(model="outputs/lm", vqvae="outputs/vqvae"), locked=True)  # app.py, the Space


def test_console_script_is_registered():
    (script,) = [entry for entry in entry_points(group="console_scripts") if entry.name == "mmlistener-app"]
    assert script.value == "mmlistener.cli.app:main"


def _browser() -> str:
    candidates = [os.environ.get("MMLISTENER_BROWSER"), *map(shutil.which, BROWSERS)]
    found = next((path for path in candidates if path and os.path.isfile(path)), None)
    if found is None:
        if os.environ.get("MMLISTENER_SKIP_BROWSER") == "1":
            pytest.skip("MMLISTENER_SKIP_BROWSER=1: no screenshot of the app")
        pytest.fail("no Chromium for the app's screenshot: apt-get install chromium-headless-shell, set "
                    "MMLISTENER_BROWSER=/path/to/chromium, or MMLISTENER_SKIP_BROWSER=1 to skip on purpose")  # fmt: skip
    return found


def test_headless_browser_shows_the_page(app_url, tmp_path):
    browser = _browser()
    # virtual time runs the page's scripts for 20 s once its requests are done (the page opens no lasting
    # stream); any host but this one fails at once, so nothing waits on the internet
    common = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1280,900",
              "--virtual-time-budget=20000", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
              f"--user-data-dir={tmp_path / 'profile'}"]  # fmt: skip
    dom = subprocess.run([*common, "--dump-dom", app_url], capture_output=True, text=True, timeout=180,
                         stdin=subprocess.DEVNULL).stdout
    for label in ("Speaker recording", "Listener identity", "Listen"):
        assert label in dom, f"{label!r} is not on the rendered page"
    shot = tmp_path / "app.png"
    subprocess.run([*common, f"--screenshot={shot}", app_url], capture_output=True, timeout=180, check=True,
                   stdin=subprocess.DEVNULL)
    with Image.open(shot) as image:
        assert image.size == (1280, 900)
        pixels = np.asarray(image.convert("L"), dtype=np.float32)
    assert pixels.std() > 10, "the screenshot is blank"
    assert "Unlocked: for use on this machine only." in dom
