"""accelerate training entry points and their argument dataclasses.

- `train_vqvae`: the identity VQ-VAE (`mmlistener-train-vqvae`).
- `tokenize_motion`: listener codes for every split (`mmlistener-tokenize`).
- `train_listener`: the listener LM, `--stage speaker` then `--stage listener` (`mmlistener-train-lm`).
- `loop`: the shared accelerate loop (checkpoints, exact resume, trackers, validation loss).
- `arguments`: the dataclasses read by `HfArgumentParser` from the command line or a JSON/YAML file.
"""

from .arguments import (
    DataArguments,
    ListenerModelArguments,
    LoopArguments,
    TokenizeArguments,
    VQVAEArguments,
)
from .loop import TrainResult, make_accelerator, train

__all__ = [
    "DataArguments",
    "ListenerModelArguments",
    "LoopArguments",
    "TokenizeArguments",
    "TrainResult",
    "VQVAEArguments",
    "make_accelerator",
    "train",
]
