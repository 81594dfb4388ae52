"""Load EMOCA's released emotion-recognition MLP (EmoDECA) into an [`EmotionRecognizer`].

EMOCA trains `EmoDECA`, a Lightning module whose head is `self.mlp = MLP(...)` with
`self.model = Sequential(Linear, BatchNorm1d, LeakyReLU, ..., Linear)`. Its checkpoint therefore
holds `mlp.model.{3k}.*` (hidden Linear k), `mlp.model.{3k+1}.*` (BatchNorm1d k) and
`mlp.model.{3L}.*` (the output Linear: expression classes, valence, arousal), next to the frozen
`deca.*` encoder weights that are not needed here. The MLP input is `[shape, expression, jaw]`
when the model was trained with `use_identity`, `use_expression`, `use_jaw_pose` (and not
`use_global_pose`), which is the configuration the paper uses.

Usage (the weights come with EMOCA's assets, under EMOCA's licence)::

    python -m mmlistener.modeling.convert_emoca_emotion EMOCA/EmotionRecognition/.../last.ckpt out_dir/
"""

import argparse
import os
import re

import torch

from .configuration_emotion import EmotionRecognizerConfig
from .modeling_emotion import EmotionRecognizer

_MLP_KEY = re.compile(r"^(?:.*\.)?mlp\.model\.(\d+)\.(weight|bias|running_mean|running_var|num_batches_tracked)$")


def load_emoca_state_dict(path: str) -> dict[str, torch.Tensor]:
    """Read a checkpoint file (`.ckpt`/`.pt`/`.pth` with or without a `state_dict` entry, or `.safetensors`)."""
    if not os.path.isfile(path):
        raise ValueError(f"no EMOCA checkpoint at {path}")
    if path.endswith(".safetensors"):
        from safetensors.torch import load_file

        return load_file(path)
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # pickles with non-tensor objects (e.g. OmegaConf hyper-parameters)
        raise ValueError(
            f"{path} holds objects other than tensors and is only read with torch.load(weights_only=True). "
            "In an environment you trust, save its tensors alone: "
            "torch.save(torch.load(path, weights_only=False)['state_dict'], 'emodeca_state_dict.pt')"
        ) from error
    if isinstance(checkpoint, dict) and isinstance(checkpoint.get("state_dict"), dict):
        checkpoint = checkpoint["state_dict"]
    if not isinstance(checkpoint, dict):
        raise ValueError(f"{path} does not hold a state dict (got {type(checkpoint).__name__})")
    return checkpoint


def _mlp_layers(state_dict: dict[str, torch.Tensor]) -> dict[int, dict[str, torch.Tensor]]:
    layers: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in state_dict.items():
        match = _MLP_KEY.match(key)
        if match:
            layers.setdefault(int(match.group(1)), {})[match.group(2)] = value
    if not layers:
        raise ValueError("no `mlp.model.<i>.<param>` keys found: is this an EMOCA EmoDECA/EmotionMLP checkpoint?")
    return layers


def convert_emoca_state_dict(
    state_dict: dict[str, torch.Tensor],
    num_classes: int | None = None,
    valence_activation: str = "none",
    arousal_activation: str = "none",
) -> EmotionRecognizer:
    """Build an [`EmotionRecognizer`] holding the EmoDECA MLP weights of `state_dict`.

    Args:
        state_dict: EMOCA keys (`mlp.model.<i>.<param>`, optionally prefixed).
        num_classes: expression classes; defaults to the output width minus valence and arousal.
        valence_activation, arousal_activation: EMOCA's `v_activation` / `a_activation` (`"none"`, `"tanh"`).
    """
    layers = _mlp_layers(state_dict)
    linear_indices = sorted(i for i, params in layers.items() if "weight" in params and params["weight"].ndim == 2)
    norm_indices = sorted(i for i, params in layers.items() if "running_mean" in params)
    hidden, output_index = linear_indices[:-1], linear_indices[-1]
    if len(norm_indices) != len(hidden) or any(n != h + 1 for h, n in zip(hidden, norm_indices)):
        raise ValueError(
            f"expected a BatchNorm1d right after every hidden Linear; Linear layers at {linear_indices}, "
            f"BatchNorm layers at {norm_indices}"
        )
    hidden_sizes = {layers[i]["weight"].shape[0] for i in hidden}
    if len(hidden_sizes) > 1:
        raise ValueError(f"hidden layers of different widths {sorted(hidden_sizes)} are not supported")
    first = layers[linear_indices[0]]["weight"]
    out_size = layers[output_index]["weight"].shape[0]
    num_classes = out_size - 2 if num_classes is None else num_classes
    if num_classes + 2 != out_size:
        raise ValueError(f"output layer has {out_size} units, not num_classes ({num_classes}) + valence + arousal")
    config = EmotionRecognizerConfig(
        hidden_size=hidden_sizes.pop() if hidden_sizes else first.shape[0],
        num_hidden_layers=len(hidden),
        num_classes=num_classes,
        valence_activation=valence_activation,
        arousal_activation=arousal_activation,
    )
    if first.shape[1] != config.input_size:
        raise ValueError(
            f"the MLP reads {first.shape[1]} inputs; EmotionRecognizer expects shape {config.shape_dim} + "
            f"expression {config.expression_dim} + jaw {config.jaw_dim} = {config.input_size} "
            "(a checkpoint trained with the global pose or detail codes as inputs is not supported)"
        )
    model = EmotionRecognizer(config)
    converted = {}
    for block, index in enumerate(hidden):
        for name, value in layers[index].items():
            converted[f"layers.{block}.linear.{name}"] = value
        for name, value in layers[index + 1].items():
            converted[f"layers.{block}.norm.{name}"] = value
    for name, value in layers[output_index].items():
        converted[f"head.{name}"] = value
    missing, unexpected = model.load_state_dict(converted, strict=False)
    missing = [key for key in missing if not key.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise ValueError(f"checkpoint does not match the recogniser: missing {missing}, unexpected {unexpected}")
    return model.eval()


def convert_emoca_checkpoint(path: str, **kwargs) -> EmotionRecognizer:
    """[`convert_emoca_state_dict`] on the checkpoint file at `path`."""
    return convert_emoca_state_dict(load_emoca_state_dict(path), **kwargs)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", help="EMOCA emotion-recognition checkpoint (.ckpt, .pt or .safetensors)")
    parser.add_argument("output_dir", help="where to save the EmotionRecognizer (save_pretrained)")
    parser.add_argument("--valence_activation", default="none", choices=["none", "tanh"])
    parser.add_argument("--arousal_activation", default="none", choices=["none", "tanh"])
    args = parser.parse_args(argv)
    model = convert_emoca_checkpoint(
        args.checkpoint, valence_activation=args.valence_activation, arousal_activation=args.arousal_activation
    )
    model.save_pretrained(args.output_dir)
    print(f"saved EmotionRecognizer ({model.config.num_hidden_layers} x {model.config.hidden_size}) to {args.output_dir}")


if __name__ == "__main__":
    main()
