"""Can the listener catch the speaker's emotion from the voice alone? Emotion dropout, and recordings without a face.

A recording without the speaker's face has no emotion ids: `mmlistener.listen` gives a model Neutral ones, and a
model trained on true ids then catches no emotion from the voice (contagion about 0 on the held-out voice). Trained
with some windows seen without their emotion blocks (`PipelineBudget.lm_stream_dropout`, `lm_dropped_streams=
["emotion"]`), a model learns to read the emotion from the prosody and the words, and its saved processor says so
(`emotion_without_face="omit"`): `listen` then leaves the emotion out where no face is given.

Each dropout value trains the demo's LM budget (`mmlistener.runs.train_lm`) on a finished run's codes; then:
teacher-forced NLL with and without the emotion blocks; the held-out voice through `mmlistener.listen`
(`heldout_voice_report`) with the emotion left out and with Neutral ids; the test split with its true ids.

    .venv/bin/python bench/voice_emotion.py [--run outputs/demo] [--dropout 0.2]
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch

from mmlistener.evaluation import as_examples, load_split, teacher_forced_scores
from mmlistener.evaluation.tables import markdown_table
from mmlistener.heldout import heldout_voice_report
from mmlistener.runs import PipelineBudget, finished_run, train_pipeline


def rates(row: dict) -> list[str]:
    return [f"{row['nod_hit_rate']:.3f} / {row['nod_false_alarm_rate']:.3f}",
            f"{row['laugh_hit_rate']:.3f} / {row['laugh_false_alarm_rate']:.3f}", f"{row['emotion_contagion']:.3f}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", default="outputs/demo", help="A finished run with dataset/, dataset_tokens/, vqvae/.")
    parser.add_argument("--dropout", type=float, nargs="+", default=[0.2], help="lm_stream_dropout of the emotion.")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    run = finished_run(args.run, "dataset", "dataset_tokens", "vqvae")
    tokens_test = as_examples(load_split(str(run / "dataset_tokens"), "test"))
    test = list(load_split(str(run / "dataset"), "test").with_format("numpy"))
    print(f"torch threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.2f}", flush=True)
    forced, rows = {}, {}
    with tempfile.TemporaryDirectory() as folder:
        for dropout in args.dropout:
            name, started = f"emotion dropout {dropout:g}", time.time()
            budget = PipelineBudget(lm_stream_dropout=dropout, lm_dropped_streams=["emotion"])
            model, processor, pipeline = train_pipeline(Path(folder) / name, run / "dataset_tokens", run / "vqvae",
                                                        budget, args.seed)  # fmt: skip
            nll = teacher_forced_scores(model, processor, tokens_test)["nll"]
            nll_without = teacher_forced_scores(model, processor, tokens_test, without=["emotion"])["nll"]
            forced[name] = [f"{time.time() - started:.0f}", processor.emotion_without_face, f"{nll:.3f}",
                            f"{nll_without:.3f}"]  # fmt: skip
            for mode in ("omit", "neutral"):
                processor.emotion_without_face = mode
                report = heldout_voice_report(pipeline, test)
                rows[f"{name}, no face: {mode}"] = rates(report["heldout"]) + rates(report["test"])
            print(f"{name}: done in {time.time() - started:.0f} s", flush=True)
    print(markdown_table("LM", ["train s", "saved emotion_without_face", "NLL ↓", "NLL without emotion"], forced))
    print()
    print(markdown_table("LM, emotion without a face", [
        "held-out nods hit / FA", "held-out laughs hit / FA", "held-out contagion",
        "test nods hit / FA", "test laughs hit / FA", "test contagion (true ids)"], rows))  # fmt: skip
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
