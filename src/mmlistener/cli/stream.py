"""`mmlistener-stream`: a speaker recording fed at real-time pace to a live listener, with its latency.

```
mmlistener-stream speaker.wav --model outputs/lm --vqvae outputs/vqvae --asr_checkpoint base.en \\
    --speechtokenizer_checkpoint ~/speechtokenizer/SpeechTokenizer.pt --out frames.npy --video listener.mp4
```

The recording goes to a [`ListenerStream`] in chunks of `--chunk_ms`, each no earlier than it would exist live;
words come from local agreement over the ASR (in a background thread, ended when the run ends; silero VAD, from
faster-whisper, skips silence unless `--vad false`), codes from a sliding window over SpeechTokenizer. It prints the latency of each group's frames (p50 / p95 / max: from the moment the group's audio
is complete to the moment its frames come out) and how many came later than a group's duration.
"""

from dataclasses import dataclass, field

import numpy as np
import torch

from ..arguments import parse_arguments
from ..processing.audio import SAMPLE_RATE
from ..processing.incremental_asr import LocalAgreementASR
from ..processing.processing_listener import CODE_STREAMS
from ..processing.streaming_codes import DEFAULT_RIGHT_CONTEXT_SECONDS, DEFAULT_WINDOW_SECONDS
from ..streaming import ListenerStream
from ..streaming.realtime import feed
from .listen import SpeakerArguments, build_pipeline, read_recording, render


@dataclass
class StreamArguments(SpeakerArguments):
    """`mmlistener-stream`: the flags of `mmlistener-listen`, the outputs and the feed."""

    out: str = field(default="listener_frames.npy", metadata={"help": "The listener frames (T, 56) to write (.npy)."})
    video: str | None = field(default=None, metadata={"help": "Also render the frames, with the audio, to this MP4."})
    chunk_ms: float = field(default=20.0, metadata={"help": "Audio per push, in milliseconds (a microphone callback)."})
    fast: bool = field(
        default=False, metadata={"help": "Push as fast as the stream takes the audio, not at the recording's pace."}
    )
    asr_update_seconds: float = field(default=1.0, metadata={"help": "New audio between two ASR transcriptions."})
    vad: bool = field(
        default=True,
        metadata={"help": "Skip silence and end utterances with silero VAD (needs faster-whisper: the 'faster' "
                  "extra); false transcribes every update."},
    )  # fmt: skip
    code_window_seconds: float = field(
        default=DEFAULT_WINDOW_SECONDS, metadata={"help": "Audio SpeechTokenizer encodes for each group's codes (not used by prosody codes)."}
    )
    code_right_context_seconds: float = field(
        default=DEFAULT_RIGHT_CONTEXT_SECONDS,
        metadata={"help": "Audio after a group's codes before they are final (latency; 0 for a model trained on "
                  "codes extracted the streaming way with the same settings)."},
    )  # fmt: skip
    threads: int | None = field(default=None, metadata={"help": "torch threads (default: torch's own choice)."})


def build_stream(args: StreamArguments, beta: np.ndarray, speaker_shape: np.ndarray | None) -> ListenerStream:
    """The models of `args` (the backbone quantized as asked) in a `ListenerStream` for listener `beta`."""
    pipeline = build_pipeline(args)
    processor = pipeline.processor
    asr = None
    if "words" in processor.modalities:
        asr = LocalAgreementASR(processor.asr, update_seconds=args.asr_update_seconds, vad=args.vad, background=True)
    codes = None
    if any(name in processor.modalities for name in CODE_STREAMS):
        settings = {}  # the weight-free tokenizer streams its offline codes, each a fixed look-ahead after its end
        if processor.acoustic_codec_type == "speechtokenizer":
            settings = {"window_seconds": args.code_window_seconds,
                        "right_context_seconds": args.code_right_context_seconds}  # fmt: skip
        codes = processor.code_streamer(**settings)
    use_frames = args.speaker_motion is not None and "emotion" in processor.modalities
    shape = (np.zeros(100) if speaker_shape is None else speaker_shape) if use_frames else None
    return ListenerStream(pipeline.model, processor, pipeline.vqvae, listener_identity=beta, speaker_shape=shape,
                          asr=asr, acoustic_codes=codes)  # fmt: skip


def run(args: StreamArguments):
    """Stream `args.audio` through the listener; write the frames (and the video); return the `StreamTiming`."""
    if not args.out.endswith(".npy"):
        raise ValueError(f"--out is the frames file and must end in .npy, got {args.out!r} (the video is --video)")
    recording = read_recording(args)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    with build_stream(args, recording.beta, recording.speaker_shape) as stream, torch.inference_mode():
        fps = stream.processor.fps
        num_frames = len(recording.audio) * fps // SAMPLE_RATE
        speaker_motion = recording.speaker_motion
        if speaker_motion is not None and len(speaker_motion) < num_frames:
            raise ValueError(f"--speaker_motion has {len(speaker_motion)} frames, fewer than the audio's {num_frames}")
        timing = feed(stream, recording.audio, SAMPLE_RATE, args.chunk_ms / 1000, real_time=not args.fast,
                      speaker_motion=speaker_motion if stream.speaker_shape is not None else None)  # fmt: skip
    motion = timing.frames[:num_frames]
    np.save(args.out, motion)
    pace = "as fast as possible" if args.fast else "at real-time pace"
    print(f"streamed {len(recording.audio) / SAMPLE_RATE:.1f} s of audio {pace} in {timing.seconds:.1f} s, "
          f"{args.chunk_ms:g} ms chunks, backbone {args.quantization}, torch threads {torch.get_num_threads()}")  # fmt: skip
    print(timing.summary())
    print(f"wrote {args.out} {motion.shape}")
    if args.video:
        print(f"wrote {render(args, recording, motion, args.video, fps)}")
    return timing


def parse_and_run(args: list[str] | None = None):
    """Run from command-line style `args` (default `sys.argv[1:]`); return the `StreamTiming`."""
    (stream_args,) = parse_arguments((StreamArguments,), args, positional="audio")
    return run(stream_args)


def main(args: list[str] | None = None) -> None:
    """Console entry point (`mmlistener-stream`): returns nothing, so a successful run exits 0."""
    parse_and_run(args)


if __name__ == "__main__":
    main()
