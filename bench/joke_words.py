"""Do the listener LMs read the joke in the words? Teacher-forced NLL of the laughter groups with and without the
joke words.

`mmlistener.evaluation.joke_word_control` scores the test windows' true listener codes twice: with their words,
and with each joke word's text replaced by the neutral word a control recording says in its place (the speech codes
and the emotion unchanged). The laughter groups' NLL rises without the joke words only when the model reads them;
a model that finds the joke in the sound alone, or not at all, predicts the laughter equally well (or badly) both
ways. Each LM is scored on the test split of `--tokens` (the dataset its codes come from).

    .venv/bin/python bench/joke_words.py --lm outputs/demo/lm_stage2 [--tokens outputs/demo/dataset_tokens]
    .venv/bin/python bench/joke_words.py --tokens outputs/reproduce/seed_0/dataset_tokens \\
        --lm outputs/reproduce/seed_0/lm_stage2 outputs/reproduce/modalities_words/lm_stage2
"""

import argparse
import os
from pathlib import Path

import torch

from mmlistener.evaluation import as_examples, joke_word_control
from mmlistener.evaluation.tables import markdown_table
from mmlistener.modeling.modeling_listener import ListenerForCausalLM
from mmlistener.processing.processing_listener import ListenerProcessor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lm", nargs="+", default=["outputs/demo/lm_stage2"], help="Saved listener LMs.")
    parser.add_argument("--tokens", default=None,
                        help="The dataset with listener codes (default: the first LM's run's dataset_tokens/).")
    args = parser.parse_args()
    from datasets import load_from_disk

    tokens = Path(args.tokens or Path(args.lm[0]).parent / "dataset_tokens")
    if not tokens.is_dir():
        raise FileNotFoundError(f"{tokens} is missing: pass --tokens (a run's dataset_tokens/)")
    test = as_examples(load_from_disk(str(tokens))["test"])
    print(f"torch threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.2f}; {len(test)} test windows "
          f"of {tokens}", flush=True)
    rows = {}
    for lm in args.lm:
        model = ListenerForCausalLM.from_pretrained(lm)
        processor = ListenerProcessor.from_pretrained(lm)
        control = joke_word_control(model, processor, test)
        laugh = {name: control[name]["responses"]["laugh"] for name in ("with_jokes", "without_jokes")}
        rows[lm] = [",".join(processor.modalities), str(laugh["with_jokes"]["num_codes"]),
                    f"{control['with_jokes']['nll']:.3f}", f"{laugh['with_jokes']['nll']:.3f}",
                    f"{laugh['without_jokes']['nll']:.3f}", f"{control['laugh_nll_gap']:.3f}"]  # fmt: skip
    print(markdown_table("LM", ["streams", "laughter codes", "NLL, all codes", "laughter NLL",
                                "without the joke words", "gap ↑"], rows))  # fmt: skip


if __name__ == "__main__":
    main()
