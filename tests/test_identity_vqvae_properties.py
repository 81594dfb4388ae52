"""Property tests of the VQ-VAE's inputs: motion, identity and codes of any shape and dtype either give outputs
of the documented shapes or raise a ValueError that names the argument at fault."""

import functools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mmlistener import IdentityVQVAE, IdentityVQVAEConfig

pytestmark = pytest.mark.usefixtures("single_thread")
property_settings = settings(max_examples=120, deadline=None)
DTYPES = (torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int64, torch.int32, torch.uint8, torch.bool)


@functools.cache
def tiny_model(decoder_norm: str) -> IdentityVQVAE:
    torch.manual_seed(0)
    config = IdentityVQVAEConfig(
        hidden_size=8, codebook_size=16, codebook_dim=8, num_residual_layers=1, decoder_norm=decoder_norm
    )
    return IdentityVQVAE(config).eval()


def tensors(shape: tuple[int, ...], dtype: torch.dtype, seed: int, nan: bool = False):
    """A tensor of `shape` and `dtype` (values in [-3, 3], or small ints), with a NaN in it when asked."""
    values = torch.from_numpy(np.random.default_rng(seed).uniform(-3, 3, shape).astype(np.float32))
    if nan and values.numel():
        values.view(-1)[0] = float("nan")
    return values.to(dtype)


@st.composite
def model_inputs(draw) -> tuple[str, dict, str | None]:
    """`(decoder_norm, inputs, argument at fault or None)`: a batch of motion and identity, each maybe wrong."""
    norm = draw(st.sampled_from(["adain", "none"]))
    batch, frames = draw(st.integers(1, 3)), draw(st.integers(1, 24))
    motion = {"shape": (batch, frames, 56), "dtype": torch.float32, "nan": False}
    identity = {"shape": (batch, 100), "dtype": torch.float32, "nan": False}
    fault = draw(st.sampled_from([None, "motion", "identity"]))
    if frames <= 8:  # one latent step: the instance-norm encoder refuses the motion before reading the identity
        fault = "motion"
    if fault is not None:
        part, width = (motion, 56) if fault == "motion" else (identity, 100)
        dims = [draw(st.integers(0, 3))] + [draw(st.integers(0, 24)) for _ in range(len(part["shape"]) - 2)]
        shapes = st.sampled_from([tuple(dims) + (width,), tuple(dims) + (width - 1,), tuple(dims[1:]) + (width,)])
        part["shape"] = draw(shapes | st.just(part["shape"]))
        part["dtype"] = draw(st.sampled_from(DTYPES))
        part["nan"] = draw(st.booleans())
    seed = draw(st.integers(0, 100))
    inputs = {name: tensors(seed=seed, **part) for name, part in (("motion", motion), ("identity", identity))}
    if fault == "identity" and draw(st.booleans()):
        inputs["identity"] = draw(st.sampled_from([None, inputs["identity"].float().tolist()]))
    return norm, inputs, fault


def expect_named_error(fault: str | None, call):
    """`call()`, or None when it raises a ValueError naming `fault` (an error without a fault fails the test)."""
    try:
        return call()
    except ValueError as error:
        assert fault is not None and fault in str(error), f"fault in {fault}, error: {error}"
        return None


@property_settings
@given(model_inputs())
def test_forward_and_encode_give_documented_shapes_or_name_the_bad_argument(case):
    norm, inputs, fault = case
    model, motion = tiny_model(norm), inputs["motion"]
    out = expect_named_error(fault, lambda: model(**inputs))
    if out is not None:
        batch, frames = motion.shape[:2]
        assert out.reconstruction.shape == (batch, frames, 56) and out.codes.shape == (batch, -(-frames // 8))
        assert torch.isfinite(out.reconstruction).all() and torch.isfinite(out.loss)
    encoded = expect_named_error("motion" if fault == "motion" else None, lambda: model.encode(motion))
    if encoded is not None and out is not None:
        assert torch.equal(encoded.codes, out.codes)


@property_settings
@given(st.data())
def test_decode_gives_rate_times_codes_frames_or_names_the_bad_argument(data):
    norm = data.draw(st.sampled_from(["adain", "none"]))
    fault = data.draw(st.sampled_from([None, "codes", "identity"]))
    batch, length = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 5))
    codes = torch.as_tensor(data.draw(st.lists(st.integers(0, 15), min_size=batch * length, max_size=batch * length)))
    codes, identity = codes.reshape(batch, length), torch.zeros(batch, 100)
    if fault == "codes":
        shape = data.draw(st.sampled_from([(batch, 0), (0, length), (batch,), (batch, length, 1), (batch, length)]))
        values = torch.as_tensor(data.draw(st.lists(st.integers(-2, 18), min_size=1, max_size=1)))
        dtype = data.draw(st.sampled_from(DTYPES))
        codes = values.expand(shape).to(dtype) + (0.5 if dtype.is_floating_point else 0)  # never whole floats
    elif fault == "identity":
        identity = data.draw(st.sampled_from([None, identity[:, :99], identity[:1].expand(batch + 1, 100)]))
    if norm == "adain" and length == 1:  # AdaIN over one step ignores the code: refused before the identity is read
        fault = "codes"
    decoded = expect_named_error(fault, lambda: tiny_model(norm).decode(codes, identity=identity))
    if decoded is not None:
        assert not codes.dtype.is_floating_point, "fractional codes must not be rounded silently"
        assert decoded.motion.shape == (codes.shape[0], codes.shape[1] * 8, 56)
        assert torch.isfinite(decoded.motion).all()
