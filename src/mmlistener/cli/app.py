"""`mmlistener-app`: a Gradio app around `mmlistener-listen`, usable as a Hugging Face Space (`app.py`).

```
pip install "mmlistener[app,speech]"
mmlistener-app --model outputs/lm --vqvae outputs/vqvae --asr_checkpoint base.en
```

Upload or record speech, pick the listener (random, a beta `.npy`, or the listener of a dataset window) and
the model folders, and get the video. The page calls `respond`, a plain function that the tests (and any
Python code) can call too; it runs `mmlistener.cli.listen.run`, with the models loaded once per folder.
Model folders default to the flags below, then to the environment (`ENVIRONMENT`), so a Space only sets
variables. Needs the `app` extra (gradio).
"""

import functools
import os
import tempfile
import uuid
from dataclasses import dataclass, field

try:
    import gradio as gr
except ImportError as error:  # pragma: no cover (the app extra is installed in the test venv)
    raise ImportError("the app needs gradio: pip install 'mmlistener[app]'") from error

from ..training.arguments import parse_arguments
from .listen import ListenArguments, build_pipeline, run

RANDOM, BETA_FILE, DATASET = "random", "beta .npy", "listener of a dataset"
IDENTITY_CHOICES = (RANDOM, BETA_FILE, DATASET)
# field of AppArguments -> the environment variable it falls back to
ENVIRONMENT = {
    "model": "MMLISTENER_MODEL",
    "vqvae": "MMLISTENER_VQVAE",
    "asr_checkpoint": "MMLISTENER_ASR_CHECKPOINT",
    "speechtokenizer_checkpoint": "MMLISTENER_SPEECHTOKENIZER_CHECKPOINT",
}


@dataclass
class AppArguments:
    """Default model folders of the page, and where it is served (flags also take dashes)."""

    model: str | None = field(
        default=None, metadata={"help": "Default ListenerForCausalLM directory (else $MMLISTENER_MODEL)."}
    )
    vqvae: str | None = field(default=None, metadata={"help": "Default IdentityVQVAE directory (else $MMLISTENER_VQVAE)."})
    asr_backend: str = field(default="openai-whisper", metadata={"help": "'openai-whisper' or 'faster-whisper'."})
    asr_checkpoint: str | None = field(
        default=None, metadata={"help": "Default ASR weights: a model name or a checkpoint (else $MMLISTENER_ASR_CHECKPOINT)."}
    )
    speechtokenizer_checkpoint: str | None = field(
        default=None,
        metadata={"help": "Default SpeechTokenizer .pt or folder (else $MMLISTENER_SPEECHTOKENIZER_CHECKPOINT)."},
    )
    size: int = field(default=256, metadata={"help": "Default pixels per panel side."})
    server_name: str | None = field(default=None, metadata={"help": "Address to serve on (gradio's default: 127.0.0.1)."})
    server_port: int | None = field(default=None, metadata={"help": "Port (gradio's default: 7860 or the next free one)."})
    share: bool = field(default=False, metadata={"help": "Also open a public gradio.live link."})


def with_environment(args: AppArguments) -> AppArguments:
    """`args` with each unset model folder taken from its environment variable (`ENVIRONMENT`)."""
    for name, variable in ENVIRONMENT.items():
        if getattr(args, name) is None and os.environ.get(variable):
            setattr(args, name, os.environ[variable])
    return args


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
    return str(path), _summary(path, pipeline, spec, args.seed)


def _summary(path, pipeline, spec: str, seed: int) -> str:
    import av

    with av.open(str(path)) as container:
        frames = container.streams.video[0].frames
    fps = pipeline.processor.fps
    listener = f"random (seed {seed})" if spec == "random" else os.path.basename(spec.rstrip("/")) or spec
    return (f"{frames} frames ({frames / fps:.1f} s at {fps} fps). Listener: {listener}. "
            f"The model read the speaker's {', '.join(pipeline.processor.modalities)}.")  # fmt: skip


def build_app(args: AppArguments | None = None) -> "gr.Blocks":
    """The page: the recording and the listener on the left, the models folded below, the video on the right."""
    args = with_environment(args or AppArguments())
    with gr.Blocks(title="mmlistener", analytics_enabled=False) as app:
        gr.Markdown(
            "# mmlistener: a listener for your speaker\n"
            "Upload or record someone talking: a listening head (the built-in head, a proxy for FLAME) reacts to "
            "it, with the recording as the soundtrack."
        )
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


def main(args: list[str] | None = None) -> None:
    """Console entry point (`mmlistener-app`): serve the page until interrupted."""
    (app_args,) = parse_arguments((AppArguments,), args)
    build_app(app_args).launch(server_name=app_args.server_name, server_port=app_args.server_port, share=app_args.share)


__all__ = ["AppArguments", "ENVIRONMENT", "IDENTITY_CHOICES", "build_app", "main", "respond", "with_environment"]
