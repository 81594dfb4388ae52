"""Draw `docs/images/builtin_head.png`: the built-in head at rest and with each kind of motion it shows.

    .venv/bin/python docs/images/builtin_head.py [--out docs/images/builtin_head.png] [--size 192]
"""

import argparse

import numpy as np
from PIL import Image

from mmlistener.rendering import Panel, builtin_head, render_frames

POSES = (  # (label, {motion channel: value})
    ("rest", {}),
    ("nod 0.15 rad", {50: 0.15}),
    ("jaw 0.25 rad", {53: 0.25}),
    ("smile (exp 1)", {1: 1.5}),
    ("brows (exp 2)", {2: 1.5}),
    ("blink (exp 3)", {3: 2.0}),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/images/builtin_head.png")
    parser.add_argument("--size", type=int, default=192)
    args = parser.parse_args()
    panels = []
    for label, channels in POSES:
        motion = np.zeros((1, 56))
        for channel, value in channels.items():
            motion[0, channel] = value
        panels.append(Panel(motion, label=label))
    Image.fromarray(next(render_frames(panels, builtin_head(), args.size))).save(args.out)
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
