"""The accelerate training loop shared by the VQ-VAE and the listener LM.

What it takes care of: processes and devices (`accelerate launch`), mixed precision, gradient
accumulation, AdamW with warm-up and step decay, clipping, validation loss, trackers, tqdm on the
main process, periodic `save_state` checkpoints with a total limit, and resuming from the exact
step. Resuming is exact because nothing in the loop depends on hidden iterator state: the order of
the windows of epoch `e` is a permutation drawn from `(seed, e)`, a resumed run starts at the
micro-batch the step implies, and `save_state` / `load_state` carry the model, the optimizer, the
schedule, the step and every process's random generators.
"""

import json
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import DistributedDataParallelKwargs, ProjectConfiguration, is_tensorboard_available
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from .arguments import LoopArguments

CHECKPOINT_DIR = "checkpoints"
CHECKPOINT_PREFIX = "step_"


@dataclass
class TrainResult:
    """What a finished run reports.

    Args:
        step (`int`): optimizer steps done (equals `max_steps`).
        train_loss (`float`): mean training loss of the last logging interval (all processes).
        eval_loss (`float` or `None`): validation loss at the end, when there is a validation split.
        runtime (`float`): seconds spent in the loop of this run (after set-up; resumed runs count their part).
        steps_per_second (`float`), samples_per_second (`float`): throughput of this run, all processes together.
        log_history (`list[dict]`): every record this run logged, in order, each with its `step` and the values
            sent to the trackers (`train/loss`, `train/lr`, the model's other losses, `eval/loss`): the training
            curves, readable without a tracker (resumed runs hold their part).
    """

    step: int
    train_loss: float
    eval_loss: float | None
    runtime: float = 0.0
    steps_per_second: float = 0.0
    samples_per_second: float = 0.0
    log_history: list[dict] = field(default_factory=list)


class TrainingProgress:
    """The step counter, saved and restored with the checkpoint (`register_for_checkpointing`)."""

    def __init__(self):
        self.step = 0

    def state_dict(self) -> dict:
        return {"step": self.step}

    def load_state_dict(self, state: dict) -> None:
        self.step = int(state["step"])


class EpochBatches:
    """Index batches of one process, epoch after epoch, in an order that depends only on the seed.

    Epoch `e` is the permutation `np.random.default_rng([seed, e])` of the windows, cut into global
    batches of `batch_size * num_processes` (the incomplete tail is dropped); process `p` takes the
    `p`-th slice of each. Iteration starts at micro-batch `start` and never ends: the loop stops it.

    Args:
        num_examples (`int`): windows in the split.
        batch_size (`int`): windows per process per micro-batch.
        num_processes (`int`), process_index (`int`): the accelerate topology.
        seed (`int`): seed of the order.
        start (`int`): micro-batches already consumed (resume).
    """

    def __init__(self, num_examples, batch_size, num_processes=1, process_index=0, seed=0, start=0):
        self.batches_per_epoch = num_examples // (batch_size * num_processes)
        if self.batches_per_epoch == 0:
            raise ValueError(
                f"{num_examples} training windows cannot fill one batch of {batch_size} windows on each of "
                f"{num_processes} processes: lower per_device_train_batch_size or add data"
            )
        self.num_examples = num_examples
        self.batch_size = batch_size
        self.num_processes = num_processes
        self.process_index = process_index
        self.seed = seed
        self.start = start

    def epoch_order(self, epoch: int) -> np.ndarray:
        return np.random.default_rng([self.seed, epoch]).permutation(self.num_examples)

    def __iter__(self) -> Iterator[list[int]]:
        epoch, offset = divmod(self.start, self.batches_per_epoch)
        global_batch = self.batch_size * self.num_processes
        while True:
            order = self.epoch_order(epoch)
            for batch in range(offset, self.batches_per_epoch):
                first = batch * global_batch + self.process_index * self.batch_size
                yield order[first : first + self.batch_size].tolist()
            epoch, offset = epoch + 1, 0


def resolve_trackers(report_to: str) -> list[str]:
    """Tracker names for `Accelerator(log_with=...)`: 'auto' is tensorboard when installed, else none."""
    if report_to == "none":
        return []
    if report_to == "auto":
        return ["tensorboard"] if is_tensorboard_available() else []
    return [name.strip() for name in report_to.split(",") if name.strip()]


def make_accelerator(args: LoopArguments, find_unused_parameters: bool = False) -> Accelerator:
    """An `Accelerator` for `args`: logs under `output_dir/logs`, mixed precision and CPU as asked.

    `find_unused_parameters` is for models whose loss leaves some parameters without gradient in a step
    (the listener LM: its listener head in stage 1); DDP needs to know.
    """
    trackers = resolve_trackers(args.report_to)
    return Accelerator(
        gradient_accumulation_steps=args.gradient_accumulation_steps,
        kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=find_unused_parameters)],
        # "no" leaves the choice to `accelerate launch --mixed_precision` / its config file.
        mixed_precision=None if args.mixed_precision == "no" else args.mixed_precision,
        cpu=args.cpu,
        log_with=trackers or None,
        project_config=ProjectConfiguration(
            project_dir=args.output_dir, logging_dir=os.path.join(args.output_dir, "logs")
        ),
    )


def checkpoint_step(path: str) -> int | None:
    match = re.fullmatch(rf"{CHECKPOINT_PREFIX}(\d+)", os.path.basename(os.path.normpath(path)))
    return int(match.group(1)) if match else None


def list_checkpoints(output_dir: str) -> list[str]:
    """Checkpoint directories of a run, oldest first."""
    folder = os.path.join(output_dir, CHECKPOINT_DIR)
    if not os.path.isdir(folder):
        return []
    found = [os.path.join(folder, name) for name in os.listdir(folder) if checkpoint_step(name) is not None]
    return sorted(found, key=checkpoint_step)


def find_checkpoint(output_dir: str, resume_from_checkpoint: str) -> str:
    """The directory `--resume_from_checkpoint` names: 'latest' (newest in output_dir) or a path."""
    if resume_from_checkpoint == "latest":
        checkpoints = list_checkpoints(output_dir)
        if not checkpoints:
            raise FileNotFoundError(
                f"--resume_from_checkpoint latest: no checkpoint in {os.path.join(output_dir, CHECKPOINT_DIR)}"
            )
        return checkpoints[-1]
    if not os.path.isdir(resume_from_checkpoint):
        raise FileNotFoundError(f"--resume_from_checkpoint {resume_from_checkpoint!r} is not a directory")
    return resume_from_checkpoint


def lr_lambda(args: LoopArguments) -> Callable[[int], float]:
    """Learning-rate factor of a step: linear warm-up, then x`lr_decay_gamma` at each of `lr_decay_steps`."""

    def factor(step: int) -> float:
        if step < args.warmup_steps:
            return (step + 1) / args.warmup_steps
        return args.lr_decay_gamma ** sum(step >= milestone for milestone in args.lr_decay_steps)

    return factor


def _mean_across(accelerator: Accelerator, values: Sequence[float]) -> float:
    total = torch.tensor([sum(values), len(values)], dtype=torch.float64, device=accelerator.device)
    total = accelerator.reduce(total, reduction="sum")
    return float(total[0] / total[1]) if total[1] > 0 else float("nan")


@torch.no_grad()
def evaluate_loss(
    accelerator: Accelerator, model, dataset, collate_fn, batch_size: int, num_workers: int = 0
) -> float:
    """Mean loss over `dataset` (windows split across processes; batches weighted by their size)."""
    model = accelerator.unwrap_model(model)
    was_training = model.training
    model.eval()
    indices = list(range(accelerator.process_index, len(dataset), accelerator.num_processes))
    batches = [indices[i : i + batch_size] for i in range(0, len(indices), batch_size)]
    loader = DataLoader(
        dataset, batch_sampler=batches, collate_fn=collate_fn, num_workers=num_workers,
        generator=torch.Generator(),
    )
    total = torch.zeros(2, dtype=torch.float64, device=accelerator.device)
    for batch_indices, batch in zip(batches, loader):
        with accelerator.autocast():
            loss = model(**_to_device(batch, accelerator.device)).loss
        total += torch.tensor([float(loss) * len(batch_indices), len(batch_indices)], dtype=torch.float64,
                              device=accelerator.device)
    total = accelerator.reduce(total, reduction="sum")
    model.train(was_training)
    return float(total[0] / total[1]) if total[1] > 0 else float("nan")


def _to_device(batch, device):
    return {key: value.to(device) if isinstance(value, torch.Tensor) else value for key, value in batch.items()}


def _save_checkpoint(accelerator: Accelerator, args: LoopArguments, step: int) -> None:
    # Written under a temporary name and renamed once complete: a run killed while saving never leaves a
    # half-written directory that `--resume_from_checkpoint latest` would pick.
    path = os.path.join(args.output_dir, CHECKPOINT_DIR, f"{CHECKPOINT_PREFIX}{step}")
    partial = path + ".incomplete"
    if accelerator.is_main_process:
        shutil.rmtree(partial, ignore_errors=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(partial)
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        shutil.rmtree(path, ignore_errors=True)
        os.replace(partial, path)
        if args.checkpoints_total_limit is not None:
            for old in list_checkpoints(args.output_dir)[: -args.checkpoints_total_limit]:
                shutil.rmtree(old)
    accelerator.wait_for_everyone()


def _tracker_config(args: LoopArguments, extra: dict | None) -> dict:
    config = {**asdict(args), **(extra or {})}
    # TensorBoard's hparams accept scalars and strings only.
    return {key: value if isinstance(value, (int, float, str, bool)) else str(value) for key, value in config.items()}


def train(
    model: torch.nn.Module,
    train_dataset,
    collate_fn: Callable[[list], dict],
    args: LoopArguments,
    accelerator: Accelerator,
    eval_dataset=None,
    project_name: str = "mmlistener",
    log_keys: Sequence[str] = (),
    tracker_config: dict | None = None,
    eval_collate_fn: Callable[[list], dict] | None = None,
) -> TrainResult:
    """Train `model` (its `forward(**batch)` returns an output with `.loss`) for `args.max_steps` steps.

    Args:
        model (`torch.nn.Module`): the model; its parameters with `requires_grad` are optimised.
        train_dataset (indexable): windows, `dataset[i]` -> one example for `collate_fn`.
        collate_fn (`callable`): list of examples -> dict of tensors, the model's keyword arguments.
        args (`LoopArguments`): the loop settings.
        accelerator (`Accelerator`): from `make_accelerator(args)`, made before the model so that seeding
            and device placement agree.
        eval_dataset (indexable, *optional*): validation windows, scored every `eval_steps` and at the end.
        project_name (`str`): tracker project name.
        log_keys (`list[str]`): scalar fields of the model output logged besides `loss` (e.g. `"perplexity"`).
        tracker_config (`dict`, *optional*): more settings recorded by the trackers.
        eval_collate_fn (`callable`, *optional*): the validation's, when it differs from `collate_fn` (one that
            drops inputs at random for training).

    Returns:
        [`TrainResult`]. The model is trained in place; save it with `accelerator.unwrap_model(model)`.
    """
    if accelerator.gradient_accumulation_steps != args.gradient_accumulation_steps:
        raise ValueError(
            f"the Accelerator accumulates {accelerator.gradient_accumulation_steps} micro-batches but "
            f"gradient_accumulation_steps is {args.gradient_accumulation_steps}: make it with make_accelerator(args)"
        )
    parameters = [parameter for parameter in model.parameters() if parameter.requires_grad]
    if not parameters:
        raise ValueError("the model has no trainable parameter")
    optimizer = torch.optim.AdamW(
        parameters, lr=args.learning_rate, betas=(args.adam_beta1, args.adam_beta2), weight_decay=args.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(args))
    model, optimizer = accelerator.prepare(model, optimizer)
    progress = TrainingProgress()
    # The schedule is stepped once per optimizer step by the loop itself (not by accelerate, which
    # would step it once per process); registering it puts it in the checkpoints.
    accelerator.register_for_checkpointing(scheduler, progress)

    if args.resume_from_checkpoint:
        path = find_checkpoint(args.output_dir, args.resume_from_checkpoint)
        accelerator.load_state(path)
        accelerator.print(f"resumed from {path} at step {progress.step}")
    if accelerator.log_with:
        accelerator.init_trackers(project_name, config=_tracker_config(args, tracker_config))

    batches = EpochBatches(
        len(train_dataset),
        args.per_device_train_batch_size,
        accelerator.num_processes,
        accelerator.process_index,
        seed=args.seed,
        start=progress.step * args.gradient_accumulation_steps,
    )
    loader = DataLoader(
        train_dataset,
        batch_sampler=batches,
        collate_fn=collate_fn,
        num_workers=args.dataloader_num_workers,
        generator=torch.Generator(),  # the loader's seed draw must not touch the global generator
    )
    micro_batches = iter(loader)
    first_step, started = progress.step, time.perf_counter()
    bar = tqdm(
        total=args.max_steps, initial=progress.step, desc="training", disable=not accelerator.is_local_main_process
    )
    window_losses, logs, history = [], {}, []
    train_loss, eval_loss = float("nan"), None
    model.train()
    while progress.step < args.max_steps:
        step_loss = 0.0
        # accelerate's accumulation: gradients are synchronised (and the optimizer steps) on the last
        # micro-batch of the step only; `backward` divides the loss by gradient_accumulation_steps.
        for _ in range(args.gradient_accumulation_steps):
            batch = _to_device(next(micro_batches), accelerator.device)
            with accelerator.accumulate(model), accelerator.autocast():
                output = model(**batch)
                accelerator.backward(output.loss)
                if accelerator.sync_gradients:
                    if args.max_grad_norm > 0:
                        accelerator.clip_grad_norm_(model.parameters(), args.max_grad_norm)
                    optimizer.step()
                    optimizer.zero_grad(set_to_none=True)
            step_loss += float(output.loss.detach()) / args.gradient_accumulation_steps
            for key in log_keys:
                if getattr(output, key, None) is not None:
                    logs.setdefault(key, []).append(float(getattr(output, key).detach().float().mean()))
        scheduler.step()
        progress.step += 1
        window_losses.append(step_loss)
        bar.update(1)

        done = progress.step == args.max_steps
        if done or (args.logging_steps and progress.step % args.logging_steps == 0):
            train_loss = _mean_across(accelerator, window_losses)
            record = {"train/loss": train_loss, "train/lr": scheduler.get_last_lr()[0]}
            record.update({f"train/{key}": _mean_across(accelerator, values) for key, values in logs.items()})
            accelerator.log(record, step=progress.step)
            history.append({"step": progress.step, **record})
            bar.set_postfix(loss=f"{train_loss:.4f}")
            window_losses, logs = [], {}
        if eval_dataset is not None and len(eval_dataset) and (
            done or (args.eval_steps and progress.step % args.eval_steps == 0)
        ):
            eval_loss = evaluate_loss(
                accelerator, model, eval_dataset, eval_collate_fn or collate_fn, args.per_device_eval_batch_size,
                args.dataloader_num_workers,
            )
            accelerator.log({"eval/loss": eval_loss}, step=progress.step)
            history.append({"step": progress.step, "eval/loss": eval_loss})
            accelerator.print(f"step {progress.step}: validation loss {eval_loss:.4f}")
        if args.checkpointing_steps and (done or progress.step % args.checkpointing_steps == 0):
            _save_checkpoint(accelerator, args, progress.step)
    bar.close()
    runtime = time.perf_counter() - started
    steps = progress.step - first_step
    samples = steps * args.gradient_accumulation_steps * args.per_device_train_batch_size * accelerator.num_processes
    return TrainResult(
        step=progress.step,
        train_loss=train_loss,
        eval_loss=eval_loss,
        runtime=runtime,
        steps_per_second=steps / runtime if steps else 0.0,
        samples_per_second=samples / runtime if steps else 0.0,
        log_history=history,
    )


def finish_run(
    accelerator: Accelerator, model, args: LoopArguments, result: TrainResult, card_kwargs: dict, processor=None
) -> None:
    """Save the trained model (safetensors), the processor, a model card and `train_results.json` (the
    [`TrainResult`]) in `output_dir`; push to the Hub if asked.

    Call on every process (the state dict is gathered across processes under FSDP / DeepSpeed); only the
    main process writes. `card_kwargs` go to `mmlistener.hub.save_model_card`.
    """
    from ..hub import push_folder_to_hub, save_model_card

    accelerator.wait_for_everyone()
    state_dict = accelerator.get_state_dict(model)
    if accelerator.is_main_process:
        unwrapped = accelerator.unwrap_model(model)
        unwrapped.save_pretrained(args.output_dir, state_dict=state_dict, save_function=accelerator.save)
        if processor is not None:
            processor.save_pretrained(args.output_dir)
        save_model_card(args.output_dir, config=unwrapped.config, repo_id=args.hub_model_id, **card_kwargs)
        with open(os.path.join(args.output_dir, "train_results.json"), "w") as handle:
            json.dump(asdict(result), handle, indent=2)
        if args.push_to_hub:
            push_folder_to_hub(args.output_dir, args.hub_model_id, private=args.hub_private)
        accelerator.print(f"saved the model to {args.output_dir}")
    accelerator.wait_for_everyone()
    accelerator.end_training()


__all__ = [
    "CHECKPOINT_DIR",
    "EpochBatches",
    "TrainResult",
    "TrainingProgress",
    "evaluate_loss",
    "find_checkpoint",
    "finish_run",
    "list_checkpoints",
    "lr_lambda",
    "make_accelerator",
    "resolve_trackers",
    "train",
]
