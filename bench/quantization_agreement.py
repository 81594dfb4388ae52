"""Greedy agreement of the int8 listener LM with its float32 self, on a trained model and its test windows.

Loads the LM saved in `--model` twice, `from_pretrained(dir)` and `from_pretrained(dir, quantization="int8")`,
and its processor; reads the `--split` windows of `--dataset` (a `DatasetDict` saved with `save_to_disk`, such
as `mmlistener-tokenize` writes); generates greedily with both models in batches of `--batch-size`, the way
`ListenerPipeline` does. Prints the fraction of codes that agree (each window's own groups), the windows that
agree on every code, and the fraction of per-group decisions that agree when both models read the float
model's codes (teacher-forced: one flipped code does not change the later context, as it does when
generating). Prints figures; asserts nothing.

    .venv/bin/python bench/quantization_agreement.py --model outputs/reproduce/seed_0/lm_stage2 \\
        --dataset outputs/reproduce/seed_0/dataset_tokens [--split test] [--batch-size 8] [--threads 1]
"""

import argparse
import os
import time

import torch

from mmlistener import ListenerForCausalLM, ListenerProcessor
from mmlistener.evaluation.systems import load_split
from mmlistener.pipeline import ListenerPipeline


def forced_decisions(model: ListenerForCausalLM, batch: dict) -> torch.LongTensor:
    """The listener head's argmax before each slot of a batch whose slots hold given codes: `(slots,)`."""
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).listener_logits
    return logits[:, :-1][batch["listener_slot_mask"][:, 1:].bool()].argmax(-1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="directory of a trained ListenerForCausalLM and its processor")
    parser.add_argument("--dataset", required=True, help="DatasetDict directory (save_to_disk) with the windows")
    parser.add_argument("--split", default="test", help="split of --dataset whose windows are generated")
    parser.add_argument("--batch-size", type=int, default=8, help="windows per generate call")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    models = {
        "float32": ListenerForCausalLM.from_pretrained(args.model).eval(),
        "int8": ListenerForCausalLM.from_pretrained(args.model, quantization="int8"),
    }
    processor = ListenerProcessor.from_pretrained(args.model)
    split = load_split(args.dataset, args.split)
    windows = [split[index] for index in range(len(split))]
    group_size = models["float32"].config.group_size
    codes = {name: [] for name in models}
    forced = {name: [] for name in models}
    seconds = dict.fromkeys(models, 0.0)
    with torch.inference_mode():
        for start in range(0, len(windows), args.batch_size):
            chunk = windows[start : start + args.batch_size]
            batch = processor(**ListenerPipeline.processor_inputs(chunk), return_tensors="pt")
            for name, model in models.items():
                started = time.perf_counter()
                codes[name] += ListenerPipeline.own_codes(model.generate(**batch), chunk, group_size)
                seconds[name] += time.perf_counter() - started
            reference = [row.tolist() for row in codes["float32"][start:]]
            teacher = processor(**ListenerPipeline.processor_inputs(chunk), listener_codes=reference,
                                return_tensors="pt")  # fmt: skip
            for name, model in models.items():
                forced[name].append(forced_decisions(model, teacher))

    total = sum(len(row) for row in codes["float32"])
    agree = sum(int((a == b).sum()) for a, b in zip(codes["int8"], codes["float32"]))
    whole = sum(torch.equal(a, b) for a, b in zip(codes["int8"], codes["float32"]))
    forced_float, forced_int8 = torch.cat(forced["float32"]), torch.cat(forced["int8"])
    config = models["float32"].config.backbone_config
    print(
        f"model: {args.model} ({config.model_type}, {config.num_hidden_layers} layers, {config.hidden_size} hidden); "
        f"{len(windows)} {args.split} windows of {args.dataset}, {total} codes; torch threads: {torch.get_num_threads()}"
    )
    print(f"greedy codes of int8 equal to float32's:  {agree}/{total} = {agree / total:.4f}")
    print(f"windows with every code equal:            {whole}/{len(windows)}")
    forced_agree = int((forced_int8 == forced_float).sum())
    print(f"teacher-forced decisions equal:           {forced_agree}/{len(forced_float)} = {forced_agree / len(forced_float):.4f}")
    print(f"generation time: float32 {seconds['float32']:.1f} s, int8 {seconds['int8']:.1f} s; "
          f"load average: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
