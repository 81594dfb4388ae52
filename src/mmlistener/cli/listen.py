"""`mmlistener-listen`: a speaker recording -> a video of a listener reacting to it.

```
mmlistener-listen speaker.wav --model outputs/lm --vqvae outputs/vqvae --out listener.mp4 \\
    --asr_checkpoint base.en --speechtokenizer_checkpoint ~/speechtokenizer/SpeechTokenizer.pt
```

Stages: read the audio (any sample rate, resampled to 16 kHz), ASR words with times, SpeechTokenizer codes,
emotion ids (from `--speaker_motion` with an emotion recogniser, else Neutral), generation over the whole
recording as one sequence and decoding in overlapping windows (`mmlistener.listen`), rendering with the speaker's
audio muxed in.
"""

import glob
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..arguments import parse_arguments
from ..listen import check_speech, drop_acoustic_streams, listen
from ..modeling.quantization import QUANTIZATION_METHODS
from ..processing.audio import load_audio
from ..processing.processing_listener import CODE_STREAMS
from ..rendering import render_video
from .render import load_npy

IDENTITY_FORMS = "'random', a beta .npy of shape (100,), or a dataset DIR[:SPLIT[:INDEX]] (that window's listener)"


@dataclass
class SpeakerArguments:
    """The recording, the models, the listener and how it is drawn: the flags `mmlistener-listen` and
    `mmlistener-stream` share (flags also take dashes: `--asr-checkpoint`)."""

    audio: str | None = field(
        default=None, metadata={"help": "Speaker recording (wav, flac, mp3, a video...); may be the first argument."}
    )
    model: str | None = field(default=None, metadata={"help": "ListenerForCausalLM directory (with its processor)."})
    vqvae: str | None = field(default=None, metadata={"help": "IdentityVQVAE directory that decodes its codes."})
    asr_backend: str = field(default="openai-whisper", metadata={"help": "'openai-whisper' or 'faster-whisper'."})
    asr_checkpoint: str | None = field(
        default=None, metadata={"help": "ASR weights: a model name (base.en) or a local checkpoint (default: the processor's)."}
    )
    speechtokenizer_checkpoint: str | None = field(
        default=None,
        metadata={"help": "SpeechTokenizer weights (.pt, with config.json beside it) or a folder holding both."},
    )
    speechtokenizer_config: str | None = field(default=None, metadata={"help": "SpeechTokenizer config.json, if elsewhere."})
    without_acoustic: bool = field(
        default=False, metadata={"help": "Run without acoustic tokens when no SpeechTokenizer is given (worse; warns)."}
    )
    emotion_checkpoint: str | None = field(
        default=None, metadata={"help": "EmotionRecognizer directory: emotion ids from --speaker_motion."}
    )
    speaker_motion: str | None = field(
        default=None, metadata={"help": "Speaker motion .npy (T, 56): emotion ids, and drawn beside the listener."}
    )
    speaker_identity: str | None = field(default=None, metadata={"help": "Speaker shape beta .npy (100,)."})
    listener_identity: str = field(default="random", metadata={"help": f"The listener: {IDENTITY_FORMS}."})
    seed: int = field(default=0, metadata={"help": "Seed of a random listener identity and of sampling."})
    size: int = field(default=256, metadata={"help": "Pixels per panel side."})
    head: str = field(default="builtin", metadata={"help": "'builtin' or 'flame' (needs --flame_model)."})
    flame_model: str | None = field(default=None, metadata={"help": "Path of FLAME 2020's generic_model.pkl."})
    quantization: str = field(
        default="none", metadata={"help": "'none' or 'int8': int8 linear layers in the LM's backbone (CPU, faster)."}
    )


@dataclass
class ListenArguments(SpeakerArguments):
    """`mmlistener-listen`: the shared flags, the video, the motion file and the decoder's window."""

    out: str = field(default="listener.mp4", metadata={"help": "The MP4 to write."})
    motion_out: str | None = field(default=None, metadata={"help": "Also save the listener motion (T, 56) as .npy."})
    window_seconds: float = field(
        default=8.0,
        metadata={"help": "Seconds per VQ-VAE decoding window (its training length); windows overlap by half."},
    )


def listener_identity(spec: str, seed: int) -> np.ndarray:
    """The beta `(100,)` that `--listener_identity` names (see `IDENTITY_FORMS`)."""
    if spec == "random":
        return np.random.default_rng(seed).standard_normal(100).astype(np.float32)
    if spec.endswith(".npy"):
        return load_npy(spec, "--listener_identity")
    folder, _, rest = spec.partition(":")
    split, _, index = rest.partition(":")
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"--listener_identity {spec!r}: expected {IDENTITY_FORMS}")
    from ..evaluation.systems import load_split

    windows = load_split(folder, split or "test")
    index = int(index or 0)
    if not 0 <= index < len(windows):
        raise ValueError(f"--listener_identity {spec!r}: index {index} out of range ({len(windows)} windows)")
    return np.asarray(windows[index]["listener_identity"], dtype=np.float32)


def _model_dir(path: str | None, flag: str, what: str) -> str:
    if path is None:
        raise ValueError(f"{flag} is required: the {what} directory")
    if not os.path.isfile(os.path.join(path, "config.json")):
        raise FileNotFoundError(f"{flag}: no {what} at {path!r} (expected a directory with config.json)")
    return path


def _speechtokenizer_files(args: SpeakerArguments) -> tuple[str, str]:
    """(config.json, weights) of `--speechtokenizer_checkpoint`."""
    checkpoint = args.speechtokenizer_checkpoint
    if os.path.isdir(checkpoint):
        weights = sorted(glob.glob(os.path.join(checkpoint, "*.pt")))
        if not weights:
            raise FileNotFoundError(f"--speechtokenizer_checkpoint: no .pt weights in {checkpoint!r}")
        checkpoint = weights[0]
    if not os.path.isfile(checkpoint):
        raise FileNotFoundError(f"--speechtokenizer_checkpoint: no SpeechTokenizer weights at {checkpoint!r}")
    config = args.speechtokenizer_config or os.path.join(os.path.dirname(checkpoint), "config.json")
    if not os.path.isfile(config):
        raise FileNotFoundError(f"no SpeechTokenizer config at {config!r}: pass --speechtokenizer_config")
    return config, checkpoint


def build_pipeline(args: SpeakerArguments):
    """The LM (its backbone quantized as `args.quantization` says), its processor with the front ends its
    modalities need, and the VQ-VAE, as a `ListenerPipeline`."""
    from .. import IdentityVQVAE, ListenerForCausalLM, ListenerPipeline, ListenerProcessor

    if args.quantization not in ("none", *QUANTIZATION_METHODS):
        raise ValueError(f"--quantization must be 'none' or one of {QUANTIZATION_METHODS}, got {args.quantization!r}")
    quantization = None if args.quantization == "none" else args.quantization
    model_dir = _model_dir(args.model, "--model", "listener model")
    vqvae_dir = _model_dir(args.vqvae, "--vqvae", "VQ-VAE")
    processor = ListenerProcessor.from_pretrained(model_dir)
    if "words" in processor.modalities:
        if args.asr_checkpoint is not None:
            processor.asr_backend, processor.asr_checkpoint = args.asr_backend, args.asr_checkpoint
        if processor.asr_checkpoint is None:
            raise ValueError("this model reads the speaker's words: give --asr_checkpoint (e.g. base.en, or a local .pt)")
        processor.asr  # noqa: B018 (load now: a bad checkpoint fails before anything else runs)
    reads_codes = any(name in processor.modalities for name in CODE_STREAMS)
    if reads_codes and processor.acoustic_codec_type == "prosody":
        if args.speechtokenizer_checkpoint is not None:
            raise ValueError("this model reads the weight-free prosody tokens it was trained on (its processor's "
                             "acoustic_codec_type): leave out --speechtokenizer_checkpoint")  # fmt: skip
    elif reads_codes:
        if args.speechtokenizer_checkpoint is not None:
            processor.acoustic_codec_config, processor.acoustic_codec_checkpoint = _speechtokenizer_files(args)
        if processor.acoustic_codec_checkpoint is not None:
            processor.acoustic_codec  # noqa: B018
        elif args.without_acoustic:
            drop_acoustic_streams(processor)
        else:
            raise ValueError(
                f"this model reads acoustic tokens (modalities {', '.join(processor.modalities)}) and no SpeechTokenizer "
                "checkpoint is given: pass --speechtokenizer_checkpoint PATH, or --without_acoustic to run without "
                "them (worse, with a warning)"
            )
    if args.emotion_checkpoint is not None:
        processor.emotion_checkpoint = args.emotion_checkpoint
    if args.speaker_motion and "emotion" in processor.modalities and processor.emotion_checkpoint is None:
        raise ValueError("--speaker_motion gives emotion ids through an emotion recogniser: add --emotion_checkpoint "
                         "DIR, or leave out --speaker_motion for Neutral emotion")  # fmt: skip
    model = ListenerForCausalLM.from_pretrained(model_dir, quantization=quantization)
    return ListenerPipeline(model, processor, IdentityVQVAE.from_pretrained(vqvae_dir))


@dataclass
class SpeakerRecording:
    """What the shared flags name, read and checked: the 16 kHz `audio (samples,)`, the listener's `beta (100,)`,
    and the speaker's `motion (T, 56)` and `shape (100,)` when given."""

    audio: np.ndarray
    beta: np.ndarray
    speaker_motion: np.ndarray | None
    speaker_shape: np.ndarray | None


def read_recording(args: SpeakerArguments, beta: np.ndarray | None = None) -> SpeakerRecording:
    """Read `args.audio`, the listener identity (unless `beta (100,)` is given) and the speaker's files (seeding
    torch with `args.seed`)."""
    if args.audio is None:
        raise ValueError("give the speaker recording (first argument or --audio)")
    if not os.path.isfile(args.audio):
        raise FileNotFoundError(f"no audio file at {args.audio!r}")
    torch.manual_seed(args.seed)
    return SpeakerRecording(
        audio=check_speech(load_audio(args.audio), args.audio),
        beta=listener_identity(args.listener_identity, args.seed) if beta is None else beta,
        speaker_motion=load_npy(args.speaker_motion, "--speaker_motion") if args.speaker_motion else None,
        speaker_shape=load_npy(args.speaker_identity, "--speaker_identity") if args.speaker_identity else None,
    )


def render(args: SpeakerArguments, recording: SpeakerRecording, motion: np.ndarray, path: str, fps: int) -> Path:
    """Render the listener `motion (T, 56)` to `path` as the shared flags say, beside the speaker when given, with
    the recording's audio."""
    speaker = None if recording.speaker_motion is None else recording.speaker_motion[: len(motion)]
    return render_video(motion, path, speaker_motion=speaker, audio=args.audio, identity=recording.beta,
                        speaker_identity=recording.speaker_shape, size=args.size, head=args.head,
                        flame_model=args.flame_model, fps=fps, progress=True)  # fmt: skip


def run(args: ListenArguments, pipeline=None, beta: np.ndarray | None = None) -> Path:
    """Generate the listener for `args.audio` and render it; return the video's path.

    `pipeline` (`ListenerPipeline`, *optional*) is one already built from `args` by `build_pipeline` (the app
    keeps one per model folder); without it the models are loaded here. `beta` (`np.ndarray` of shape `(100,)`,
    *optional*) is the listener, in place of `args.listener_identity` (the locked app's dataset listeners).
    """
    recording = read_recording(args, beta)
    if pipeline is None:
        pipeline = build_pipeline(args)
    window_frames = max(1, round(args.window_seconds * pipeline.processor.fps))
    motion = listen(pipeline, recording.audio, recording.beta, recording.speaker_motion, recording.speaker_shape,
                    window_frames=window_frames, progress=True)  # fmt: skip
    if args.motion_out:
        np.save(args.motion_out, motion)
    return render(args, recording, motion, args.out, pipeline.processor.fps)


def parse_and_run(args: list[str] | None = None) -> Path:
    """Run from command-line style `args` (default `sys.argv[1:]`); return the video's path."""
    (listen_args,) = parse_arguments((ListenArguments,), args, positional="audio")
    path = run(listen_args)
    print(f"wrote {path}")
    return path


def main(args: list[str] | None = None) -> None:
    """Console entry point (`mmlistener-listen`): returns nothing, so a successful run exits 0."""
    parse_and_run(args)


if __name__ == "__main__":
    main()
