"""Argument dataclasses of the training entry points, read by `mmlistener.arguments.parse_arguments`.

Each entry point takes its dataclasses from the command line, or from one `.json` / `.yaml` file
given as the only argument (the files in `configs/`), with command-line flags after the file
overriding it: `mmlistener-train-lm configs/trevor/lm_gpt2_medium_stage2.yaml --max_steps 10`.
"""

from dataclasses import dataclass, field


@dataclass
class LoopArguments:
    """Settings of the shared accelerate loop (`mmlistener.training.loop.train`)."""

    output_dir: str = field(metadata={"help": "Where the final model, checkpoints/ and logs/ go."})
    seed: int = field(default=0, metadata={"help": "Seed of initialisation, data order and every random draw."})
    max_steps: int = field(default=1000, metadata={"help": "Optimizer steps of the whole run."})
    per_device_train_batch_size: int = field(default=8, metadata={"help": "Windows per process per micro-batch."})
    per_device_eval_batch_size: int = field(default=8, metadata={"help": "Windows per process in validation."})
    gradient_accumulation_steps: int = field(default=1, metadata={"help": "Micro-batches per optimizer step."})
    learning_rate: float = field(default=2e-4, metadata={"help": "Peak AdamW learning rate."})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay."})
    adam_beta1: float = field(default=0.9, metadata={"help": "AdamW beta1."})
    adam_beta2: float = field(default=0.99, metadata={"help": "AdamW beta2."})
    warmup_steps: int = field(default=0, metadata={"help": "Linear warm-up steps from 0 to the peak rate."})
    lr_decay_steps: list[int] = field(
        default_factory=list, metadata={"help": "Steps at which the rate is multiplied by lr_decay_gamma."}
    )
    lr_decay_gamma: float = field(default=0.05, metadata={"help": "Factor applied at each of lr_decay_steps."})
    max_grad_norm: float = field(default=1.0, metadata={"help": "Gradient clipping norm (0 disables clipping)."})
    mixed_precision: str = field(
        default="no", metadata={"help": "'no', 'fp16' or 'bf16' (an `accelerate launch` flag takes precedence)."}
    )
    cpu: bool = field(default=False, metadata={"help": "Train on CPU even when a GPU is there."})
    checkpointing_steps: int = field(
        default=500, metadata={"help": "Save the full training state every N steps (0: never)."}
    )
    checkpoints_total_limit: int | None = field(
        default=3, metadata={"help": "Keep at most this many checkpoints (the oldest go first)."}
    )
    resume_from_checkpoint: str | None = field(
        default=None, metadata={"help": "A checkpoint directory, or 'latest' for the newest in output_dir."}
    )
    eval_steps: int = field(default=500, metadata={"help": "Validation loss every N steps (0: only at the end)."})
    logging_steps: int = field(default=10, metadata={"help": "Log the training loss every N steps."})
    report_to: str = field(
        default="auto",
        metadata={"help": "Tracker: 'tensorboard', 'wandb', ..., 'none', or 'auto' (tensorboard if installed)."},
    )
    dataloader_num_workers: int = field(default=0, metadata={"help": "Worker processes per data loader."})
    push_to_hub: bool = field(default=False, metadata={"help": "Upload the final model and its card."})
    hub_model_id: str | None = field(default=None, metadata={"help": "Hub repository of push_to_hub."})
    hub_private: bool = field(default=True, metadata={"help": "Create the Hub repository private."})

    def __post_init__(self):
        for name in ("max_steps", "per_device_train_batch_size", "per_device_eval_batch_size"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.gradient_accumulation_steps <= 0:
            raise ValueError(f"gradient_accumulation_steps must be positive, got {self.gradient_accumulation_steps}")
        for name in ("warmup_steps", "checkpointing_steps", "eval_steps", "logging_steps"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.mixed_precision not in ("no", "fp16", "bf16"):
            raise ValueError(f"mixed_precision must be 'no', 'fp16' or 'bf16', got {self.mixed_precision!r}")
        if self.checkpoints_total_limit is not None and self.checkpoints_total_limit <= 0:
            raise ValueError(f"checkpoints_total_limit must be positive, got {self.checkpoints_total_limit}")
        if self.push_to_hub and not self.hub_model_id:
            raise ValueError("push_to_hub needs hub_model_id (e.g. 'me/mmlistener-trevor')")

    @property
    def num_micro_batches(self) -> int:
        """Micro-batches each process draws for the whole run."""
        return self.max_steps * self.gradient_accumulation_steps


@dataclass
class DataArguments:
    """Where the windows come from (a `DatasetDict` of `mmlistener.data`)."""

    dataset_path: str = field(
        metadata={"help": "A directory written by DatasetDict.save_to_disk, or a Hub dataset id."}
    )
    train_split: str = field(default="train", metadata={"help": "Split to train on."})
    eval_split: str | None = field(default="validation", metadata={"help": "Split of the validation loss ('' or None: none)."})
    max_train_windows: int | None = field(default=None, metadata={"help": "Use only the first N train windows."})
    max_eval_windows: int | None = field(default=None, metadata={"help": "Use only the first N validation windows."})


@dataclass
class VQVAEArguments:
    """The identity VQ-VAE to train."""

    config_path: str | None = field(
        default=None, metadata={"help": "IdentityVQVAEConfig json (e.g. configs/vqvae/paper.json); paper defaults if unset."}
    )
    config_overrides: str | None = field(
        default=None, metadata={"help": "Comma-separated config fields, e.g. 'codebook_dim=64,encoder_norm=none'."}
    )
    model_name_or_path: str | None = field(
        default=None, metadata={"help": "Start from these saved weights instead of a fresh model."}
    )
    window_frames: int = field(default=32, metadata={"help": "Frames per training crop (LM-Listener: 32)."})
    window_stride: int = field(default=8, metadata={"help": "Frames between the starts of consecutive crops."})
    statistics_dir: str | None = field(
        default=None,
        metadata={"help": "Folder with mean.npy/std.npy (the release's); else computed on the train split."},
    )


@dataclass
class ListenerModelArguments:
    """The listener LM to train and its processor."""

    stage: str = field(
        default="listener",
        metadata={"help": "'speaker' (stage 1: speaker tokens, whole vocabulary) or 'listener' (stage 2: LR tokens)."},
    )
    model_name_or_path: str | None = field(
        default=None, metadata={"help": "A saved ListenerForCausalLM (e.g. the stage-1 output) to continue from."}
    )
    backbone_name_or_path: str | None = field(
        default=None, metadata={"help": "Pretrained causal LM to wrap (e.g. 'gpt2-medium', 'meta-llama/Llama-2-7b-hf')."}
    )
    backbone_config_overrides: str | None = field(
        default=None,
        metadata={"help": "Without a pretrained backbone: config fields of a fresh one, GPT-2's by default (e.g. "
                  "'n_layer=2,n_embd=64,n_head=2'), another family's with model_type (e.g. 'model_type=llama,"
                  "hidden_size=64,intermediate_size=256,num_hidden_layers=2,num_attention_heads=4')."},
    )
    tokenizer_name_or_path: str | None = field(
        default=None,
        metadata={"help": "Text tokenizer; defaults to the backbone's, else GPT-2 BPE from whisper's offline assets."},
    )
    processor_name_or_path: str | None = field(
        default=None, metadata={"help": "A saved ListenerProcessor; defaults to model_name_or_path's when it has one."}
    )
    modalities: list[str] = field(
        default_factory=lambda: ["words", "acoustic", "emotion"],
        metadata={"help": "Speaker streams in the sequence (words, acoustic, content, emotion)."},
    )
    acoustic_codec_type: str = field(
        default="speechtokenizer",
        metadata={"help": "What made the dataset's acoustic/content codes, saved with the new processor so that raw "
                  "audio gets the same: 'speechtokenizer' or 'prosody' (weight-free; the synthetic corpus's)."},
    )
    max_length: int | None = field(
        default=None, metadata={"help": "Longest sequence allowed (default: the backbone's context length)."}
    )
    stream_dropout: float = field(
        default=0.0,
        metadata={"help": "Stage 'listener': the chance that a training window is seen without --dropped_streams, so "
                  "the model also listens without them (what guided generation, guidance_scale, contrasts with)."},
    )
    dropped_streams: list[str] = field(
        default_factory=lambda: ["words"],
        metadata={"help": "The streams stream dropout takes out (words, acoustic, content, emotion)."},
    )
    future_codes: int | None = field(
        default=None,
        metadata={"help": "Stage 'listener': the model also predicts the listener codes 1 to this many groups after the "
                  "next one, with heads of its own (ListenerConfig.future_codes, saved with the model; a training signal "
                  "only). Default: the model's own setting (0 for a new one, the paper's loss)."},
    )
    use_lora: bool = field(default=False, metadata={"help": "Train LoRA adapters on the backbone (LLaMA-2-7B setting)."})
    lora_r: int = field(default=16, metadata={"help": "LoRA rank."})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA scaling numerator."})
    lora_dropout: float = field(default=0.05, metadata={"help": "Dropout on the LoRA branch."})
    lora_target_modules: list[str] = field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"],
        metadata={"help": "Backbone module names that get adapters."},
    )
    gradient_checkpointing: bool = field(default=False, metadata={"help": "Recompute activations to save memory."})
    vqvae_path: str | None = field(
        default=None,
        metadata={"help": "The VQ-VAE of the listener codes: a fresh model takes its codebook size and frames per code, "
                  "a continued one is checked against them; named in the model card."},
    )

    def __post_init__(self):
        if self.stage not in ("speaker", "listener"):
            raise ValueError(f"--stage must be 'speaker' or 'listener', got {self.stage!r}")
        if self.stream_dropout and self.stage != "listener":
            raise ValueError("--stream_dropout is for --stage listener: stage 'speaker' scores the speaker's streams")
        if self.future_codes and self.stage != "listener":
            raise ValueError("--future_codes is for --stage listener: stage 'speaker' scores no listener codes")
        if self.future_codes and self.use_lora:
            raise ValueError("--future_codes trains new heads in full, which LoRA would freeze: use one or the other")


@dataclass
class TokenizeArguments:
    """Add `listener_codes` to every split of a dataset with a trained VQ-VAE."""

    dataset_path: str = field(metadata={"help": "DatasetDict directory (save_to_disk) or Hub dataset id."})
    vqvae_path: str = field(metadata={"help": "Trained IdentityVQVAE directory."})
    output_path: str = field(metadata={"help": "Where the tokenised DatasetDict is saved."})
    batch_size: int = field(default=32, metadata={"help": "Windows encoded per forward pass."})
    cpu: bool = field(default=False, metadata={"help": "Encode on CPU even when a GPU is there."})


def parse_config_overrides(overrides: str | None) -> dict:
    """`'n_layer=2,n_embd=64,encoder_norm=none,use_cache=false'` -> `{'n_layer': 2, ...}` (int, float, bool or str)."""
    values = {}
    for item in (overrides or "").split(","):
        if not item.strip():
            continue
        if "=" not in item:
            raise ValueError(f"config override {item!r} is not of the form name=value")
        name, raw = (part.strip() for part in item.split("=", 1))
        if raw.lower() in ("true", "false"):
            values[name] = raw.lower() == "true"
            continue
        for cast in (int, float):
            try:
                values[name] = cast(raw)
                break
            except ValueError:
                continue
        else:
            values[name] = raw
    return values


__all__ = [
    "DataArguments",
    "ListenerModelArguments",
    "LoopArguments",
    "TokenizeArguments",
    "VQVAEArguments",
    "parse_config_overrides",
]
