"""Do the listener LMs read the joke in the words? Teacher-forced NLL of the laughter groups with and without the
joke words.

`mmlistener.evaluation.joke_word_control` scores the test windows' true listener codes twice: with their words,
and with each joke word's text replaced by the neutral word a control recording says in its place (the speech codes
and the emotion unchanged). The laughter groups' NLL rises without the joke words only when the model reads them;
a model that finds the joke in the sound alone, or not at all, predicts the laughter equally well (or badly) both
ways.

Saved LMs (`--lm`) are scored on the test split of `--tokens` (the dataset their codes come from). `--train` trains
LM variants on a finished run's codes first (`mmlistener.runs.train_lm`, the demo's budget changed by each
variant's `PipelineBudget` flags, seeds `--seeds`) and also prints their greedy motion's L2 and event rates on the
test split; with `--heldout`, their rates on the held-out voice and its control recording too
(`mmlistener.heldout.recording_rates`, as `bench/heldout_voice.py` prints them).

    .venv/bin/python bench/joke_words.py --lm outputs/demo/lm_stage2 [--tokens outputs/demo/dataset_tokens]
    .venv/bin/python bench/joke_words.py --tokens outputs/reproduce/seed_0/dataset_tokens \\
        --lm outputs/reproduce/seed_0/lm_stage2 outputs/reproduce/modalities_words/lm_stage2
    .venv/bin/python bench/joke_words.py --run outputs/demo --train \\
        "acoustic dropout 0.3: --lm_stream_dropout 0.3 --lm_dropped_streams acoustic"
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from mmlistener.evaluation import as_examples, event_rates, joke_word_control, l2
from mmlistener.evaluation.tables import markdown_table
from mmlistener.heldout import heldout_scripts, recording_rates
from mmlistener.modeling.modeling_listener import ListenerForCausalLM
from mmlistener.processing.processing_listener import ListenerProcessor
from mmlistener.runs import budget_variants, finished_run, train_pipeline

COLUMNS = ["streams", "laughter codes", "NLL, all codes", "laughter NLL", "without the joke words", "gap ↑"]
MOTION_COLUMNS = ["train s", "L2 ↓", "nod hit / FA", "laugh hit / FA"]
HELDOUT_COLUMNS = ["held-out nod hit / FA", "held-out laugh hit / FA", "laughs recording / control"]


def control_cells(model, processor, test: list[dict]) -> list[str]:
    control = joke_word_control(model, processor, test)
    laugh = {name: control[name]["responses"]["laugh"] for name in ("with_jokes", "without_jokes")}
    return [",".join(processor.modalities), str(laugh["with_jokes"]["num_codes"]), f"{control['with_jokes']['nll']:.3f}",
            f"{laugh['with_jokes']['nll']:.3f}", f"{laugh['without_jokes']['nll']:.3f}",
            f"{control['laugh_nll_gap']:.3f}"]  # fmt: skip


def motion_cells(pipeline, test: list[dict]) -> list[str]:
    motions = pipeline.predict(test)
    rates = event_rates(motions, test)
    mean_l2 = np.mean([l2(motion, window["listener_motion"]) for motion, window in zip(motions, test)])
    return [f"{mean_l2:.4f}", f"{rates['nod_hit_rate']:.3f} / {rates['nod_false_alarm_rate']:.3f}",
            f"{rates['laugh_hit_rate']:.3f} / {rates['laugh_false_alarm_rate']:.3f}"]  # fmt: skip


def heldout_cells(pipeline, identity, scripts: dict) -> list[str]:
    """The held-out voice's nod and laugh rates and the laughs on its recording and its control."""
    report = recording_rates(pipeline, identity, scripts)
    heldout = report["heldout"]
    return [f"{heldout['nod_hit_rate']:.3f} / {heldout['nod_false_alarm_rate']:.3f}",
            f"{heldout['laugh_hit_rate']:.3f} / {heldout['laugh_false_alarm_rate']:.3f}",
            f"{heldout['num_laughs']} / {report['control']['num_laughs']}"]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lm", nargs="+", default=None,
                        help="Saved listener LMs (default: outputs/demo/lm_stage2, none with --train).")
    parser.add_argument("--tokens", default=None,
                        help="The dataset with listener codes (default: the first LM's run's dataset_tokens/, or "
                             "--run's).")  # fmt: skip
    parser.add_argument("--run", default="outputs/demo", help="With --train: a finished run with dataset_tokens/, vqvae/.")
    parser.add_argument("--train", nargs="*", default=[], metavar="'NAME: FLAGS'",
                        help="LM variants to train on --run's codes: a name, a colon, PipelineBudget flags.")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="Seeds of each --train variant.")
    parser.add_argument("--heldout", action="store_true",
                        help="Also rate each --train variant on the held-out voice and its control.")
    args = parser.parse_args()
    from datasets import load_from_disk

    variants = budget_variants(args.train)
    lms = args.lm if args.lm is not None else [] if variants else ["outputs/demo/lm_stage2"]
    if args.tokens:
        tokens = Path(args.tokens)
    elif variants:
        tokens = finished_run(args.run, "dataset_tokens", "vqvae") / "dataset_tokens"
    else:
        tokens = Path(lms[0]).parent / "dataset_tokens"
    if not tokens.is_dir():
        raise FileNotFoundError(f"{tokens} is missing: pass --tokens (a run's dataset_tokens/)")
    test = as_examples(load_from_disk(str(tokens))["test"])
    print(f"torch threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.2f}; {len(test)} test windows "
          f"of {tokens}", flush=True)
    if lms:
        rows = {}
        for lm in lms:
            rows[lm] = control_cells(ListenerForCausalLM.from_pretrained(lm), ListenerProcessor.from_pretrained(lm), test)
        print(markdown_table("LM", COLUMNS, rows), flush=True)
    if variants:
        run, rows = Path(args.run), {}
        scripts = heldout_scripts() if args.heldout else None  # the same two recordings for every variant
        with tempfile.TemporaryDirectory() as folder:
            for name, budget in variants.items():
                for seed in args.seeds:
                    started = time.time()
                    model, processor, pipeline = train_pipeline(Path(folder) / f"{len(rows)}", tokens, run / "vqvae",
                                                                budget, seed)  # fmt: skip
                    seconds = f"{time.time() - started:.0f}"
                    rows[f"{name}, seed {seed}"] = control_cells(model, processor, test) + [seconds] + motion_cells(
                        pipeline, test
                    ) + (heldout_cells(pipeline, test[0]["listener_identity"], scripts) if args.heldout else [])
                    print(f"{name}, seed {seed}: {rows[f'{name}, seed {seed}']}", flush=True)
        print(f"load average {os.getloadavg()[0]:.2f} at the end")
        columns = COLUMNS + MOTION_COLUMNS + (HELDOUT_COLUMNS if args.heldout else [])
        print(markdown_table("LM variant (trained on " + str(tokens) + ")", columns, rows))


if __name__ == "__main__":
    main()
