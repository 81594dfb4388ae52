"""Where a listener-LM training step's milliseconds go, per backbone size and activation, on a finished demo's
windows.

One stage-2 batch of the demo's training windows (`outputs/demo/dataset_tokens`, collated by the saved processor of
`outputs/demo/lm_stage2`, as training does) goes through forward, backward and an AdamW step of a fresh
`ListenerForCausalLM` of each backbone size. Printed per size: the batch's shape, the parameters (all, and without
the token embeddings), the wall time of a step (mean of `--steps` after 3 warm-up steps), and torch's profiler
of `--profile_steps` steps grouped by what the operators do (attention, matmuls, dropout, the optimizer, the rest),
then its top operators. Dropout is the backbone's residual and embedding dropout (the demo's setting keeps
attention dropout at 0, the fused attention path); `--no_dropout` sets them to 0 too.

    .venv/bin/python bench/lm_step_profile.py [--run outputs/demo] [--sizes 2x64 4x256] [--batch_size 8]
"""

import argparse
import copy
import itertools
import os
import time
from collections import defaultdict
from pathlib import Path

import torch
from torch.profiler import profile
from transformers import GPT2Config

from mmlistener.data.collators import ListenerCollator
from mmlistener.evaluation import load_split
from mmlistener.modeling.modeling_listener import ListenerForCausalLM
from mmlistener.processing.processing_listener import ListenerProcessor

GROUPS = {  # operator name fragments -> group (first match wins)
    "attention": ("scaled_dot_product", "flash_attention", "_efficient_attention", "softmax"),
    "dropout": ("bernoulli", "dropout", "native_dropout"),
    "optimizer": ("Optimizer.step", "addcdiv", "lerp", "sqrt", "_foreach"),
    "matmul": ("aten::mm", "aten::addmm", "aten::bmm", "aten::matmul", "aten::linear"),
}


def group_of(name: str) -> str:
    for group, fragments in GROUPS.items():
        if any(fragment in name for fragment in fragments):
            return group
    return "other"


def fresh_model(saved: ListenerForCausalLM, layers: int, width: int, dropout: float, activation: str):
    """A new LM with the saved one's token layout and a GPT-2 backbone of `layers` x `width` with 4 heads (the
    demo's count)."""
    backbone = GPT2Config(
        vocab_size=saved.config.backbone_config.vocab_size, n_layer=layers, n_embd=width, n_head=4,
        n_positions=saved.config.backbone_config.n_positions, attn_pdrop=0.0, resid_pdrop=dropout, embd_pdrop=dropout,
        activation_function=activation,
    )  # fmt: skip
    config = copy.deepcopy(saved.config)
    config.backbone_config = backbone
    return ListenerForCausalLM(config).train()


def train_step(model, optimizer, batch) -> None:
    model(**batch).loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", default="outputs/demo", help="A finished demo with dataset_tokens/ and lm_stage2/.")
    parser.add_argument("--sizes", nargs="+", default=["2x64", "4x256"], help="backbones as LAYERSxWIDTH")
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--profile_steps", type=int, default=3)
    parser.add_argument("--no_dropout", action="store_true")
    parser.add_argument("--activations", nargs="+", default=["gelu_new", "gelu_pytorch_tanh"],
                        help="GPT-2 activation_function values: GPT-2's own gelu_new (the tanh approximation written "
                             "as separate operators) and torch's fused kernel of the same function")
    args = parser.parse_args()
    run = Path(args.run)
    processor = ListenerProcessor.from_pretrained(str(run / "lm_stage2"))
    saved = ListenerForCausalLM.from_pretrained(str(run / "lm_stage2"))
    windows = load_split(str(run / "dataset_tokens"), "train")
    batch = ListenerCollator(processor, "listener")([windows[i] for i in range(args.batch_size)])
    tokens = int(batch["attention_mask"].sum())
    print(f"torch threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.2f}; batch "
          f"{tuple(batch['input_ids'].shape)} ({tokens} tokens)", flush=True)  # fmt: skip
    for size, activation in itertools.product(args.sizes, args.activations):
        layers, width = (int(part) for part in size.lower().split("x"))
        torch.manual_seed(0)
        model = fresh_model(saved, layers, width, 0.0 if args.no_dropout else 0.1, activation)
        embeddings = model.get_input_embeddings().weight.numel()
        total = sum(p.numel() for p in model.parameters())
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)

        for _ in range(3):
            train_step(model, optimizer, batch)
        started = time.perf_counter()
        for _ in range(args.steps):
            train_step(model, optimizer, batch)
        seconds = (time.perf_counter() - started) / args.steps
        with profile() as profiler:
            for _ in range(args.profile_steps):
                train_step(model, optimizer, batch)
        events = profiler.key_averages()
        grouped = defaultdict(float)
        for event in events:
            grouped[group_of(event.key)] += event.self_cpu_time_total / 1000 / args.profile_steps
        share = sum(grouped.values())
        print(f"\n{size}, {activation}: {total / 1e6:.2f} M parameters ({(total - embeddings) / 1e6:.2f} M without the token "
              f"embeddings); {1000 * seconds:.1f} ms per step, {tokens / seconds:.0f} tokens/s")  # fmt: skip
        for group, ms in sorted(grouped.items(), key=lambda item: -item[1]):
            print(f"  {group:<10} {ms:7.1f} ms per step ({100 * ms / share:4.1f} %)")
        top = sorted(events, key=lambda event: -event.self_cpu_time_total)[:6]
        print("  top operators: " + ", ".join(
            f"{event.key} {event.self_cpu_time_total / 1000 / args.profile_steps:.1f} ms" for event in top))  # fmt: skip
    print(f"\nload average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
