"""`mmlistener-app`: a Gradio page around `mmlistener-listen`, locked for public hosting or unlocked on your machine.

```
pip install "mmlistener[app,speech]"
mmlistener-app --models base=outputs/lm:outputs/vqvae --asr_checkpoint base.en   # locked: publishable
mmlistener-app --model outputs/lm --vqvae outputs/vqvae --asr_checkpoint base.en  # unlocked: this machine only
```

Locked (`--models NAME=LM_DIR:VQVAE_DIR ...`, see `app_locked`): the operator names the models, checkpoints,
dataset and limits, a visitor picks among them; `app.py`, the Space, serves it. Unlocked (no `--models`): every
model folder, checkpoint and dataset window is a free path on the page, so it serves on the loopback address only
and says so on the page. Both call a plain function (`respond`, `LockedApp.respond`) that runs
`mmlistener.cli.listen.run`. Needs the `app` extra (gradio).
"""

import functools
import os
import tempfile
import uuid

try:
    import gradio as gr
except ImportError as error:  # pragma: no cover (the app extra is installed in the test venv)
    raise ImportError("the app needs gradio: pip install 'mmlistener[app]'") from error

from ..arguments import parse_arguments
from .app_settings import (
    BETA_FILE,
    DATASET,
    ENVIRONMENT,
    IDENTITY_CHOICES,
    LOOPBACK,
    RANDOM,
    AppArguments,
    summary,
    with_environment,
)
from .listen import ListenArguments, build_pipeline, run

UNLOCKED_NOTICE = (
    "**Unlocked: for use on this machine only.** The model folders, checkpoints and dataset window below are paths "
    "on the server, and anyone who can open this page can make it read any of them. To publish the page, run it "
    "locked: `mmlistener-app --models NAME=LM_DIR:VQVAE_DIR` (docs/app.md)."
)


@functools.lru_cache(maxsize=1)
def _pipeline(model, vqvae, asr_backend, asr_checkpoint, speechtokenizer_checkpoint, without_acoustic):
    """The `ListenerPipeline` of these folders, kept while the next request asks for the same ones."""
    return build_pipeline(ListenArguments(
        model=model, vqvae=vqvae, asr_backend=asr_backend, asr_checkpoint=asr_checkpoint,
        speechtokenizer_checkpoint=speechtokenizer_checkpoint, without_acoustic=without_acoustic,
    ))  # fmt: skip


def _identity_spec(identity: str, beta_file: str | None, dataset_listener: str | None) -> str:
    """The `--listener_identity` value of the page's identity controls."""
    if identity == RANDOM:
        return "random"
    if identity == BETA_FILE:
        if not beta_file:
            raise ValueError("upload the listener's beta: a .npy file of shape (100,)")
        if not str(beta_file).endswith(".npy"):
            raise ValueError(f"the listener's beta must be a .npy file of shape (100,), not {os.path.basename(beta_file)!r}")
        return str(beta_file)
    if identity == DATASET:
        if not (dataset_listener or "").strip():
            raise ValueError("name the dataset window: DIR[:SPLIT[:INDEX]], e.g. outputs/demo/dataset:test:0")
        return dataset_listener.strip()
    raise ValueError(f"listener identity {identity!r}: expected one of {', '.join(IDENTITY_CHOICES)}")


def respond(
    audio: str | None,
    identity: str = RANDOM,
    beta_file: str | None = None,
    dataset_listener: str | None = None,
    seed: float = 0,
    model: str | None = None,
    vqvae: str | None = None,
    asr_checkpoint: str | None = None,
    speechtokenizer_checkpoint: str | None = None,
    without_acoustic: bool = False,
    size: float = 256,
    asr_backend: str = "openai-whisper",
    progress=gr.Progress(track_tqdm=True),  # noqa: B008 (gradio finds it by this default, right after the inputs)
    *,
    out_dir: str | None = None,
) -> tuple[str, str]:
    """The page's one action: a speaker recording -> (the listener's MP4 path, a summary in Markdown).

    Args:
        audio (`str`): path of the recording (any format `load_audio` reads, any sample rate).
        identity (`str`): one of `IDENTITY_CHOICES`; `beta_file` (a `.npy` of shape `(100,)`) or
            `dataset_listener` (`DIR[:SPLIT[:INDEX]]`) go with the last two.
        seed (`int`): seed of a random identity and of sampling.
        model, vqvae, asr_checkpoint, speechtokenizer_checkpoint, without_acoustic: as the flags of
            `mmlistener-listen`; empty strings count as not given.
        size (`int`): pixels per panel side.
        asr_backend (`str`): `"openai-whisper"` or `"faster-whisper"`.
        progress (`gr.Progress`): the page's progress bar (follows the pipeline's tqdm bars); leave it.
        out_dir (`str`, *optional*): where the video goes (default: a folder under the system's temp directory,
            which gradio serves from).

    Raises:
        `gr.Error`: for any input the listen pipeline rejects (no audio, a silent recording, a missing model
            folder, ...), with its message; the page shows it.
    """
    try:
        if not audio:
            raise ValueError("upload or record the speaker first")
        spec = _identity_spec(identity, beta_file, dataset_listener)
        out_dir = out_dir or os.path.join(tempfile.gettempdir(), "mmlistener-app")
        os.makedirs(out_dir, exist_ok=True)
        args = ListenArguments(
            audio=str(audio), model=model or None, vqvae=vqvae or None, asr_backend=asr_backend,
            asr_checkpoint=asr_checkpoint or None, speechtokenizer_checkpoint=speechtokenizer_checkpoint or None,
            without_acoustic=bool(without_acoustic), listener_identity=spec, seed=int(seed), size=int(size),
            out=os.path.join(out_dir, f"listener-{uuid.uuid4().hex[:8]}.mp4"),
        )  # fmt: skip
        # the models first: a missing folder is named before the audio is read
        pipeline = _pipeline(args.model, args.vqvae, args.asr_backend, args.asr_checkpoint,
                             args.speechtokenizer_checkpoint, args.without_acoustic)  # fmt: skip
        path = run(args, pipeline=pipeline)
    except (ValueError, OSError) as error:
        raise gr.Error(str(error), title="mmlistener") from error
    listener = f"random (seed {args.seed})" if spec == "random" else os.path.basename(spec.rstrip("/")) or spec
    return str(path), summary(path, pipeline, listener)


def build_app(args: AppArguments | None = None) -> "gr.Blocks":
    """The unlocked page (local use only): the recording and the listener on the left, the model folders folded
    below, the video on the right."""
    args = with_environment(args or AppArguments())
    with gr.Blocks(title="mmlistener", analytics_enabled=False) as app:
        gr.Markdown(
            "# mmlistener: a listener for your speaker\n"
            "Upload or record someone talking: a listening head (the built-in head, a proxy for FLAME) reacts to "
            "it, with the recording as the soundtrack."
        )
        gr.Markdown(UNLOCKED_NOTICE)
        with gr.Row():
            with gr.Column():
                audio = gr.Audio(sources=["upload", "microphone"], type="filepath", label="Speaker recording")
                identity = gr.Radio(list(IDENTITY_CHOICES), value=RANDOM, label="Listener identity")
                seed = gr.Number(value=0, precision=0, label="Seed (random identity and sampling)")
                beta_file = gr.File(label="Listener beta (.npy, shape (100,))", file_types=[".npy"], type="filepath",
                                    visible=False)  # fmt: skip
                dataset_listener = gr.Textbox(label="Dataset window (DIR[:SPLIT[:INDEX]])", visible=False,
                                              placeholder="outputs/demo/dataset:test:0")  # fmt: skip
                with gr.Accordion("Models", open=not (args.model and args.vqvae)):
                    model = gr.Textbox(value=args.model, label="Listener LM folder (--model)")
                    vqvae = gr.Textbox(value=args.vqvae, label="VQ-VAE folder (--vqvae)")
                    asr_checkpoint = gr.Textbox(value=args.asr_checkpoint, label="ASR checkpoint (--asr_checkpoint)",
                                                placeholder="base.en, or a local .pt")  # fmt: skip
                    speechtokenizer = gr.Textbox(value=args.speechtokenizer_checkpoint,
                                                 label="SpeechTokenizer checkpoint (--speechtokenizer_checkpoint)",
                                                 placeholder="SpeechTokenizer.pt, or its folder")  # fmt: skip
                    without_acoustic = gr.Checkbox(label="Run without acoustic tokens (--without_acoustic; worse)")
                    asr_backend = gr.Radio(["openai-whisper", "faster-whisper"], value=args.asr_backend,
                                           label="ASR backend (--asr_backend)")  # fmt: skip
                size = gr.Slider(32, 512, value=args.size, step=32, label="Pixels per panel side")
                button = gr.Button("Listen", variant="primary")
            with gr.Column():
                video = gr.Video(label="Listener", format="mp4", interactive=False)
                summary = gr.Markdown()
        identity.change(
            lambda choice: (gr.File(visible=choice == BETA_FILE), gr.Textbox(visible=choice == DATASET)),
            identity, [beta_file, dataset_listener], api_visibility="private",
        )  # fmt: skip
        button.click(
            respond,
            [audio, identity, beta_file, dataset_listener, seed, model, vqvae, asr_checkpoint, speechtokenizer,
             without_acoustic, size, asr_backend],
            [video, summary], api_name="listen",
        )  # fmt: skip
    return app


def serve_address(args: AppArguments) -> str:
    """The address the page will listen on: the flag, else gradio's `GRADIO_SERVER_NAME`, else the loopback."""
    return args.server_name or os.environ.get("GRADIO_SERVER_NAME") or "127.0.0.1"


def launch(args: AppArguments, locked: bool = False, **launch_kwargs) -> "gr.Blocks":
    """Build the page `args` describe and serve it; return the `gr.Blocks` (its `local_url`, its `close()`).

    The page is locked when `args.models` is set (after `with_environment`); `locked=True` (the Space's `app.py`)
    refuses to serve anything else. The unlocked page serves on a loopback address only and without a share link.
    `launch_kwargs` go to `gr.Blocks.launch` (e.g. `prevent_thread_lock=True`).
    """
    from .app_locked import build_locked_app

    args = with_environment(args)
    settings = {"server_name": args.server_name, "server_port": args.server_port, "share": args.share}
    if args.models:
        app = build_locked_app(args)
        settings["max_file_size"] = f"{max(1, round(args.max_upload_mb * 1e6))}b"
    elif locked:
        raise ValueError(f"this serves the locked page only: name its models with --models NAME=LM_DIR:VQVAE_DIR "
                         f"(or ${ENVIRONMENT['models']})")  # fmt: skip
    elif args.share or serve_address(args) not in LOOPBACK:
        raise ValueError(
            f"the unlocked page (no --models) lets a visitor read any server path, so it serves on this machine only "
            f"(address {serve_address(args)!r}, share {args.share}): lock it with --models NAME=LM_DIR:VQVAE_DIR to "
            "publish it (docs/app.md)"
        )
    else:
        app = build_app(args)
    app.launch(**settings, **launch_kwargs)
    return app


def main(args: list[str] | None = None, locked: bool = False) -> None:
    """Console entry point (`mmlistener-app`): serve the page until interrupted; `locked=True` for a Space."""
    (app_args,) = parse_arguments((AppArguments,), args)
    launch(app_args, locked=locked)


__all__ = ["AppArguments", "ENVIRONMENT", "IDENTITY_CHOICES", "UNLOCKED_NOTICE", "build_app", "launch", "main", "respond",
           "with_environment"]  # fmt: skip
