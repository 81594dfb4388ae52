"""The demo's (or any) model on a voice it never heard, through the raw-audio path of `mmlistener-listen`.

A held-out recording by the corpus's rules (`mmlistener.heldout.speak_script`: new sentences, `HELDOUT_VOICE` at its
own rate) and its control (joke words replaced by neutral words) go through `mmlistener.listen` with the words of
the synthesis (`KnownWords`) and the acoustic tokens computed from the audio by the model's processor; the event
rates are printed beside the same model's rates on the corpus's test split, then each transfer target met/missed.

    .venv/bin/python bench/heldout_voice.py [--run outputs/demo] [--seconds 120] [--seed 2026]
    .venv/bin/python bench/heldout_voice.py --run outputs/reproduce/seed_0 outputs/reproduce/seed_1 \
        outputs/reproduce/seed_2 --dataset outputs/reproduce/dataset      # the study's seed models
    .venv/bin/python bench/heldout_voice.py --guidance_scale 1 2 3        # decoding with a contrast without words

Each run, and each guidance scale (`ListenerGenerationConfig.guidance_scale`, 1: none), gets its own block (the
same recording for all of them).
"""

import argparse
import os
import time

import torch

from mmlistener.evaluation import format_events_table, load_split
from mmlistener.heldout import heldout_voice_report, transfer_targets
from mmlistener.modeling.modeling_identity_vqvae import IdentityVQVAE
from mmlistener.runs import load_pipeline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", nargs="+", default=["outputs/demo"], help="Folders with lm_stage2/ and vqvae/.")
    parser.add_argument("--dataset", default=None, help="The dataset with the test split (default: RUN/dataset).")
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--guidance_scale", type=float, nargs="+", default=[1.0],
                        help="Guidance scales to decode with (contrast: the speaker without words).")
    args = parser.parse_args()
    print(f"torch threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.2f}")
    for run in args.run:
        vqvae = IdentityVQVAE.from_pretrained(os.path.join(run, "vqvae"))
        _, _, pipeline = load_pipeline(os.path.join(run, "lm_stage2"), vqvae)
        dataset = args.dataset or os.path.join(run, "dataset")
        test = list(load_split(dataset, "test").with_format("numpy"))
        for scale in args.guidance_scale:
            pipeline.generation_kwargs = {"guidance_scale": scale}
            start = time.perf_counter()
            report = heldout_voice_report(pipeline, test, seconds=args.seconds, seed=args.seed)
            print(f"\n{run}, guidance scale {scale:g} ({time.perf_counter() - start:.0f} s):")
            print_report(report)
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


def print_report(report: dict) -> None:
    print(format_events_table({
        "held-out voice": report["heldout"], "control (no jokes)": report["control"],
        "control, at the recording's events": report["control_at_recording_events"],
        "corpus test split": report["test"],
    }))  # fmt: skip
    print(f"laughs detected: held-out {report['heldout']['num_laughs']}, control {report['control']['num_laughs']}")
    for name, (met, value) in transfer_targets(report).items():
        print(f"{'met   ' if met else 'missed'} {name}: {value}")


if __name__ == "__main__":
    main()
