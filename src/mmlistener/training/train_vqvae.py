"""Train the identity VQ-VAE on listener motion.

```
accelerate launch -m mmlistener.training.train_vqvae configs/trevor/vqvae.yaml --dataset_path data/trevor
mmlistener-train-vqvae --dataset_path data/trevor --output_dir outputs/vqvae --max_steps 300000
```

The run saves `output_dir/` (weights with the codebook and motion statistics, `config.json`, a model
card), `output_dir/checkpoints/step_N/` (full training state) and `output_dir/logs/` (trackers).
"""

import json
import os

from accelerate.utils import set_seed

from ..arguments import parse_arguments
from ..data.collators import MotionCrops, load_splits, select_split, stack_collate
from ..modeling.configuration_identity_vqvae import IdentityVQVAEConfig
from ..modeling.modeling_identity_vqvae import IdentityVQVAE
from .arguments import DataArguments, LoopArguments, VQVAEArguments, parse_config_overrides
from .loop import TrainResult, finish_run, make_accelerator, train

LOG_KEYS = ("reconstruction_loss", "commit_loss", "velocity_loss", "perplexity")


def build_vqvae(model_args: VQVAEArguments) -> IdentityVQVAE:
    """A fresh `IdentityVQVAE` from `config_path` + `config_overrides`, or the weights at `model_name_or_path`."""
    overrides = parse_config_overrides(model_args.config_overrides)
    if model_args.model_name_or_path:
        return IdentityVQVAE.from_pretrained(model_args.model_name_or_path, **overrides)
    if model_args.config_path:
        if not os.path.isfile(model_args.config_path):
            raise FileNotFoundError(f"no VQ-VAE config file {model_args.config_path!r}")
        with open(model_args.config_path) as handle:
            settings = json.load(handle)
        settings.pop("model_type", None)
        config = IdentityVQVAEConfig(**{**settings, **overrides})
    else:
        config = IdentityVQVAEConfig(**overrides)
    return IdentityVQVAE(config)


def run(loop_args: LoopArguments, data_args: DataArguments, model_args: VQVAEArguments) -> TrainResult:
    """Train and save a VQ-VAE; returns the loop's [`TrainResult`]."""
    from ..data.reading import motion_statistics

    accelerator = make_accelerator(loop_args)
    set_seed(loop_args.seed)
    splits = load_splits(data_args.dataset_path)
    train_split = select_split(splits, data_args.train_split, data_args.max_train_windows)
    eval_split = select_split(splits, data_args.eval_split, data_args.max_eval_windows, required=False)

    model = build_vqvae(model_args)
    if not model_args.model_name_or_path or model_args.statistics_dir:
        mean, std = motion_statistics(train_split, data_dir=model_args.statistics_dir)
        model.set_motion_statistics(mean, std)
    crops = MotionCrops(train_split, model_args.window_frames, model_args.window_stride)
    eval_crops = (
        MotionCrops(eval_split, model_args.window_frames, model_args.window_frames) if eval_split else None
    )
    accelerator.print(f"VQ-VAE: {len(crops)} training crops of {model_args.window_frames} frames")
    result = train(
        model,
        crops,
        stack_collate,
        loop_args,
        accelerator,
        eval_dataset=eval_crops,
        project_name="mmlistener-vqvae",
        log_keys=LOG_KEYS,
        tracker_config={"dataset_path": data_args.dataset_path, "window_frames": model_args.window_frames},
    )
    finish_run(
        accelerator,
        model,
        loop_args,
        result,
        card_kwargs={
            "kind": "vqvae",
            "dataset_name": data_args.dataset_path,
            "training_settings": {
                "steps": loop_args.max_steps,
                "batch size per device": loop_args.per_device_train_batch_size,
                "processes": accelerator.num_processes,
                "learning rate": loop_args.learning_rate,
                "crop frames": model_args.window_frames,
                "final training loss": round(result.train_loss, 5),
                "final validation loss": None if result.eval_loss is None else round(result.eval_loss, 5),
            },
        },
    )
    return result


def parse_and_run(args: list[str] | None = None) -> TrainResult:
    """Train from command-line style `args` (default `sys.argv[1:]`) and return the [`TrainResult`]."""
    loop_args, data_args, model_args = parse_arguments((LoopArguments, DataArguments, VQVAEArguments), args)
    return run(loop_args, data_args, model_args)


def main(args: list[str] | None = None) -> None:
    """Console entry point (`mmlistener-train-vqvae`): returns nothing, so a successful run exits 0."""
    parse_and_run(args)


if __name__ == "__main__":
    main()
