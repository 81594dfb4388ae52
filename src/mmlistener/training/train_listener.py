"""Train the listener LM: stage 1 (`--stage speaker`) then stage 2 (`--stage listener`).

```
# stage 1: speaker understanding pretraining on the raw dataset (no listener codes needed)
accelerate launch -m mmlistener.training.train_listener configs/trevor/lm_gpt2_medium_stage1.yaml
# stage 2: listener fine-tuning from stage 1, on the dataset tokenised by mmlistener-tokenize
accelerate launch -m mmlistener.training.train_listener configs/trevor/lm_gpt2_medium_stage2.yaml
```

The model starts from `--model_name_or_path` (a saved `ListenerForCausalLM`, e.g. stage 1's output), from a
pretrained backbone (`--backbone_name_or_path gpt2-medium`, wrapped by `ListenerForCausalLM.from_backbone`),
or from a fresh backbone of `--backbone_config_overrides` (tiny models, tests, the demo): GPT-2's config fields, or
another family's with `model_type` among them (`model_type=llama,hidden_size=64,...`, the demo's). The run saves the model,
its `ListenerProcessor` and a model card in `output_dir`. With `--use_lora` the adapters are merged into the
backbone before saving, so the result loads as a plain `ListenerForCausalLM`.
"""

import os

from accelerate.utils import set_seed

from ..arguments import parse_arguments
from ..data.collators import ListenerCollator, load_splits, select_split
from ..pipeline import check_compatible
from .arguments import (
    DataArguments,
    ListenerModelArguments,
    LoopArguments,
    parse_config_overrides,
)
from .loop import TrainResult, finish_run, make_accelerator, train


def load_tokenizer(model_args: ListenerModelArguments):
    """The text tokenizer: the named one, else the backbone's, else GPT-2 BPE from whisper's offline assets."""
    name = model_args.tokenizer_name_or_path or model_args.backbone_name_or_path
    if name:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(name)
    from ..processing.tokenizer import gpt2_tokenizer_from_tiktoken

    return gpt2_tokenizer_from_tiktoken()


def build_model(model_args: ListenerModelArguments, text_vocab_size: int, vqvae_config=None):
    """The `ListenerForCausalLM` to train (see the module docstring for the three starting points); a new one
    takes its listener codebook size and frames per code from `vqvae_config` when given."""
    from transformers import AutoConfig

    from ..modeling.configuration_listener import ListenerConfig
    from ..modeling.modeling_listener import ListenerForCausalLM

    future = {} if model_args.future_codes is None else {"future_codes": model_args.future_codes}
    if model_args.model_name_or_path:
        return ListenerForCausalLM.from_pretrained(model_args.model_name_or_path, **future)
    if model_args.backbone_name_or_path:
        return ListenerForCausalLM.from_backbone(model_args.backbone_name_or_path, **vqvae_layout(vqvae_config), **future)
    overrides = parse_config_overrides(model_args.backbone_config_overrides)
    if not overrides:
        raise ValueError(
            "say where the model starts: --model_name_or_path (a saved ListenerForCausalLM), "
            "--backbone_name_or_path (e.g. gpt2-medium) or --backbone_config_overrides (a fresh backbone)"
        )
    backbone = AutoConfig.for_model(overrides.pop("model_type", "gpt2"), vocab_size=text_vocab_size, **overrides)
    return ListenerForCausalLM(ListenerConfig(backbone_config=backbone, **vqvae_layout(vqvae_config), **future))


def vqvae_layout(vqvae_config) -> dict:
    """The `ListenerConfig` fields set by a VQ-VAE config (its codebook size and frames per code); `{}` if none."""
    if vqvae_config is None:
        return {}
    return {"num_listener_tokens": vqvae_config.codebook_size, "group_size": vqvae_config.downsample_rate}


def build_processor(model_args: ListenerModelArguments, config):
    """The saved processor next to the model when there is one, else a new one matching `config`."""
    from ..processing.processing_listener import ListenerProcessor

    saved = model_args.processor_name_or_path or model_args.model_name_or_path
    if saved and os.path.isfile(os.path.join(saved, "processor_config.json")):
        return ListenerProcessor.from_pretrained(saved)
    if model_args.processor_name_or_path:
        raise FileNotFoundError(f"no processor_config.json in {model_args.processor_name_or_path!r}")
    return ListenerProcessor.from_listener_config(
        load_tokenizer(model_args), config, modalities=model_args.modalities,
        acoustic_codec_type=model_args.acoustic_codec_type,
    )


def fully_trained_modules(model) -> list[str]:
    """Names of the modules trained in full next to LoRA adapters: the input embeddings and LM head (whose new
    rows are the listener, acoustic and emotion tokens) and the listener head."""
    wanted = {id(model.get_input_embeddings()), id(model.get_output_embeddings()), id(model.listener_head)}
    return sorted({name.rsplit(".", 1)[-1] for name, module in model.named_modules() if id(module) in wanted})


def apply_lora(model, model_args: ListenerModelArguments):
    """Wrap `model` with LoRA adapters on `lora_target_modules`; `fully_trained_modules` stay fully trainable."""
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(
        r=model_args.lora_r,
        lora_alpha=model_args.lora_alpha,
        lora_dropout=model_args.lora_dropout,
        target_modules=list(model_args.lora_target_modules),
        modules_to_save=fully_trained_modules(model),
    )
    return get_peft_model(model, config)


def run(loop_args: LoopArguments, data_args: DataArguments, model_args: ListenerModelArguments) -> TrainResult:
    """Train and save one stage of the listener LM; returns the loop's [`TrainResult`]."""
    accelerator = make_accelerator(loop_args, find_unused_parameters=True)
    set_seed(loop_args.seed)
    splits = load_splits(data_args.dataset_path)
    train_split = select_split(splits, data_args.train_split, data_args.max_train_windows)
    eval_split = select_split(splits, data_args.eval_split, data_args.max_eval_windows, required=False)
    if model_args.stage == "listener" and "listener_codes" not in train_split.column_names:
        raise ValueError(
            f"--stage listener needs listener codes, and {data_args.dataset_path!r} has none: run "
            "mmlistener-tokenize --vqvae_path <trained VQ-VAE> first"
        )

    tokenizer_size = len(load_tokenizer(model_args)) if not model_args.model_name_or_path else None
    vqvae_config = None
    if model_args.vqvae_path:
        from ..modeling.configuration_identity_vqvae import IdentityVQVAEConfig

        vqvae_config = IdentityVQVAEConfig.from_pretrained(model_args.vqvae_path)
    model = build_model(model_args, tokenizer_size, vqvae_config)
    processor = build_processor(model_args, model.config)
    if model_args.stream_dropout and "emotion" in model_args.dropped_streams:
        processor.emotion_without_face = "omit"  # it learns to listen without emotion: omit it when no face is seen
    if vqvae_config is not None:  # a continued model and a saved processor must match the codes' VQ-VAE
        check_compatible(model.config, processor, vqvae_config)
    if model_args.gradient_checkpointing:
        model.gradient_checkpointing_enable()
    if model_args.use_lora:
        model = apply_lora(model, model_args)
    max_length = model_args.max_length or model.config.max_position_embeddings
    collator = ListenerCollator(
        processor, model_args.stage, max_length=max_length, stream_dropout=model_args.stream_dropout,
        dropped_streams=model_args.dropped_streams, seed=loop_args.seed + accelerator.process_index,
    )  # fmt: skip
    result = train(
        model,
        train_split,
        collator,
        loop_args,
        accelerator,
        eval_dataset=eval_split,
        project_name=f"mmlistener-lm-{model_args.stage}",
        tracker_config={"stage": model_args.stage, "dataset_path": data_args.dataset_path,
                        "stream_dropout": model_args.stream_dropout},  # fmt: skip
        eval_collate_fn=ListenerCollator(processor, model_args.stage, max_length=max_length),
    )
    if model_args.use_lora:
        model = accelerator.unwrap_model(model).merge_and_unload()
        # peft trained separate copies of tied input/output embeddings (GPT-2): tie them again to the input copy
        model.tie_weights()
    finish_run(
        accelerator,
        model,
        loop_args,
        result,
        processor=processor,
        card_kwargs={
            "kind": "listener",
            "dataset_name": data_args.dataset_path,
            "stage": model_args.stage,
            "modalities": list(processor.modalities),
            "base_model": model_args.backbone_name_or_path,
            "vqvae_path": model_args.vqvae_path,
            "training_settings": {
                "stage": model_args.stage,
                "steps": loop_args.max_steps,
                "batch size per device": loop_args.per_device_train_batch_size,
                "gradient accumulation": loop_args.gradient_accumulation_steps,
                "processes": accelerator.num_processes,
                "learning rate": loop_args.learning_rate,
                "LoRA": f"r={model_args.lora_r}, alpha={model_args.lora_alpha}" if model_args.use_lora else None,
                "final training loss": round(result.train_loss, 5),
                "final validation loss": None if result.eval_loss is None else round(result.eval_loss, 5),
            },
        },
    )
    return result


def parse_and_run(args: list[str] | None = None) -> TrainResult:
    """Train from command-line style `args` (default `sys.argv[1:]`) and return the [`TrainResult`]."""
    loop_args, data_args, model_args = parse_arguments((LoopArguments, DataArguments, ListenerModelArguments), args)
    return run(loop_args, data_args, model_args)


def main(args: list[str] | None = None) -> None:
    """Console entry point (`mmlistener-train-lm`): returns nothing, so a successful run exits 0."""
    parse_and_run(args)


if __name__ == "__main__":
    main()
