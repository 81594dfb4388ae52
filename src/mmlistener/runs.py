"""The steps `make demo` and `make reproduce` share: corpus, VQ-VAE, listener codes, the two LM stages, a pipeline.

Each step trains or builds one thing into one folder with the package's own entry points (the same code as
`mmlistener-train-vqvae`, `mmlistener-tokenize`, `mmlistener-train-lm`), from a [`PipelineBudget`].
"""

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class PipelineBudget:
    """Corpus size, steps and model sizes of one run of the pipeline on the synthetic corpus.

    The defaults are the demo's (a few minutes on 2 CPU cores); `configs/reproduce.yaml` holds the study's.
    """

    num_train: int = field(default=800, metadata={"help": "Synthetic train segments (12-24 s each)."})
    num_val: int = field(default=6, metadata={"help": "Synthetic validation segments."})
    num_test: int = field(default=24, metadata={"help": "Synthetic test segments (enough jokes to rate laughs)."})
    window_frames: int = field(default=240, metadata={"help": "Frames per dataset window (8 s at 30 fps)."})
    vqvae_steps: int = field(default=750, metadata={"help": "VQ-VAE optimizer steps."})
    vqvae_window_frames: int = field(
        default=240,
        metadata={"help": "Frames per VQ-VAE training crop: as long as the LM's windows (LM-Listener uses 32)."},
    )
    vqvae_batch_size: int = field(default=32, metadata={"help": "VQ-VAE training crops per step."})
    vqvae_learning_rate: float = field(default=2e-3, metadata={"help": "VQ-VAE learning rate."})
    vqvae_config_overrides: str = field(
        default="hidden_size=64,codebook_dim=64,codebook_size=64,num_residual_layers=2,velocity_weight=4.0",
        metadata={"help": "IdentityVQVAEConfig fields of the small VQ-VAE: two residual units per stage (its codes "
                  "carry the laughs: one unit keeps about a third of them) and a heavy velocity loss, which makes "
                  "its codes carry the 2.5 Hz nods and 5 Hz laughs within the demo's steps (bench/vqvae_events.py "
                  "compares the settings)."},
    )
    lm_stage1_steps: int = field(default=20, metadata={"help": "LM stage-1 (speaker) steps."})
    lm_stage1_batch_size: int = field(
        default=2, metadata={"help": "Windows per stage-1 step (its loss spans the whole text vocabulary)."}
    )
    lm_stage2_steps: int = field(default=800, metadata={"help": "LM stage-2 (listener) steps."})
    lm_batch_size: int = field(default=8, metadata={"help": "Windows per stage-2 step."})
    lm_learning_rate: float = field(default=2e-3, metadata={"help": "LM learning rate."})
    backbone_config_overrides: str = field(
        default="model_type=llama,hidden_size=64,intermediate_size=256,num_hidden_layers=2,num_attention_heads=4,"
        "max_position_embeddings=1024,tie_word_embeddings=true",
        metadata={"help": "Config fields of the backbone, trained from scratch: a LLaMA-type decoder (rotary "
                  "positions), the paper's other backbone family. Its attention finds the previous listener token "
                  "and the cue a group or two back by relative position, which GPT-2's learned absolute positions "
                  "do not learn in the demo's steps (bench/lm_backbones.py compares them)."},
    )
    lm_stream_dropout: float = field(
        default=0.2,
        metadata={"help": "LM stage 2: the chance that a window is seen without lm_dropped_streams "
                  "(--stream_dropout), so that the model also listens without them. The demo's 0.2 of the emotion "
                  "makes a model that reads the speaker's emotion from the voice when there is no face (its processor "
                  "then omits the emotion of a faceless recording; bench/voice_emotion.py); the study's config sets "
                  "0, the paper's recipe."},
    )
    lm_dropped_streams: list[str] = field(
        default_factory=lambda: ["emotion"], metadata={"help": "The streams lm_stream_dropout takes out."}
    )
    lm_words_first_steps: int = field(
        default=0,
        metadata={"help": "LM stage 2 starts with this many steps on the words alone (every other speaker stream "
                  "taken out of every window), then trains lm_stage2_steps on all of them. Measured on the demo: "
                  "a lower NLL, and no LM that reads the joke words (bench/joke_words.py)."},
    )
    lm_future_codes: int = field(
        default=0,
        metadata={"help": "LM stage 2 also predicts the listener codes 1 to this many groups after the next one "
                  "(ListenerConfig.future_codes, a training signal only); 0 is the paper's loss."},
    )
    lm_mixed_precision: str = field(
        default="no",
        metadata={"help": "Mixed precision of the LM stages: 'no', 'bf16' or 'fp16' (the VQ-VAE trains in float32: "
                  "its codebook distances pick the codes)."},
    )


def budget_variants(specs: list[str]) -> dict[str, PipelineBudget]:
    """`{name: budget}` of variant specs `"NAME: FLAGS"` (the benches' `--train`): the demo's budget changed by the
    `PipelineBudget` flags, e.g. `"lr 4e-3: --vqvae_learning_rate 0.004"`."""
    import shlex

    from transformers import HfArgumentParser

    parser, variants = HfArgumentParser(PipelineBudget), {}
    for spec in specs:
        name, _, flags = spec.partition(":")
        (variants[name.strip()],) = parser.parse_args_into_dataclasses(args=shlex.split(flags))
    return variants


def loop_args(output_dir, steps: int, batch_size: int, learning_rate: float, seed: int, warmup: int = 0,
              mixed_precision: str = "no"):
    """`LoopArguments` of one short run: one checkpoint at the end, validation at the end, 10 log records."""
    from .training.arguments import LoopArguments

    return LoopArguments(
        output_dir=str(output_dir),
        seed=seed,
        max_steps=steps,
        per_device_train_batch_size=batch_size,
        per_device_eval_batch_size=batch_size,
        learning_rate=learning_rate,
        warmup_steps=warmup,
        checkpointing_steps=steps,
        checkpoints_total_limit=1,
        eval_steps=0,
        logging_steps=max(1, steps // 10),
        mixed_precision=mixed_precision,
    )


def build_corpus(out: Path, budget: PipelineBudget, seed: int):
    """Write the synthetic corpus to `out/corpus`, build its windows with `L2LTrevor`, save them to `out/dataset`.

    Returns `(corpus_dir, splits)`: the release folder (its `mean.npy` / `std.npy` are the VQ-VAE's statistics)
    and the `DatasetDict`.
    """
    from .data import L2LTrevor, build_dataset, write_synthetic_corpus

    corpus = write_synthetic_corpus(
        str(out / "corpus"), num_train=budget.num_train, num_val=budget.num_val, num_test=budget.num_test, seed=seed
    )
    splits = build_dataset(
        L2LTrevor, corpus, cache_dir=str(out / "cache"), window_frames=budget.window_frames,
        stride=budget.window_frames,
    )
    splits.save_to_disk(str(out / "dataset"))
    return corpus, splits


def train_vqvae_model(output_dir, dataset_dir, statistics_dir, budget: PipelineBudget, seed: int, overrides: str = ""):
    """Train an `IdentityVQVAE` of the budget's size (plus `overrides`, e.g. `'encoder_norm=none'`) into `output_dir`."""
    from .training import train_vqvae
    from .training.arguments import DataArguments, VQVAEArguments

    config = ",".join(part for part in (budget.vqvae_config_overrides, overrides) if part)
    return train_vqvae.run(
        loop_args(output_dir, budget.vqvae_steps, budget.vqvae_batch_size, budget.vqvae_learning_rate, seed, warmup=20),
        DataArguments(dataset_path=str(dataset_dir)),
        VQVAEArguments(config_overrides=config, statistics_dir=str(statistics_dir),
                       window_frames=budget.vqvae_window_frames),
    )


def tokenise(splits, vqvae_dir, output_dir):
    """`splits` with the `listener_codes` of the VQ-VAE in `vqvae_dir`, saved to `output_dir`; returns them."""
    from .modeling.modeling_identity_vqvae import IdentityVQVAE
    from .training.tokenize_motion import tokenize_splits

    tokens = tokenize_splits(splits, IdentityVQVAE.from_pretrained(str(vqvae_dir)))
    tokens.save_to_disk(str(output_dir))
    return tokens


def train_lm(stage1_dir, stage2_dir, tokens_dir, vqvae_dir, budget: PipelineBudget, seed: int,
             modalities: list[str] | None = None) -> dict:
    """Both LM stages: a fresh backbone of the budget's config through stage 1 (speaker) into `stage1_dir`, then
    stage 2 (listener) into `stage2_dir`. `modalities` (default: the processor's) are the speaker streams of
    the sequence, fixed in stage 1's processor. With `budget.lm_words_first_steps`, stage 2 starts from a phase on
    the words alone, saved beside `stage2_dir` (`<stage2_dir>_words_first`). Returns `{"speaker": TrainResult,
    "listener": TrainResult}` (and `"words_first"`)."""
    from .training import train_listener
    from .training.arguments import DataArguments, ListenerModelArguments

    extra = {"modalities": list(modalities)} if modalities else {}
    stage2_source = stage1_dir
    phases = [("speaker", "speaker", budget.lm_stage1_steps, budget.lm_stage1_batch_size, stage1_dir, None, {})]
    others = [name for name in (modalities or ListenerModelArguments().modalities) if name != "words"]
    if budget.lm_words_first_steps and others:
        words_dir = Path(stage2_dir).parent / (Path(stage2_dir).name + "_words_first")
        phases.append(("words_first", "listener", budget.lm_words_first_steps, budget.lm_batch_size, words_dir,
                       stage1_dir, {"stream_dropout": 1.0, "dropped_streams": others}))  # fmt: skip
        stage2_source = words_dir
    dropout = {"stream_dropout": budget.lm_stream_dropout, "dropped_streams": list(budget.lm_dropped_streams)}
    # stage 2 keeps stage 1's processor: the words-first phase drops streams only to teach the words
    phases.append(("listener", "listener", budget.lm_stage2_steps, budget.lm_batch_size, stage2_dir, stage2_source,
                   {**dropout, "processor_name_or_path": str(stage1_dir), "future_codes": budget.lm_future_codes}))  # fmt: skip
    results = {}
    for name, stage, steps, batch_size, output, source, changes in phases:
        model_args = ListenerModelArguments(
            stage=stage,
            acoustic_codec_type="prosody",  # the synthetic corpus's codes (write_synthetic_corpus's default codec)
            model_name_or_path=None if source is None else str(source),
            backbone_config_overrides=budget.backbone_config_overrides if source is None else None,
            vqvae_path=str(vqvae_dir),
            **{**extra, **changes},
        )
        results[name] = train_listener.run(
            loop_args(output, steps, batch_size, budget.lm_learning_rate, seed, warmup=10,
                      mixed_precision=budget.lm_mixed_precision),
            DataArguments(dataset_path=str(tokens_dir)),
            model_args,
        )
    return results


def train_pipeline(folder, tokens_dir, vqvae_dir, budget: PipelineBudget, seed: int,
                   modalities: list[str] | None = None) -> tuple:
    """`train_lm` into `folder/stage1` and `folder/stage2`, then `load_pipeline` of stage 2 decoding with the VQ-VAE
    of `vqvae_dir`: `(model, processor, ListenerPipeline)`, as the benches train a variant on a finished run's
    codes."""
    from .modeling.modeling_identity_vqvae import IdentityVQVAE

    folder = Path(folder)
    train_lm(folder / "stage1", folder / "stage2", tokens_dir, vqvae_dir, budget, seed, modalities)
    return load_pipeline(folder / "stage2", IdentityVQVAE.from_pretrained(str(vqvae_dir)))


def finished_run(run, *parts: str) -> Path:
    """`run` as a `Path`, after checking it holds the folders `parts` (`dataset`, `dataset_tokens`, `vqvae`, ...)
    that a finished `make demo` writes; a missing one is a `FileNotFoundError` naming it."""
    run = Path(run)
    for part in parts:
        if not (run / part).is_dir():
            raise FileNotFoundError(f"{run / part} is missing: run `make demo` first (or pass --run)")
    return run


def load_pipeline(lm_dir, vqvae):
    """`(model, processor, ListenerPipeline)` of the LM saved in `lm_dir`, decoding with `vqvae` (a loaded model)."""
    from .modeling.modeling_listener import ListenerForCausalLM
    from .pipeline import ListenerPipeline
    from .processing.processing_listener import ListenerProcessor

    model = ListenerForCausalLM.from_pretrained(str(lm_dir))
    processor = ListenerProcessor.from_pretrained(str(lm_dir))
    return model, processor, ListenerPipeline(model, processor, vqvae)


def code_diagnostics(vqvae, windows: list[dict], seed: int) -> dict:
    """Prefix agreement of the windows' codes, and identity agreement over the windows' listeners (eight
    synthetic contents performed by each)."""
    import numpy as np

    from .data.synthetic import apply_style, content_motion
    from .evaluation import identity_code_agreement, prefix_code_agreement

    betas = np.unique(np.stack([window["listener_identity"] for window in windows]), axis=0)
    rng = np.random.default_rng(seed)
    contents = [content_motion(len(windows[0]["listener_motion"]), rng) for _ in range(8)]
    return {
        "prefix": prefix_code_agreement(vqvae, [window["listener_motion"] for window in windows],
                                        [window["listener_identity"] for window in windows]),
        "identity": identity_code_agreement(vqvae, contents, betas, apply_style),
    }


__all__ = [
    "PipelineBudget",
    "budget_variants",
    "build_corpus",
    "code_diagnostics",
    "finished_run",
    "load_pipeline",
    "loop_args",
    "tokenise",
    "train_pipeline",
    "train_lm",
    "train_vqvae_model",
]
