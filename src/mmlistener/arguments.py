"""The one command-line parser of every entry point: its argument dataclasses from flags or a settings file.

`mmlistener-train-lm configs/trevor/lm_gpt2_medium_stage2.yaml --max_steps 10`, `mmlistener-render motion.npy
--out a.mp4`, `python datasets_scripts/prepare_l2l_trevor.py --data_dir ...`: every console script and dataset
script reads its dataclasses through `parse_arguments`, so each takes a settings file with overrides, dashed
spellings and the same errors. It imports nothing else of mmlistener: every layer's entry points use it.
"""

import json
import os
import sys

import yaml
from transformers import HfArgumentParser

CONFIG_SUFFIXES = (".json", ".yaml", ".yml")


def parse_arguments(dataclass_types: tuple, args: list[str] | None = None, positional: str | None = None) -> tuple:
    """Instances of `dataclass_types` from `args` (default `sys.argv[1:]`).

    A first argument ending in `.json`, `.yaml` or `.yml` is read as a file of settings; flags that
    follow it override the file's values. Flags may be spelled with dashes (`--speaker-motion`) as well.
    With `positional` (a field name), a first argument that is neither a flag nor a settings file is the
    value of that field: `mmlistener-render motion.npy --out a.mp4` is `--motion motion.npy --out a.mp4`.
    """
    args = list(sys.argv[1:] if args is None else args)
    if positional and args and not args[0].startswith("-") and not args[0].endswith(CONFIG_SUFFIXES):
        args = [f"--{positional}", *args]
    parser = HfArgumentParser(dataclass_types)
    if args and args[0].endswith(CONFIG_SUFFIXES):
        path, overrides = args[0], args[1:]
        if not os.path.isfile(path):
            raise FileNotFoundError(f"no settings file {path!r}")
        if path.endswith(".json"):
            with open(path) as handle:
                settings = json.load(handle)
        else:
            with open(path) as handle:
                settings = yaml.safe_load(handle) or {}
        file_args = []
        for name, value in settings.items():
            if isinstance(value, bool):
                file_args += [f"--{name}", str(value)]
            elif isinstance(value, list):
                file_args += [f"--{name}", *(str(item) for item in value)]
            elif value is not None:
                file_args += [f"--{name}", str(value)]
        args = file_args + overrides
    *parsed, unknown = parser.parse_args_into_dataclasses(
        args=args, look_for_args_file=False, return_remaining_strings=True
    )
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")  # exits with status 2, as argparse does
    return tuple(parsed)


__all__ = ["CONFIG_SUFFIXES", "parse_arguments"]
