"""quantize_backbone and from_pretrained(..., quantization="int8"): int8 linear layers in the backbone's blocks."""

import copy

import pytest
import torch
from test_listener_generation import SAMPLES, inputs
from test_listener_model import listener_config, make_batch
from torch import nn
from transformers.pytorch_utils import Conv1D

from mmlistener import ListenerForCausalLM
from mmlistener.modeling import quantize_backbone

INT8_LINEAR = torch.ao.nn.quantized.dynamic.Linear


@pytest.fixture(scope="module")
def targets():
    """Listener codes `(3, 6)` the fitted model learns to predict: many different codes, not a constant."""
    return torch.randint(0, listener_config().num_listener_tokens, (3, 6), generator=torch.Generator().manual_seed(1))


@pytest.fixture(scope="module")
def fitted(targets):
    """A tiny float model fitted (stage 2) to `targets` on the `SAMPLES` batch: confident, well-separated logits."""
    torch.manual_seed(0)
    model = ListenerForCausalLM(listener_config())
    batch = make_batch(model.config.layout, SAMPLES, seed=5, codes=targets.tolist())
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(30):
        loss = model(**batch).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


@pytest.fixture(scope="module")
def quantized(fitted):
    return quantize_backbone(copy.deepcopy(fitted), "int8")


@pytest.fixture(scope="module")
def batch(fitted):
    return inputs(make_batch(fitted.config.layout, SAMPLES, seed=5))


def test_int8_replaces_every_linear_layer_of_the_blocks_and_nothing_else(fitted, quantized):
    blocks = quantized.backbone.transformer.h
    for block in blocks:
        for layer in (block.attn.c_attn, block.attn.c_proj, block.mlp.c_fc, block.mlp.c_proj):
            assert isinstance(layer, INT8_LINEAR) and layer.weight().dtype == torch.qint8
    assert sum(isinstance(m, INT8_LINEAR) for m in quantized.modules()) == 4 * len(blocks)
    assert not any(isinstance(m, Conv1D) for m in quantized.backbone.modules())
    assert type(quantized.listener_head) is nn.Linear and quantized.listener_head.weight.dtype == torch.float32
    assert torch.equal(quantized.get_input_embeddings().weight, fitted.get_input_embeddings().weight)
    assert torch.equal(quantized.listener_head.weight, fitted.listener_head.weight)
    assert not any(isinstance(m, INT8_LINEAR) for m in fitted.modules())  # the float model was copied first


def test_the_quantized_model_generates_codes_in_range(quantized, batch):
    codes = quantized.generate(**batch)
    assert codes.shape == (3, 6) and codes.dtype == torch.long
    assert 0 <= int(codes.min()) and int(codes.max()) < quantized.config.num_listener_tokens
    steps = list(quantized.generate_steps(**batch))
    assert torch.equal(torch.stack(steps, 1), codes)


def test_int8_codes_equal_float_codes_where_the_logits_are_well_separated(fitted, quantized, batch, targets):
    codes = fitted.generate(**batch)
    assert torch.equal(codes, targets) and len(set(codes.flatten().tolist())) > 6
    forced = inputs(make_batch(fitted.config.layout, SAMPLES, seed=5, codes=codes.tolist()))
    slots = forced["listener_slot_mask"][:, 1:]
    with torch.no_grad():
        float_logits = fitted(**forced).listener_logits[:, :-1][slots]
        int8_logits = quantized(**forced).listener_logits[:, :-1][slots]
    top2 = float_logits.topk(2, dim=-1).values
    error = (int8_logits - float_logits).abs().max()
    assert 0 < error < float((top2[:, 0] - top2[:, 1]).min()) / 4  # int8 changed the logits, by less than the margins
    assert torch.equal(quantized.generate(**batch), codes)


def test_from_pretrained_quantizes_when_asked(fitted, quantized, batch, tmp_path):
    fitted.save_pretrained(tmp_path)
    assert (tmp_path / "quantization.py").exists()  # remote code: modeling_listener.py imports it
    loaded = ListenerForCausalLM.from_pretrained(tmp_path, quantization="int8")
    assert sum(isinstance(m, INT8_LINEAR) for m in loaded.modules()) == 4 * fitted.config.backbone_config.n_layer
    assert not loaded.training
    assert torch.equal(loaded.generate(**batch), quantized.generate(**batch))
    plain = ListenerForCausalLM.from_pretrained(tmp_path)
    assert not any(isinstance(m, INT8_LINEAR) for m in plain.modules())


def test_quantizing_is_not_silent_about_torch_ao_being_deprecated(fitted):
    """torch.ao's eager quantization is deprecated (the module docstring says why it is kept): torch says so."""
    with pytest.warns(DeprecationWarning, match="torch.ao.quantization is deprecated"):
        quantize_backbone(copy.deepcopy(fitted), "int8")


def test_a_quantized_model_is_not_saved_and_the_error_says_how_to_get_it(quantized, tmp_path):
    with pytest.raises(ValueError, match=r"quantize after loading with ListenerForCausalLM.from_pretrained\(path, quantization='int8'\)"):
        quantized.save_pretrained(tmp_path)
    assert not any(tmp_path.iterdir())


def test_an_unknown_method_or_a_non_float32_model_is_refused(fitted, tmp_path):
    with pytest.raises(ValueError, match="'int4'"):
        quantize_backbone(copy.deepcopy(fitted), "int4")
    fitted.save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="'fp8'"):
        ListenerForCausalLM.from_pretrained(tmp_path, quantization="fp8")
    with pytest.raises(ValueError, match="float32"):
        quantize_backbone(copy.deepcopy(fitted).to(torch.bfloat16), "int8")
