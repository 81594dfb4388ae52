"""VQ-VAE code diagnostics: dependence of codes on later frames and on the identity performing the motion."""

import numpy as np
import pytest
import torch

from mmlistener import IdentityVQVAE, IdentityVQVAEConfig
from mmlistener.data.synthetic import (
    _style_maps,
    apply_style,
    channel_amplitude,
    content_motion,
    identity_betas,
)
from mmlistener.evaluation import identity_code_agreement, prefix_code_agreement

pytestmark = pytest.mark.usefixtures("single_thread")


def tiny_vqvae(**overrides) -> IdentityVQVAE:
    torch.manual_seed(0)
    settings = dict(hidden_size=16, codebook_size=16, codebook_dim=16, num_residual_layers=1)
    vqvae = IdentityVQVAE(IdentityVQVAEConfig(**{**settings, **overrides}))
    betas = identity_betas(4, seed=9)
    motion = np.stack([apply_style(content, beta) for content, beta in zip(contents(4, seed=9), betas)])
    vqvae.train()(torch.from_numpy(motion.astype(np.float32)), identity=torch.from_numpy(betas))  # fills the codebook
    return vqvae.eval()


def contents(count=3, frames=64, seed=0):
    rng = np.random.default_rng(seed)
    return [content_motion(frames, rng) for _ in range(count)]


class LocalCodes:
    """A stand-in tokeniser whose code g is a function of group g's frames only: every prefix agrees."""

    config = IdentityVQVAEConfig(hidden_size=16, codebook_size=16, codebook_dim=16, encoder_norm="none")
    device = torch.device("cpu")

    def eval(self):
        return self

    def encode(self, motion, identity=None):
        groups = motion.unfold(1, 8, 8).mean(dim=(-1, -2))  # (batch, groups)
        return type("Output", (), {"codes": (groups.abs() * 100).long() % 16})()


def test_prefix_agreement_is_one_for_local_codes_and_lower_for_whole_window_instance_norm():
    motions = [apply_style(content, identity_betas(1)[0]) for content in contents()]
    local = prefix_code_agreement(LocalCodes(), motions)
    assert local["agreement"] == 1.0 and local["num_codes"] == 3 * 8
    instance = prefix_code_agreement(tiny_vqvae(encoder_norm="instance"), motions)
    # prefixes of 2 groups on (one group is refused): statistics over part of the window change the codes
    assert instance["num_codes"] == 3 * 7
    assert instance["agreement"] < 0.9
    assert instance["last_group"] == 1.0  # the whole window against itself
    with pytest.raises(ValueError, match="fewer than one group"):
        prefix_code_agreement(LocalCodes(), [np.zeros((5, 56), np.float32)])
    with pytest.raises(ValueError, match="window 0 has 1 complete groups of 8 frames; the VQ-VAE encodes 9"):
        prefix_code_agreement(tiny_vqvae(encoder_norm="instance"), [np.zeros((12, 56), np.float32)])


def test_identity_agreement_tells_an_identity_free_encoder_from_one_that_keeps_identity():
    betas = identity_betas(3, seed=4)
    instance = identity_code_agreement(tiny_vqvae(encoder_norm="instance"), contents(), betas, apply_style)
    plain = identity_code_agreement(tiny_vqvae(encoder_norm="none"), contents(), betas, apply_style)
    assert instance["num_codes"] == 3 * 2 * 8
    assert instance["agreement"] > plain["agreement"]
    with pytest.raises(ValueError, match="num_identities >= 2"):
        identity_code_agreement(tiny_vqvae(), contents(), betas[:1], apply_style)


def test_causal_encoder_gives_every_prefix_the_codes_of_the_whole_window():
    motions = [apply_style(content, identity_betas(1)[0]) for content in contents()]
    causal = prefix_code_agreement(tiny_vqvae(causal_encoder=True), motions)
    assert causal["agreement"] == 1.0
    torch.manual_seed(1)
    motion = torch.randn(2, 64, 56)
    vqvae = tiny_vqvae(causal_encoder=True)
    latents = vqvae.encode(motion).latents
    changed = motion.clone()
    changed[:, 40:] += 5.0  # frames of group 5 onwards
    later = vqvae.encode(changed).latents
    torch.testing.assert_close(later[:, :5], latents[:, :5])  # groups 0-4 do not see the change
    assert not torch.allclose(later[:, 5:], latents[:, 5:])


def test_input_instance_norm_erases_a_per_channel_style_exactly():
    betas = identity_betas(3, seed=4)
    paper = identity_code_agreement(tiny_vqvae(), contents(), betas, apply_style)
    erased = identity_code_agreement(tiny_vqvae(encoder_input_norm="instance"), contents(), betas, apply_style)
    assert erased["agreement"] == 1.0  # the same content performed by three listeners: the same codes
    assert paper["agreement"] < 1.0  # instance norms after the first convolution keep per-channel scales


def styled_identity_norm(vqvae: IdentityVQVAE) -> IdentityVQVAE:
    """`vqvae` (`encoder_norm="identity"`, unit motion statistics) with its input norm set to the inverse of the
    corpus's style (`apply_style`: `content * exp(0.4 S beta) + 0.8 amplitude * O beta`)."""
    offset_map, scale_map = _style_maps()
    norm = vqvae.encoder.norm_motion.style
    with torch.no_grad():
        norm.weight.copy_(torch.from_numpy(np.concatenate([0.4 * scale_map, 0.8 * channel_amplitude()[:, None] *
                                                           offset_map]).astype(np.float32)))  # fmt: skip
        norm.bias.zero_()
    return vqvae


def test_an_identity_norm_that_inverts_the_style_gives_every_performer_the_same_codes():
    betas = identity_betas(3, seed=4)
    inverted = styled_identity_norm(tiny_vqvae(encoder_norm="identity"))
    exact = identity_code_agreement(inverted, contents(), betas, apply_style)
    assert exact["agreement"] == 1.0  # the style is erased exactly: the content alone picks the codes
    instance = identity_code_agreement(tiny_vqvae(encoder_norm="instance"), contents(), betas, apply_style)
    assert instance["agreement"] < 1.0
    # the identity the norm is given is what erases the style: each performer's codes with a wrong identity differ
    motion = torch.from_numpy(np.stack([apply_style(contents(1)[0], beta) for beta in betas]).astype(np.float32))
    right = inverted.encode(motion, identity=torch.from_numpy(betas)).codes
    wrong = inverted.encode(motion, identity=torch.from_numpy(betas[::-1].copy())).codes
    assert torch.equal(right[0], right[1]) and not torch.equal(wrong[0], wrong[1])


def test_a_causal_identity_norm_encoder_gives_local_codes_from_the_first_group():
    betas = identity_betas(3, seed=5)
    motions = [apply_style(content, beta) for content, beta in zip(contents(), betas)]
    vqvae = tiny_vqvae(encoder_norm="identity", causal_encoder=True)
    assert vqvae.config.min_frames == 1  # no statistics over time: no fixed start code either
    local = prefix_code_agreement(vqvae, motions, identities=list(betas))
    assert local["agreement"] == 1.0 and local["first_group"] == 1.0
    with pytest.raises(ValueError, match="encoder_norm='identity' needs the listener identity"):
        prefix_code_agreement(vqvae, motions)
