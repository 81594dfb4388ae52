"""Int8 inference for the listener LM: the backbone's transformer blocks with int8 weights.

`quantize_backbone(model, "int8")`, or `ListenerForCausalLM.from_pretrained(dir, quantization="int8")`, turns the
linear layers of the backbone's blocks into torch.ao's dynamic int8 linear layers (fbgemm kernels). A cached
per-group step reads every weight of the backbone for ~25 tokens: it is bound by memory traffic, which int8
weights cut by four.

Why this method: figures of a 2-core AVX512-VNNI CPU with torch 2.13.0+cpu and torchao 0.18.0, nothing else
running.

- The four linear layers of 24 GPT-2-Medium blocks on a 23-token chunk, 2 threads (a one-off timing, not kept):
  float32 139-164 ms; torch.ao dynamic int8 15-17 ms; torchao `Int8DynamicActivationInt8WeightConfig` 110 ms
  eager, 39 ms under `torch.compile(dynamic=True)`; torchao `Int8WeightOnlyConfig` 181 ms eager, 190 ms
  compiled. torchao's CPU int8 layers are Python tensor subclasses (weight-only casts the whole weight to float
  at every call) that pay only when compiled, and the KV-cached steps defeat `torch.compile` (graph breaks,
  recompiles as the cache grows: compiling the backbone of this module's int8 model made its 6-layer steps
  slower, 12.5 against 11.5 ms).
- `bench/generation.py --quantization int8 --threads 2` (GPT-2-Medium size): per-group step p50 / p95 float32
  202 / 220 ms, int8 38 / 54 ms; with `--threads 1` 276 / 316 ms and 62 / 87 ms.
- `bench/quantization_agreement.py --model outputs/reproduce/seed_N/lm_stage2 --dataset
  outputs/reproduce/seed_N/dataset_tokens` (the study's LMs, N = 0, 1, 2; batches of 8): 99.3, 99.6, 99.7 % of
  the greedy codes equal the float model's (99.2-99.4 % of the teacher-forced decisions); one window at a time
  (`--batch-size 1`, as a stream runs) 97.4, 97.8, 99.5 % (99.0-99.3 %): a flipped code changes the context
  of every later group. With the input quantized to 7 bits, torch.ao's default, 95.3, 98.2, 96.9 % in batches
  of 8 (98.5-99.0 %): hence the 8-bit input where the CPU allows it.
"""

import functools
import warnings

import torch
from torch import nn
from transformers.pytorch_utils import Conv1D

QUANTIZATION_METHODS = ("int8",)


def quantize_backbone(model: nn.Module, method: str) -> nn.Module:
    """Quantize the linear layers of `model.backbone`'s transformer blocks in place, for CPU inference.

    `"int8"`: every linear layer under the backbone's base model (GPT-2's `Conv1D` or `nn.Linear`: attention
    projections and MLP, all blocks) becomes torch.ao's dynamic int8 linear: int8 weights with one scale per
    output channel; each call quantizes its input `(batch, tokens, in_features)` with one scale for the whole
    tensor (8 bits on CPUs with AVX512-VNNI, 7 elsewhere) and multiplies with fbgemm's int8 kernels. The token
    and position embeddings, the norms, the LM head and the listener head stay in float32: embeddings are looked
    up, not multiplied, and the heads are small next to the blocks or unused by `generate`.

    Because an input scale covers the whole chunk, the codes of an int8 model depend a little on how tokens are
    fed: cached steps and full recompute, or one sample and a batch, may pick different codes where two codes
    are nearly tied (the float model gives the same codes either way). The result is for inference (`generate`,
    `generate_steps`, streaming): its packed weights are not parameters, so it can be neither trained nor
    saved (`save_pretrained` fails); quantize after loading the float model.

    Args:
        model ([`ListenerForCausalLM`]): a float32 model (any backbone whose linear layers are `nn.Linear` or
            GPT-2's `Conv1D`).
        method (`str`): one of `QUANTIZATION_METHODS` (`"int8"`).

    Returns:
        The same `model`, quantized and in eval mode.
    """
    if method not in QUANTIZATION_METHODS:
        raise ValueError(f"unknown quantization method {method!r}; choose among {list(QUANTIZATION_METHODS)}")
    linear_class = _int8_linear_class()
    base = model.backbone.base_model  # embeddings and blocks; the LM head and the listener head are outside
    if base.dtype != torch.float32:
        raise ValueError(f"int8 quantization takes a float32 model, got {base.dtype}: load it with dtype=torch.float32")
    _conv1d_to_linear(base)
    with warnings.catch_warnings():
        # torch.ao's eager quantization and its quantized tensors are deprecated in favour of torchao, whose int8
        # linear layers are several times slower on CPU without torch.compile (see the module docstring).
        warnings.filterwarnings("ignore", message="torch.ao.quantization is deprecated")
        warnings.filterwarnings("ignore", message="torch.quantize_per_tensor, torch.quantize_per_channel")
        torch.ao.quantization.quantize_dynamic(
            base,
            {nn.Linear: torch.ao.quantization.per_channel_dynamic_qconfig},
            mapping={nn.Linear: linear_class},
            inplace=True,
        )
    return model.eval()


@functools.cache
def _int8_linear_class() -> type[nn.Module]:
    """torch.ao's dynamic int8 linear, its input quantized to all 8 bits on CPUs with AVX512-VNNI.

    Built on first use, so that a torch without torch.ao's quantized modules still loads float models. torch.ao's
    class always quantizes the input to 7 bits (`reduce_range=True`): fbgemm's AVX2 kernels add pairs of
    uint8 x int8 products in int16, which 8-bit inputs could saturate. The AVX512-VNNI kernels add them in int32,
    so there the eighth bit is free: it halves the input's rounding error and keeps more greedy codes equal to
    the float model's (see the module docstring). Elsewhere the class behaves as torch.ao's.
    """
    try:
        from torch.ao.nn.quantized.dynamic import Linear
    except ImportError as error:
        raise ValueError(
            "int8 quantization uses torch.ao's dynamic quantized Linear, which this torch does not have: "
            "install a torch that has it, e.g. `pip install torch==2.13.0`"
        ) from error
    if not set(torch.backends.quantized.supported_engines) - {"none"}:
        raise ValueError(
            "int8 quantization needs a torch build with a quantized engine (x86/fbgemm or qnnpack); this one has "
            "none: install the official CPU wheel, e.g. `pip install torch --index-url "
            "https://download.pytorch.org/whl/cpu`"
        )

    class Int8DynamicLinear(Linear):
        reduce_range = not torch.cpu.get_capabilities().get("avx512_vnni", False)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            """`x (..., in_features)` float32 -> `(..., out_features)`: `x` quantized with one scale, int8 matmul."""
            packed = self._packed_params._packed_params
            return torch.ops.quantized.linear_dynamic(x, packed, reduce_range=self.reduce_range).to(x.dtype)

    return Int8DynamicLinear


def _conv1d_to_linear(module: nn.Module) -> None:
    """Replace every GPT-2 `Conv1D` under `module` by the equal `nn.Linear` (weight `(nx, nf)` transposed)."""
    for name, child in module.named_children():
        if isinstance(child, Conv1D):
            linear = nn.Linear(child.nx, child.nf, device=child.weight.device, dtype=child.weight.dtype)
            with torch.no_grad():
                linear.weight.copy_(child.weight.t())
                linear.bias.copy_(child.bias)
            setattr(module, name, linear)
        else:
            _conv1d_to_linear(child)


__all__ = ["QUANTIZATION_METHODS", "quantize_backbone"]
