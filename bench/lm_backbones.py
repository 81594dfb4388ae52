"""Which backbone learns to listen: GPT-2 and LLaMA-type decoders of the demo's size, side by side.

(And the demo's LM with a longer stage 1, the speaker pretraining: `--variants llama llama_stage1_300`.)

Each variant trains both LM stages from scratch (`mmlistener.runs.train_lm`, the demo's trainer and budget: same
steps, batch, learning rate and seed) on a finished run's listener codes (`make demo` writes them to
`outputs/demo/dataset_tokens`, with its VQ-VAE in `outputs/demo/vqvae`); only the backbone's config differs. Then:

- teacher-forced NLL and accuracy of the true listener codes, over all codes and per kind of group
  (`mmlistener.evaluation.events.response_groups`: the groups where the corpus's listener nods or laughs, and the
  rest), beside the code bigram's NLL and the NLL with shuffled speakers;
- the generated motion of the test windows (greedy, `ListenerPipeline`): L2 to the ground truth and the event
  rates of the package's detectors (nod and laugh hit / false-alarm rates, contagion).

GPT-2 learns its positions as a table; a LLaMA-type decoder rotates queries and keys by position (RoPE), so "the
listener token one group back" or "the words two groups back" is the same relation at every position. Printed
beside the rows: training seconds, torch's thread count and the machine's load average.

    .venv/bin/python bench/lm_backbones.py [--run outputs/demo] [--variants gpt2 llama]
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from mmlistener.evaluation import as_examples, code_baselines, load_split, speaker_shuffle_control
from mmlistener.evaluation.events import event_rates
from mmlistener.evaluation.tables import markdown_table
from mmlistener.modeling.modeling_identity_vqvae import IdentityVQVAE
from mmlistener.runs import PipelineBudget, finished_run, load_pipeline, train_lm

GPT2 = ("n_layer=2,n_embd=64,n_head=4,n_positions=1024,attn_pdrop=0.0,resid_pdrop=0.0,embd_pdrop=0.0,"
        "activation_function=gelu_pytorch_tanh")  # the demo's former backbone: the same width, depth, heads, positions
VARIANTS = {  # name -> the PipelineBudget fields that differ from the demo's
    "gpt2": {"backbone_config_overrides": GPT2},
    "llama": {},  # the demo's
    "llama_stage1_300": {"lm_stage1_steps": 300},  # the demo's, with 300 steps of stage 1 (speaker) instead of 20
}


def score(lm_dir: Path, vqvae: IdentityVQVAE, tokens, test: list[dict]) -> dict:
    """Teacher-forced scores (overall and per response), the shuffled-speaker NLL and the generated motion's rates."""
    model, processor, pipeline = load_pipeline(lm_dir, vqvae)
    control = speaker_shuffle_control(model, processor, as_examples(tokens["test"]), seed=0)
    motions = pipeline.predict(test)
    rates = event_rates(motions, test)
    rates["l2"] = float(np.mean([np.mean((m - np.asarray(w["listener_motion"])) ** 2) for m, w in zip(motions, test)]))
    return {"true": control["true"], "shuffled_nll": control["shuffled"]["nll"], "rates": rates}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", default="outputs/demo", help="A finished run with dataset_tokens/ and vqvae/.")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    run = finished_run(args.run, "dataset_tokens", "vqvae")
    from datasets import load_from_disk

    tokens = load_from_disk(str(run / "dataset_tokens"))
    test = as_examples(load_split(str(run / "dataset_tokens"), "test"))
    vqvae = IdentityVQVAE.from_pretrained(str(run / "vqvae"))
    bigram = code_baselines(tokens["train"]["listener_codes"], tokens["test"]["listener_codes"],
                            vqvae.config.codebook_size)["bigram"]  # fmt: skip
    print(f"torch threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.2f}; {len(test)} test "
          f"windows; code bigram NLL {bigram['nll']:.3f}, accuracy {bigram['accuracy']:.3f}", flush=True)  # fmt: skip
    forced, generated = {}, {}
    with tempfile.TemporaryDirectory() as folder:
        for name in args.variants:
            budget = PipelineBudget(**VARIANTS[name])
            started = time.time()
            train_lm(Path(folder) / name / "stage1", Path(folder) / name / "stage2", run / "dataset_tokens",
                     run / "vqvae", budget, args.seed)  # fmt: skip
            seconds = time.time() - started
            scores = score(Path(folder) / name / "stage2", vqvae, tokens, test)
            true, rates = scores["true"], scores["rates"]
            parts = true["responses"]
            forced[name] = [f"{seconds:.0f}", f"{true['nll']:.3f}", f"{scores['shuffled_nll']:.3f}",
                            f"{true['accuracy']:.3f}"] + [
                f"{parts[kind]['nll']:.3f} / {parts[kind]['accuracy']:.3f}" for kind in ("other", "nod", "laugh")
            ]  # fmt: skip
            generated[name] = [
                f"{rates['l2']:.4f}", f"{rates['nod_hit_rate']:.3f} / {rates['nod_false_alarm_rate']:.3f}",
                f"{rates['laugh_hit_rate']:.3f} / {rates['laugh_false_alarm_rate']:.3f} ({rates['num_joke_ends']})",
                f"{rates['emotion_contagion']:.3f}",
            ]  # fmt: skip
            print(f"{name}: done in {seconds:.0f} s", flush=True)
    print(markdown_table("Backbone (teacher-forced)", ["train s", "NLL ↓", "shuffled NLL", "accuracy ↑",
                                                       "other NLL / acc", "nod NLL / acc", "laugh NLL / acc"],
                         forced))  # fmt: skip
    print()
    print(markdown_table("Backbone (generated)", ["L2 ↓", "nod hit / false alarm", "laugh hit / false alarm (jokes)",
                                                  "contagion"], generated))  # fmt: skip
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
