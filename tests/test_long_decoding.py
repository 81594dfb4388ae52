"""decode_long: codes of any length decoded in overlapping windows blended by overlap-add."""

import functools

import pytest
import torch

from mmlistener import IdentityVQVAE, IdentityVQVAEConfig
from mmlistener.long_decoding import blend_weights, decode_long, window_starts

pytestmark = pytest.mark.usefixtures("single_thread")


@functools.cache
def tiny_vqvae(decoder_norm: str = "adain") -> IdentityVQVAE:
    torch.manual_seed(0)
    config = IdentityVQVAEConfig(hidden_size=16, codebook_size=16, codebook_dim=16, num_residual_layers=1,
                                 decoder_norm=decoder_norm)  # fmt: skip
    return IdentityVQVAE(config).eval()


def _codes(rows: int, length: int, seed: int = 0) -> torch.LongTensor:
    return torch.randint(0, 16, (rows, length), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("length", [2, 3, 17, 30])
def test_codes_that_fit_in_one_window_decode_exactly_as_decode(length):
    vqvae, identity = tiny_vqvae(), torch.randn(2, 100)
    codes = _codes(2, length)
    expected = vqvae.decode(codes, identity=identity).motion
    assert torch.equal(decode_long(vqvae, codes, identity, window_codes=30), expected)


@pytest.mark.parametrize("length, window, hop", [(31, 30, 15), (50, 30, 15), (100, 30, 15), (61, 8, 3), (40, 4, 4)])
def test_frames_are_blends_of_the_windows_that_cover_them(length, window, hop):
    vqvae, identity = tiny_vqvae(), torch.randn(1, 100)
    codes = _codes(1, length, seed=length)
    motion = decode_long(vqvae, codes, identity, window_codes=window, hop_codes=hop, batch_size=3)
    assert motion.shape == (1, length * 8, 56) and torch.isfinite(motion).all()
    starts = window_starts(length, window, hop)
    decoded = [vqvae.decode(codes[:, s : s + window], identity=identity).motion[0] for s in starts]
    # the first hop is covered by the first window alone, the end of the last window by the last window alone
    torch.testing.assert_close(motion[0, : starts[1] * 8], decoded[0][: starts[1] * 8])
    alone = (starts[-2] + window - starts[-1]) * 8
    torch.testing.assert_close(motion[0, -(window * 8 - alone) :], decoded[-1][alone:])
    # every frame lies between the lowest and highest of the windows' values there (weights >= 0 summing to 1)
    low = torch.full_like(motion[0], float("inf"))
    high = torch.full_like(motion[0], -float("inf"))
    for start, frames in zip(starts, decoded):
        span = slice(start * 8, (start + window) * 8)
        low[span], high[span] = torch.minimum(low[span], frames), torch.maximum(high[span], frames)
    assert bool((motion[0] >= low - 1e-5).all() and (motion[0] <= high + 1e-5).all())


def test_rows_are_decoded_independently_in_their_own_identity():
    vqvae, identity = tiny_vqvae(), torch.randn(3, 100)
    codes = _codes(3, 77)
    together = decode_long(vqvae, codes, identity, batch_size=5)
    for row in range(3):
        alone = decode_long(vqvae, codes[row : row + 1], identity[row : row + 1])
        torch.testing.assert_close(together[row : row + 1], alone, rtol=1e-5, atol=1e-5)


def test_a_decoder_without_identity_decodes_long_codes():
    vqvae = tiny_vqvae("instance")
    assert decode_long(vqvae, _codes(1, 64)).shape == (1, 512, 56)


def test_windows_cover_every_code_and_the_weights_sum_to_one():
    for length, window, hop in [(30, 30, 15), (31, 30, 15), (45, 30, 15), (46, 30, 15), (100, 30, 7), (9, 2, 1)]:
        starts = window_starts(length, window, hop)
        assert starts[0] == 0 and starts[-1] + window == max(length, window)
        assert all(0 < b - a <= hop for a, b in zip(starts, starts[1:]))
    weights = blend_weights(240)
    assert bool((weights > 0).all())
    torch.testing.assert_close(weights[:120] + weights[120:], torch.ones(120))


@pytest.mark.parametrize(
    "kwargs, words",
    [({"window_codes": 1}, "at least 2 codes"), ({"hop_codes": 0}, "hop_codes"), ({"hop_codes": 31}, "hop_codes"),
     ({"batch_size": 0}, "batch_size")],
)  # fmt: skip
def test_bad_settings_are_named(kwargs, words):
    with pytest.raises(ValueError, match=words):
        decode_long(tiny_vqvae(), _codes(1, 40), torch.randn(1, 100), **kwargs)
