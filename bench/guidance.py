"""Does a contrast without words decide the laughs? Word dropout in training, guided decoding, side by side.

The demo's model laughs after most utterance ends, jokes or not: on the held-out voice's control recording (the joke
words replaced) it laughs almost as often as on the recording. Guided decoding
(`ListenerGenerationConfig.guidance_scale`) contrasts each sample with itself without its words and picks the code
from `log p_without + s * (log p_with - log p_without)`; a model trained with windows seen now and then without
their words (`--stream_dropout`, `PipelineBudget.lm_stream_dropout`) knows that contrast's inputs.

Each variant trains both LM stages from scratch on a finished run's listener codes (`mmlistener.runs.train_lm`, the
demo's budget but for the dropout); each is then decoded at each guidance scale and scored:

- teacher-forced NLL of the true codes (with words; and the same windows without their words);
- the held-out voice through `mmlistener.listen` (`mmlistener.heldout.heldout_voice_report`): nod and laugh hit /
  false-alarm rates, the laughs on the control recording against the recording's, and the control's laughs at the
  recording's joke times;
- the corpus's test split: the same rates and the L2 to the ground truth.

    .venv/bin/python bench/guidance.py [--run outputs/demo] [--dropout 0 0.2] [--guidance_scale 1 2 3]
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from mmlistener.evaluation import as_examples, l2, load_split, teacher_forced_scores
from mmlistener.evaluation.tables import markdown_table
from mmlistener.heldout import heldout_voice_report
from mmlistener.runs import PipelineBudget, finished_run, train_pipeline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", default="outputs/demo", help="A finished run with dataset/, dataset_tokens/, vqvae/.")
    parser.add_argument("--dropout", type=float, nargs="+", default=[0.0, 0.2], help="lm_stream_dropout values.")
    parser.add_argument("--guidance_scale", type=float, nargs="+", default=[1.0, 2.0, 3.0])
    parser.add_argument("--seconds", type=float, default=120.0, help="Length of the held-out recording.")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    run = finished_run(args.run, "dataset", "dataset_tokens", "vqvae")
    tokens_test = as_examples(load_split(str(run / "dataset_tokens"), "test"))
    test = list(load_split(str(run / "dataset"), "test").with_format("numpy"))
    print(f"torch threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.2f}; {len(test)} test windows",
          flush=True)  # fmt: skip
    forced, rows = {}, {}
    with tempfile.TemporaryDirectory() as folder:
        for dropout in args.dropout:
            name = f"dropout {dropout:g}"
            started = time.time()
            budget = PipelineBudget(lm_stream_dropout=dropout, lm_dropped_streams=["words"])
            model, processor, pipeline = train_pipeline(Path(folder) / name, run / "dataset_tokens", run / "vqvae",
                                                        budget, args.seed)  # fmt: skip
            nll = teacher_forced_scores(model, processor, tokens_test)["nll"]
            nll_without = teacher_forced_scores(model, processor, tokens_test, without=["words"])["nll"]
            forced[name] = [f"{time.time() - started:.0f}", f"{nll:.3f}", f"{nll_without:.3f}"]
            for scale in args.guidance_scale:
                pipeline.generation_kwargs = {"guidance_scale": scale}
                report = heldout_voice_report(pipeline, test, seconds=args.seconds)
                motions = pipeline.predict(test)
                mean_l2 = np.mean([l2(m, w["listener_motion"]) for m, w in zip(motions, test)])
                heldout, control, at_jokes, split = (report[key] for key in
                                                     ("heldout", "control", "control_at_recording_events", "test"))
                rows[f"{name}, scale {scale:g}"] = [
                    f"{heldout['nod_hit_rate']:.3f} / {heldout['nod_false_alarm_rate']:.3f}",
                    f"{heldout['laugh_hit_rate']:.3f} / {heldout['laugh_false_alarm_rate']:.3f}",
                    f"{control['num_laughs']} / {heldout['num_laughs']}", f"{at_jokes['laugh_hit_rate']:.3f}",
                    f"{split['nod_hit_rate']:.3f} / {split['nod_false_alarm_rate']:.3f}",
                    f"{split['laugh_hit_rate']:.3f} / {split['laugh_false_alarm_rate']:.3f}", f"{mean_l2:.4f}",
                ]  # fmt: skip
            print(f"{name}: done in {time.time() - started:.0f} s", flush=True)
    print(markdown_table("LM", ["train s", "NLL ↓", "NLL without words"], forced))
    print()
    print(markdown_table("LM, guidance", [
        "held-out nods hit / FA", "held-out laughs hit / FA", "laughs control / recording",
        "control laughs at joke times", "test nods hit / FA", "test laughs hit / FA", "test L2 ↓"], rows))  # fmt: skip
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
