"""Int8 inference for the listener LM: the backbone's transformer blocks with int8 weights.

`quantize_backbone(model, "int8")`, or `ListenerForCausalLM.from_pretrained(dir, quantization="int8")`, turns the
linear layers of the backbone's blocks into torch.ao's dynamic int8 linear layers (fbgemm kernels). A cached
per-group step reads every weight of the backbone for ~25 tokens: it is bound by memory traffic, which int8
weights cut by four.

Why torch.ao and not torchao (transformers' own mechanism, `TorchAoConfig`): `bench/generation.py --quantization
int8 torchao-int8 torchao-int8-weight-only` measures the three on the same linear layers side by side, and on CPU
torchao's int8 layers are slower. They are Python tensor subclasses that pay only under `torch.compile`, and the
KV-cached per-group steps of generation run eager (the cache grows every step). Its figures are in
`docs/listener_lm.md` ("int8 against torchao"): torchao's int8 dynamic path runs at about two thirds of torch.ao's
speed (1.7x float32's against 2.6x per group), its weight-only path at float32's. torch.ao's eager quantization is deprecated (torch warns when `quantize_backbone`
runs; the warnings are not hidden): when it goes, torchao is the way, at that cost. What int8 gives, measured by
commands of this repository (their figures are in `docs/listener_lm.md` and `docs/streaming.md#int8`):

- `bench/generation.py --quantization int8`: the per-group step of a GPT-2-Medium-sized backbone in float32 and
  int8, side by side;
- `bench/quantization_agreement.py --model DIR --dataset DIR [--batch-size 1]`: how many greedy codes of a
  trained LM int8 keeps equal to float32's. A flipped code changes the context of every later group, so one
  window at a time agrees less than batches do. With the input quantized to 7 bits (torch.ao's default) fewer
  codes agreed in a one-off comparison: hence the 8-bit input where the CPU allows it.
"""

import functools

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
    saved (`save_pretrained` refuses it, saying so); quantize after loading the float model
    (`ListenerForCausalLM.from_pretrained(path, quantization="int8")`). torch warns that torch.ao's quantization
    is deprecated: that is this path (see the module docstring for why it is kept).

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
    conv1d_to_linear(base)
    torch.ao.quantization.quantize_dynamic(
        base,
        {nn.Linear: torch.ao.quantization.per_channel_dynamic_qconfig},
        mapping={nn.Linear: linear_class},
        inplace=True,
    )
    model.backbone_quantization = method  # save_pretrained refuses such a model, saying how to get it back
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


def conv1d_to_linear(module: nn.Module) -> None:
    """Replace every GPT-2 `Conv1D` under `module` by the equal `nn.Linear` (weight `(nx, nf)` transposed)."""
    for name, child in module.named_children():
        if isinstance(child, Conv1D):
            linear = nn.Linear(child.nx, child.nf, device=child.weight.device, dtype=child.weight.dtype)
            with torch.no_grad():
                linear.weight.copy_(child.weight.t())
                linear.bias.copy_(child.bias)
            setattr(module, name, linear)
        else:
            conv1d_to_linear(child)


__all__ = ["QUANTIZATION_METHODS", "conv1d_to_linear", "quantize_backbone"]
