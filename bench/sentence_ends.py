"""Do the words tell where an utterance ends? LMs on the demo's codes with and without the corpus's full stops.

The synthetic corpus writes each utterance's last word with a full stop (`synthetic.SENTENCE_END`: "kidding."), as a
punctuated transcript gives it. This bench trains the demo's LM budget (`mmlistener.runs.train_lm`) on a finished
run's listener codes twice per variant: on the dataset as it is, and on the same windows with the full stops taken
off the words (the corpus before it had them); for an LM that reads only the words and for one that reads every
stream, for each seed. Per run:

- the teacher-forced NLL of the true codes, with the window's own speaker and with shuffled speakers, and the gap
  (`speaker_shuffle_control`): how much the LM reads the speaker;
- the generated motion of the test windows (greedy): L2, nod and laugh hit / false-alarm rates, and where the false
  laughs start (`events.false_laugh_sites`: with the nod of an ordinary utterance end, mistimed, elsewhere).

    .venv/bin/python bench/sentence_ends.py [--run outputs/demo] [--streams words all] [--seeds 0 1]
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from mmlistener.data.synthetic import SENTENCE_END
from mmlistener.evaluation import as_examples, speaker_shuffle_control
from mmlistener.evaluation.events import event_rates, false_laugh_sites
from mmlistener.evaluation.tables import markdown_table
from mmlistener.modeling.modeling_identity_vqvae import IdentityVQVAE
from mmlistener.runs import PipelineBudget, finished_run, load_pipeline, train_lm

STREAMS = {"words": ["words"], "all": None}  # None: the processor's default streams (words, acoustic, emotion)


def without_full_stops(example: dict) -> dict:
    """The window with `SENTENCE_END` taken off its words and history words."""
    for key in ("words", "history_words"):
        example[key] = [{**word, "text": word["text"].removesuffix(SENTENCE_END)} for word in example[key]]
    return example


def score(lm_dir: Path, vqvae, test: list[dict]) -> list[str]:
    model, processor, pipeline = load_pipeline(lm_dir, vqvae)
    control = speaker_shuffle_control(model, processor, test, seed=0)
    motions = pipeline.predict(test)
    rates, sites = event_rates(motions, test), false_laugh_sites(motions, test)
    l2 = np.mean([np.mean((m - np.asarray(w["listener_motion"])) ** 2) for m, w in zip(motions, test)])
    true, shuffled = control["true"]["nll"], control["shuffled"]["nll"]
    return [
        f"{true:.3f}", f"{shuffled:.3f}", f"{shuffled - true:.3f}", f"{l2:.4f}",
        f"{rates['nod_hit_rate']:.3f} / {rates['nod_false_alarm_rate']:.3f}",
        f"{rates['laugh_hit_rate']:.3f} / {rates['laugh_false_alarm_rate']:.3f}",
        "{at_nods} / {mistimed} / {elsewhere}".format(**sites),
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", default="outputs/demo", help="A finished run with dataset_tokens/ and vqvae/.")
    parser.add_argument("--streams", nargs="+", default=list(STREAMS), choices=list(STREAMS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = parser.parse_args()
    run = finished_run(args.run, "dataset_tokens", "vqvae")
    from datasets import load_from_disk

    print(f"torch threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.2f}", flush=True)
    vqvae = IdentityVQVAE.from_pretrained(str(run / "vqvae"))
    rows = {}
    with tempfile.TemporaryDirectory() as folder:
        plain = Path(folder) / "without_full_stops"
        load_from_disk(str(run / "dataset_tokens")).map(without_full_stops).save_to_disk(str(plain))
        datasets = {"with full stops": run / "dataset_tokens", "without": plain}
        for streams in args.streams:
            for marks, data in datasets.items():
                test = as_examples(load_from_disk(str(data))["test"])
                for seed in args.seeds:
                    name = f"{streams}, {marks}, seed {seed}"
                    out, started = Path(folder) / name, time.time()
                    train_lm(out / "stage1", out / "stage2", data, run / "vqvae", PipelineBudget(), seed,
                             modalities=STREAMS[streams])  # fmt: skip
                    rows[name] = [f"{time.time() - started:.0f}", *score(out / "stage2", vqvae, test)]
                    print(f"{name}: done in {time.time() - started:.0f} s", flush=True)
    print(markdown_table("LM streams, words, seed", [
        "train s", "NLL ↓", "shuffled NLL", "gap ↑", "L2 ↓", "nod hit / FA", "laugh hit / FA",
        "false laughs at nods / mistimed / elsewhere"], rows))  # fmt: skip
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
