"""What `mmlistener-app` is told: its flags (`AppArguments`), their environment variables, the identity choices and
the summary line both pages print under the video."""

import os
from dataclasses import dataclass, field

RANDOM, BETA_FILE, DATASET = "random", "beta .npy", "listener of a dataset"
IDENTITY_CHOICES = (RANDOM, BETA_FILE, DATASET)
# field of AppArguments -> the environment variable it falls back to (a Space sets variables, not flags)
ENVIRONMENT = {
    "model": "MMLISTENER_MODEL",
    "vqvae": "MMLISTENER_VQVAE",
    "asr_checkpoint": "MMLISTENER_ASR_CHECKPOINT",
    "speechtokenizer_checkpoint": "MMLISTENER_SPEECHTOKENIZER_CHECKPOINT",
    "models": "MMLISTENER_MODELS",  # NAME=LM_DIR:VQVAE_DIR specs, separated by spaces
    "listener_dataset": "MMLISTENER_LISTENER_DATASET",
}
LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass
class AppArguments:
    """The page's models and where it is served (flags also take dashes; a YAML or JSON file of them works as the
    first argument). With `--models` the page is locked: the operator names the models, checkpoints, dataset and
    limits, and a visitor chooses among them, never a path. Without it, the unlocked page takes any server path and
    is for use on this machine only."""

    models: list[str] | None = field(
        default=None,
        metadata={"help": "Locked page: NAME=LM_DIR:VQVAE_DIR per model a visitor may choose (else $MMLISTENER_MODELS)."},
    )
    listener_dataset: str | None = field(
        default=None,
        metadata={"help": "Locked page: DIR[:SPLIT] of a saved dataset whose listeners a visitor may pick by number "
                  "(else $MMLISTENER_LISTENER_DATASET)."},
    )  # fmt: skip
    model: str | None = field(
        default=None, metadata={"help": "Unlocked page: default ListenerForCausalLM directory (else $MMLISTENER_MODEL)."}
    )
    vqvae: str | None = field(
        default=None, metadata={"help": "Unlocked page: default IdentityVQVAE directory (else $MMLISTENER_VQVAE)."}
    )
    asr_backend: str = field(default="openai-whisper", metadata={"help": "'openai-whisper' or 'faster-whisper'."})
    asr_checkpoint: str | None = field(
        default=None, metadata={"help": "ASR weights: a model name or a checkpoint (else $MMLISTENER_ASR_CHECKPOINT)."}
    )
    speechtokenizer_checkpoint: str | None = field(
        default=None,
        metadata={"help": "SpeechTokenizer .pt or folder (else $MMLISTENER_SPEECHTOKENIZER_CHECKPOINT)."},
    )
    without_acoustic: bool = field(
        default=False,
        metadata={"help": "Locked page: run models that read SpeechTokenizer codes without them when no checkpoint is "
                  "given (worse)."},
    )  # fmt: skip
    size: int = field(default=256, metadata={"help": "Pixels per panel side (the locked page's, the unlocked default)."})
    max_seconds: float = field(default=30.0, metadata={"help": "Locked page: longest recording taken, in seconds."})
    max_upload_mb: float = field(default=10.0, metadata={"help": "Locked page: largest upload, in megabytes."})
    keep_outputs_seconds: int = field(
        default=600, metadata={"help": "Locked page: videos and uploads are deleted this long after they are made."}
    )
    concurrency: int = field(default=1, metadata={"help": "Locked page: requests run at once (the others queue)."})
    queue_size: int = field(default=16, metadata={"help": "Locked page: requests waiting at most (more are refused)."})
    examples: bool = field(
        default=True, metadata={"help": "Locked page: offer a recording made by the package (eSpeak NG) to click."}
    )
    server_name: str | None = field(default=None, metadata={"help": "Address to serve on (gradio's default: 127.0.0.1)."})
    server_port: int | None = field(default=None, metadata={"help": "Port (gradio's default: 7860 or the next free one)."})
    share: bool = field(default=False, metadata={"help": "Also open a public gradio.live link (locked page only)."})


def with_environment(args: AppArguments) -> AppArguments:
    """`args` with each unset field of `ENVIRONMENT` taken from its environment variable."""
    for name, variable in ENVIRONMENT.items():
        if getattr(args, name) is None and os.environ.get(variable):
            value = os.environ[variable]
            setattr(args, name, value.split() if name == "models" else value)
    return args


def summary(path, pipeline, listener: str) -> str:
    """The line under the video: its frames and length, who listened, which speaker streams the model read."""
    import av

    with av.open(str(path)) as container:
        frames = container.streams.video[0].frames
    fps = pipeline.processor.fps
    return (f"{frames} frames ({frames / fps:.1f} s at {fps} fps). Listener: {listener}. "
            f"The model read the speaker's {', '.join(pipeline.processor.modalities)}.")  # fmt: skip


__all__ = ["AppArguments", "BETA_FILE", "DATASET", "ENVIRONMENT", "IDENTITY_CHOICES", "LOOPBACK", "RANDOM",
           "summary", "with_environment"]  # fmt: skip
