"""`mmlistener-render`: motion `(T, 56)` `.npy` files or a dataset window -> an MP4 of the heads.

```
mmlistener-render listener.npy --out listener.mp4 --speaker_motion speaker.npy --audio speaker.wav
mmlistener-render --dataset outputs/demo/dataset --split test --index 0 --out window.mp4
mmlistener-render generated.npy --dataset outputs/demo/dataset --index 0 --out compare.mp4  # truth | generated
mmlistener-render listener.npy --head flame --flame_model ~/flame/generic_model.pkl --out flame.mp4
```
"""

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..arguments import parse_arguments
from ..rendering import Panel, check_panels, load_head, render_frames, render_video, video_panels


@dataclass
class RenderArguments:
    """What to draw and where (every flag also takes its dashed spelling, e.g. `--speaker-motion`)."""

    motion: str | None = field(
        default=None,
        metadata={"help": "Listener motion .npy of shape (T, 56); may be given as the first argument, without the flag."},
    )
    out: str = field(default="listener.mp4", metadata={"help": "The MP4 to write (30 fps, H.264, AAC audio)."})
    speaker_motion: str | None = field(default=None, metadata={"help": "Speaker motion .npy (T, 56), drawn on the left."})
    audio: str | None = field(default=None, metadata={"help": "Speaker audio (wav or any file PyAV reads), muxed in."})
    identity: str | None = field(default=None, metadata={"help": "Listener shape beta .npy of shape (100,)."})
    speaker_identity: str | None = field(default=None, metadata={"help": "Speaker shape beta .npy of shape (100,)."})
    size: int = field(default=256, metadata={"help": "Pixels per panel side (even)."})
    head: str = field(
        default="builtin", metadata={"help": "'builtin' (the package's proxy head) or 'flame' (needs --flame_model)."}
    )
    flame_model: str | None = field(
        default=None, metadata={"help": "Path of FLAME 2020's generic_model.pkl (https://flame.is.tue.mpg.de)."}
    )
    dataset: str | None = field(
        default=None,
        metadata={"help": "A DatasetDict saved with save_to_disk: render one window's speaker and listener "
                  "(with --motion: its ground truth beside the given motion)."},
    )
    split: str = field(default="test", metadata={"help": "Split of --dataset."})
    index: int = field(default=0, metadata={"help": "Window of --split to render."})
    frame_png: str | None = field(default=None, metadata={"help": "Also save one frame as a PNG here."})
    frame_index: int = field(default=0, metadata={"help": "Which frame --frame_png saves."})


def load_npy(path: str, flag: str) -> np.ndarray:
    """The array of a `.npy` file given by `flag` (no pickles)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{flag}: no file at {path!r}")
    return np.load(path, allow_pickle=False)


def dataset_window(args: RenderArguments) -> dict:
    """Motion, identities and audio of window `args.index` of `args.split` of `args.dataset`."""
    from ..evaluation.systems import load_split

    split = load_split(args.dataset, args.split)
    if not 0 <= args.index < len(split):
        raise ValueError(f"--index {args.index} is out of range: split {args.split!r} has {len(split)} windows")
    window = split[args.index]
    truth = np.asarray(window["listener_motion"], dtype=np.float32)
    found = {
        "speaker_motion": np.asarray(window["speaker_motion"], dtype=np.float32),
        "identity": np.asarray(window["listener_identity"], dtype=np.float32),
        "speaker_identity": np.asarray(window["speaker_shape"], dtype=np.float32),
        "listener_motion": truth,
    }
    if args.motion is not None:
        found["listener_motion"] = [Panel(truth, None, "ground truth"), Panel(load_npy(args.motion, "--motion"), None, "generated")]
    audio = window.get("audio")
    if isinstance(audio, dict) and audio.get("array") is not None:
        found["audio"], found["sampling_rate"] = np.asarray(audio["array"], dtype=np.float32), audio["sampling_rate"]
    return found


def run(args: RenderArguments) -> Path:
    """Render what `args` names; return the video's path."""
    if args.dataset is not None:
        inputs = dataset_window(args)
    elif args.motion is not None:
        inputs = {"listener_motion": load_npy(args.motion, "--motion")}
    else:
        raise ValueError("nothing to render: give a motion .npy (first argument or --motion) or --dataset DIR")
    for flag in ("speaker_motion", "identity", "speaker_identity"):
        if getattr(args, flag) is not None:
            inputs[flag] = load_npy(getattr(args, flag), f"--{flag}")
    if args.audio is not None:
        inputs["audio"], inputs["sampling_rate"] = args.audio, None
    head = load_head(args.head, args.flame_model)
    path = render_video(out_path=args.out, size=args.size, head=head, **inputs)
    if args.frame_png:
        save_frame(inputs, head, args.size, args.frame_index, args.frame_png)
    return path


def save_frame(inputs: dict, head, size: int, index: int, path: str) -> None:
    """Save frame `index` of the panels of `inputs` as a PNG."""
    from PIL import Image

    panels = check_panels(
        video_panels(inputs["listener_motion"], inputs.get("speaker_motion"), inputs.get("identity"),
                     inputs.get("speaker_identity")),
        size,
    )  # fmt: skip
    if not 0 <= index < len(panels[0].motion):
        raise ValueError(f"--frame_index {index} is out of range: the motion has {len(panels[0].motion)} frames")
    one_frame = [Panel(panel.motion[index : index + 1], panel.identity, panel.label) for panel in panels]
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(next(render_frames(one_frame, head, size))).save(path)


def parse_and_run(args: list[str] | None = None) -> Path:
    """Render from command-line style `args` (default `sys.argv[1:]`); return the video's path."""
    (render_args,) = parse_arguments((RenderArguments,), args, positional="motion")
    path = run(render_args)
    print(f"wrote {path}" + (f" and {render_args.frame_png}" if render_args.frame_png else ""))
    return path


def main(args: list[str] | None = None) -> None:
    """Console entry point (`mmlistener-render`): returns nothing, so a successful run exits 0."""
    parse_and_run(args)


if __name__ == "__main__":
    main()
