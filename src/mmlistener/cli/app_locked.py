"""The locked page, for public hosting (a Hugging Face Space): the operator names everything, a visitor chooses.

```
mmlistener-app --models base=outputs/lm:outputs/vqvae --asr_checkpoint models/base.en.pt \\
    --listener_dataset outputs/demo/dataset:test --max_seconds 30 --server_name 0.0.0.0
```

What a visitor can do, and nothing more:

- choose a model by its name among those of `--models` (no path reaches the server from the page or the API);
- upload or record speech (gradio keeps uploads in its own folder; a recording longer than `--max_seconds` or an
  upload over `--max_upload_mb` is refused with a message that says so);
- choose the listener: random (with a seed), an uploaded beta `.npy`, or listener `k` of the operator's dataset.

Everything that reads the disk or the network happens when the page starts, at the operator's hand: the models
and their front ends (ASR, SpeechTokenizer checkpoints fixed by the flags) are loaded once, the dataset's listeners
read once. Videos are written into gradio's cache and deleted with the uploads `--keep_outputs_seconds` after they
are made; requests queue, `--concurrency` at a time.
"""

import os
import uuid
from pathlib import Path

import gradio as gr
import numpy as np
from gradio.utils import get_upload_folder

from .app_examples import example_recording
from .app_settings import BETA_FILE, DATASET, RANDOM, AppArguments, summary
from .listen import ListenArguments, build_pipeline, listener_identity, run
from .render import load_npy


def parse_models(specs: list[str]) -> dict[str, tuple[str, str]]:
    """`{name: (lm_dir, vqvae_dir)}` of `--models` specs `NAME=LM_DIR:VQVAE_DIR`, in order."""
    models = {}
    for spec in specs:
        name, equals, folders = spec.partition("=")
        lm, colon, vqvae = folders.partition(":")
        if not (equals and colon and name.strip() and lm and vqvae):
            raise ValueError(f"--models {spec!r}: expected NAME=LM_DIR:VQVAE_DIR, e.g. base=outputs/lm:outputs/vqvae")
        if name.strip() in models:
            raise ValueError(f"--models names {name.strip()!r} twice: each model needs its own name")
        models[name.strip()] = (lm, vqvae)
    if not models:
        raise ValueError("the locked page needs at least one model: --models NAME=LM_DIR:VQVAE_DIR")
    return models


def dataset_listeners(spec: str) -> np.ndarray:
    """The listener betas `(windows, 100)` of `--listener_dataset DIR[:SPLIT]` (split `test` by default)."""
    from ..evaluation.systems import load_split

    folder, _, split = spec.partition(":")
    windows = load_split(folder, split or "test")
    if len(windows) == 0:
        raise ValueError(f"--listener_dataset {spec!r} has no windows")
    return np.asarray([window["listener_identity"] for window in windows], dtype=np.float32)


def in_uploads(path: str | None, what: str) -> str:
    """`path` when it is a file in gradio's upload folder (where a visitor's upload lands), else a ValueError."""
    if not path:
        raise ValueError(f"upload or record the {what} first" if what == "speaker" else f"upload the {what}")
    resolved = Path(path).resolve()
    if not resolved.is_relative_to(Path(get_upload_folder()).resolve()) or not resolved.is_file():
        raise ValueError(f"the {what} must be a file uploaded to this page")
    return str(resolved)


class LockedApp:
    """The locked page's state, built once when it starts: the pipelines, the dataset's listeners, the limits.

    Args:
        args ([`AppArguments`]): `models` (required), `listener_dataset`, the front ends' checkpoints, `size`,
            `max_seconds`, and where outputs go (gradio's cache).
    """

    def __init__(self, args: AppArguments):
        self.args = args
        self.pipelines = {
            name: build_pipeline(ListenArguments(
                model=lm, vqvae=vqvae, asr_backend=args.asr_backend, asr_checkpoint=args.asr_checkpoint,
                speechtokenizer_checkpoint=args.speechtokenizer_checkpoint, without_acoustic=args.without_acoustic,
            ))  # fmt: skip
            for name, (lm, vqvae) in parse_models(args.models).items()
        }
        self.listeners = dataset_listeners(args.listener_dataset) if args.listener_dataset else None
        self.out_dir = Path(get_upload_folder()) / "mmlistener-app"

    @property
    def identity_choices(self) -> tuple[str, ...]:
        return (RANDOM, BETA_FILE) if self.listeners is None else (RANDOM, BETA_FILE, DATASET)

    def respond(
        self,
        audio: str | None,
        model: str | None = None,
        identity: str = RANDOM,
        beta_file: str | None = None,
        listener: float = 0,
        seed: float = 0,
        progress=gr.Progress(track_tqdm=True),  # noqa: B008 (gradio finds it by this default, right after the inputs)
    ) -> tuple[str, str]:
        """The page's one action: a visitor's recording -> (the listener's MP4 path, a summary in Markdown).

        Args:
            audio (`str`): the uploaded recording (a file in gradio's upload folder), at most `max_seconds` long.
            model (`str`): the name of one of the operator's models (default: the first).
            identity (`str`): one of `identity_choices`; `beta_file` (an uploaded `.npy` of shape `(100,)`) or
                `listener` (the index of a window of the operator's dataset) go with the last two.
            seed (`int`): seed of a random identity and of sampling.
            progress (`gr.Progress`): the page's progress bar; leave it.

        Raises:
            `gr.Error`: for anything refused (an unknown model, a path that is not an upload, a recording too long,
                a listener out of range, ...), with a message that says what.
        """
        try:
            name = model or next(iter(self.pipelines))
            if name not in self.pipelines:
                raise ValueError(f"no model named {name!r} here: choose one of {', '.join(self.pipelines)}")
            recording = self._recording(audio)
            beta, who = self._listener(identity, beta_file, listener, int(seed))
            self.out_dir.mkdir(parents=True, exist_ok=True)
            args = ListenArguments(audio=recording, seed=int(seed), size=self.args.size,
                                   out=str(self.out_dir / f"listener-{uuid.uuid4().hex[:12]}.mp4"))  # fmt: skip
            path = run(args, pipeline=self.pipelines[name], beta=beta)
        except (ValueError, OSError) as error:
            raise gr.Error(str(error), title="mmlistener") from error
        return str(path), summary(path, self.pipelines[name], who)

    def _recording(self, audio: str | None) -> str:
        """The uploaded recording's path, refused when it is longer than `max_seconds`."""
        from ..processing.audio import read_audio

        path = in_uploads(audio, "speaker")
        samples, rate = read_audio(path)
        seconds = len(samples) / rate
        if seconds > self.args.max_seconds:
            raise ValueError(f"the recording is {seconds:.1f} s long: this page takes at most {self.args.max_seconds:g} s")
        return path

    def _listener(self, identity: str, beta_file: str | None, listener: float, seed: int) -> tuple[np.ndarray, str]:
        """(beta `(100,)`, how the summary names the listener) of the page's identity controls."""
        if identity == RANDOM:
            return listener_identity("random", seed), f"random (seed {seed})"
        if identity == BETA_FILE:
            path = in_uploads(beta_file, "listener's beta (.npy, shape (100,))")
            if not path.endswith(".npy"):
                raise ValueError(f"the listener's beta must be a .npy file of shape (100,), not {Path(path).name!r}")
            beta = load_npy(path, "the listener's beta")
            if beta.shape != (100,):
                raise ValueError(f"the listener's beta must have shape (100,), got {beta.shape}")
            return beta.astype(np.float32), Path(path).name
        if identity == DATASET and self.listeners is not None:
            index = int(listener)
            if not 0 <= index < len(self.listeners):
                raise ValueError(f"listener {index} is out of range: the dataset has listeners 0-{len(self.listeners) - 1}")
            return self.listeners[index], f"listener {index} of the dataset"
        raise ValueError(f"listener identity {identity!r}: expected one of {', '.join(self.identity_choices)}")


def build_locked_app(args: AppArguments) -> "gr.Blocks":
    """The locked page: recording, model name, listener; the video on the right; examples below; queued."""
    locked = LockedApp(args)
    names = list(locked.pipelines)
    keep = max(1, int(args.keep_outputs_seconds))
    with gr.Blocks(title="mmlistener", analytics_enabled=False, delete_cache=(min(60, keep), keep)) as app:
        gr.Markdown(
            "# mmlistener: a listener for your speaker\n"
            "Upload or record someone talking: a listening head (the built-in head, a proxy for FLAME) reacts to it, "
            f"with the recording as the soundtrack. Recordings of up to {args.max_seconds:g} s "
            f"({args.max_upload_mb:g} MB); videos and uploads are deleted {keep} s after they are made."
        )
        with gr.Row():
            with gr.Column():
                audio = gr.Audio(sources=["upload", "microphone"], type="filepath", label="Speaker recording")
                model = gr.Dropdown(names, value=names[0], label="Model")
                identity = gr.Radio(list(locked.identity_choices), value=RANDOM, label="Listener identity")
                seed = gr.Number(value=0, precision=0, label="Seed (random identity and sampling)")
                beta_file = gr.File(label="Listener beta (.npy, shape (100,))", file_types=[".npy"], type="filepath",
                                    visible=False)  # fmt: skip
                count = 0 if locked.listeners is None else len(locked.listeners)
                listener = gr.Number(value=0, precision=0, minimum=0, maximum=max(0, count - 1), visible=False,
                                     label=f"Listener of the dataset (0-{count - 1})" if count else "Listener (no dataset)")  # fmt: skip
                button = gr.Button("Listen", variant="primary")
            with gr.Column():
                video = gr.Video(label="Listener", format="mp4", interactive=False)
                text = gr.Markdown()
        inputs = [audio, model, identity, beta_file, listener, seed]
        if args.examples:
            recording = example_recording(Path(get_upload_folder()) / "mmlistener-examples")
            gr.Examples([[recording, names[0], RANDOM, None, 0, 0]], inputs, label="Try a recording made by the package")
            audio.keep_in_cache.add(os.path.abspath(recording))  # gradio's cache cleaning spares what a block keeps
        identity.change(
            lambda choice: (gr.File(visible=choice == BETA_FILE), gr.Number(visible=choice == DATASET)),
            identity, [beta_file, listener], api_visibility="private",
        )  # fmt: skip
        button.click(locked.respond, inputs, [video, text], api_name="listen", concurrency_limit=args.concurrency)
    return app.queue(max_size=args.queue_size, default_concurrency_limit=args.concurrency)


__all__ = ["LockedApp", "build_locked_app", "dataset_listeners", "in_uploads", "parse_models"]
