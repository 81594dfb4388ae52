"""IdentityVQVAE: shapes of every norm variant, identity disentanglement, quantizer state, training, loading."""

import json

import pytest
import torch
from transformers import AutoConfig, AutoModel

from mmlistener import IdentityVQVAE, IdentityVQVAEConfig
from mmlistener.data.synthetic import sample_identity_motion
from mmlistener.modeling.configuration_identity_vqvae import DECODER_NORMS, ENCODER_NORMS
from mmlistener.modeling.modeling_identity_vqvae import EMAVectorQuantizer, MotionNorm

pytestmark = pytest.mark.usefixtures("single_thread")


def tiny_config(**overrides) -> IdentityVQVAEConfig:
    settings = dict(hidden_size=16, codebook_size=16, codebook_dim=16, num_residual_layers=2)
    return IdentityVQVAEConfig(**{**settings, **overrides})


def tiny_model(seed: int = 0, **overrides) -> IdentityVQVAE:
    torch.manual_seed(seed)
    return IdentityVQVAE(tiny_config(**overrides))


def motion_batch(batch: int = 3, frames: int = 32, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    data = sample_identity_motion(batch, max(frames, 16), num_identities=3, seed=seed)
    return torch.from_numpy(data.motion[:, :frames]), torch.from_numpy(data.identity)


def test_config_defaults_are_the_papers():
    config = IdentityVQVAEConfig()
    assert (config.motion_dim, config.identity_dim, config.codebook_size, config.codebook_dim) == (
        56,
        100,
        256,
        512,
    )
    assert (config.downsample_rate, config.num_stages, config.hidden_size) == (8, 3, 512)
    assert (config.num_residual_layers, config.dilation_growth_rate) == (3, 3)
    assert (config.encoder_norm, config.decoder_norm) == ("instance", "adain")
    assert (config.ema_decay, config.commit_weight, config.velocity_weight) == (0.99, 0.02, 0.5)
    assert config.model_type == "mmlistener_vqvae"


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"encoder_norm": "adain"}, "encoder_norm"),
        ({"decoder_norm": "batch"}, "decoder_norm"),
        ({"downsample_rate": 6}, "power of 2"),
        ({"codebook_size": 0}, "codebook_size"),
        ({"ema_decay": 1.0}, "ema_decay"),
        ({"activation": "tanh"}, "activation"),
        ({"encoder_norm": "identity", "encoder_input_norm": "instance"}, "encoder_input_norm must be 'none'"),
    ],
)
def test_config_rejects_bad_values(overrides, message):
    with pytest.raises(ValueError, match=message):
        IdentityVQVAEConfig(**overrides)


@pytest.mark.parametrize("decoder_norm", DECODER_NORMS)
@pytest.mark.parametrize("encoder_norm", ENCODER_NORMS)
def test_shapes_of_every_norm_variant(encoder_norm, decoder_norm):
    model = tiny_model(encoder_norm=encoder_norm, decoder_norm=decoder_norm).train()
    kinds = {part: {m.kind for m in getattr(model, part).modules() if isinstance(m, MotionNorm)} for part in
             ("encoder", "decoder")}
    assert kinds == {"encoder": {encoder_norm, "none"}, "decoder": {decoder_norm}}  # "none": the input norm
    motion, beta = motion_batch(frames=21)  # not a multiple of 8: padded to 24, trimmed back
    out = model(motion, identity=beta)
    assert out.reconstruction.shape == (3, 21, 56)
    assert out.codes.shape == (3, 3) and out.codes.dtype == torch.long
    for name in ("loss", "reconstruction_loss", "commit_loss", "velocity_loss", "perplexity"):
        assert getattr(out, name).shape == () and torch.isfinite(getattr(out, name)), name
    out.loss.backward()
    assert all(p.grad is not None for p in model.encoder.parameters()), (
        "straight-through must reach the encoder"
    )
    decoded = model.eval().decode(out.codes, identity=beta).motion
    assert decoded.shape == (3, 24, 56)


# every norm from 9 frames (2 latent steps) on; the encoders without instance norm from one frame on
ENCODABLE = [(norm, frames) for norm in ENCODER_NORMS for frames in (9, 13, 40)]
ENCODABLE += [(norm, frames) for norm in ("none", "layer", "identity") for frames in (1, 8)]


@pytest.mark.parametrize("encoder_norm, frames", ENCODABLE)
def test_decode_of_encode_has_codes_times_rate_frames(encoder_norm, frames):
    model = tiny_model(encoder_norm=encoder_norm, decoder_norm="adaln").eval()  # adaln decodes a single code
    motion, beta = motion_batch(batch=2, frames=frames)
    encoded = model.encode(motion, identity=beta)  # read by the identity norm only
    codes = encoded.codes
    assert not torch.allclose(encoded.latents[0], encoded.latents[1])  # two sequences, two latents
    assert codes.shape == (2, -(-frames // 8))
    assert model.decode(codes, identity=beta).motion.shape == (2, codes.shape[1] * 8, 56)
    assert model(motion, identity=beta).reconstruction.shape == (2, frames, 56)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("frames", [1, 2, 8])
def test_instance_norm_encoder_refuses_a_single_latent_step(frames, causal):
    """Instance norm over one time step maps every input to its bias: such codes would ignore the motion."""
    model = tiny_model(causal_encoder=causal).eval()
    motion, beta = motion_batch(batch=2, frames=frames)
    message = (
        f"motion has {frames} frames: the encoder's instance norm normalises each channel over time, so it needs "
        "at least 2 latent steps, i.e. more than downsample_rate=8 frames"
    )
    assert model.config.min_frames == 9
    with pytest.raises(ValueError, match=message):
        model.encode(motion)
    with pytest.raises(ValueError, match=message):
        model(motion, identity=beta)


def test_input_instance_norm_alone_refuses_a_single_frame():
    model = tiny_model(encoder_norm="layer", encoder_input_norm="instance").eval()
    motion, _ = motion_batch(batch=2, frames=2)
    assert model.config.min_frames == 2 and model.encode(motion).codes.shape == (2, 1)
    with pytest.raises(ValueError, match="motion has 1 frame: the encoder's input instance norm .* at least 2 frames"):
        model.encode(motion[:, :1])


def codes_of_random_motion(model, frames: int) -> torch.Tensor:
    """Codes `(16, ceil(frames / 8))` of 16 random motions, after one training pass has spread the codebook
    over their latents."""
    motion = torch.randn(16, frames, 56, generator=torch.Generator().manual_seed(3))
    model.train()(motion, identity=torch.zeros(16, 100))
    return model.eval().encode(motion).codes


@pytest.mark.parametrize("frames", [9, 16, 24])
def test_two_latent_steps_give_codes_that_depend_on_the_motion(frames):
    codes = codes_of_random_motion(tiny_model(), frames)
    assert all(len(set(step.tolist())) > 1 for step in codes.T)  # every step: several codes over 16 motions


@pytest.mark.parametrize("frames", [9, 16, 24])
def test_causal_encoder_gives_a_fixed_first_code_and_motion_codes_after_it(frames):
    """Cumulative statistics at step 0 are those of one step: the first code is a start code, the same for
    every input; the codes from step 1 on carry the motion."""
    codes = codes_of_random_motion(tiny_model(causal_encoder=True), frames)
    assert len(set(codes[:, 0].tolist())) == 1
    assert all(len(set(step.tolist())) > 1 for step in codes[:, 1:].T)


@pytest.mark.parametrize("decoder_norm", DECODER_NORMS)
def test_a_single_code_is_refused_by_a_decoder_normalising_over_time(decoder_norm):
    model = tiny_model(decoder_norm=decoder_norm).eval()
    beta = torch.randn(1, 100)
    two = [model.decode(torch.tensor([[1, code]]), identity=beta).motion for code in (2, 5)]
    assert not torch.allclose(two[0], two[1])  # two codes: the second one is heard
    if decoder_norm in ("instance", "adain"):
        assert model.config.min_codes == 2
        with pytest.raises(ValueError, match=f"codes has 1 code per row: the decoder's {decoder_norm} norm"):
            model.decode(torch.tensor([[2]]), identity=beta)
    else:
        one = [model.decode(torch.tensor([[code]]), identity=beta).motion for code in (2, 5)]
        assert model.config.min_codes == 1 and not torch.allclose(one[0], one[1])


def test_tuple_output():
    model = tiny_model().eval()
    motion, beta = motion_batch()
    loss, reconstruction, codes, *_ = model(motion, identity=beta, return_dict=False)
    assert reconstruction.shape == motion.shape and codes.shape == (3, 4) and loss.shape == ()


@pytest.mark.parametrize("decoder_norm", ["adain", "adaln"])
def test_swapping_identity_changes_decoded_motion_not_codes(decoder_norm):
    model = tiny_model(decoder_norm=decoder_norm).eval()
    motion, beta = motion_batch()
    other = torch.randn_like(beta)
    first, second = model(motion, identity=beta), model(motion, identity=other)
    decoded, swapped = (
        model.decode(first.codes, identity=beta).motion,
        model.decode(first.codes, identity=other).motion,
    )
    assert (decoded - swapped).abs().amax(dim=(1, 2)).min() > 1e-4
    # forward decodes its codes in the style of the identity it is given
    torch.testing.assert_close(first.reconstruction, decoded, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(second.reconstruction, swapped, atol=1e-4, rtol=1e-4)
    # each sequence is styled by its own identity only: changing the first leaves the others alone
    mixed = model.decode(first.codes, identity=torch.cat([other[:1], beta[1:]])).motion
    torch.testing.assert_close(mixed[0], swapped[0])
    torch.testing.assert_close(mixed[1:], decoded[1:])


def test_non_adaptive_decoder_ignores_identity():
    model = tiny_model(decoder_norm="instance").eval()
    motion, beta = motion_batch()
    codes = model.encode(motion).codes
    assert torch.equal(model.decode(codes).motion, model.decode(codes, identity=beta).motion)


def test_raw_motion_in_raw_motion_out():
    """Statistics inside the model: raw input with (mean, std) equals normalised input with (0, 1), rescaled."""
    motion, beta = motion_batch()
    mean, std = torch.linspace(-1, 1, 56), torch.linspace(0.5, 2, 56)
    plain = tiny_model().eval()
    scaled = tiny_model().eval()
    scaled.set_motion_statistics(mean, std)
    out = scaled(motion, identity=beta)
    reference = plain((motion - mean) / std, identity=beta)
    assert torch.equal(out.codes, reference.codes)
    torch.testing.assert_close(out.reconstruction, reference.reconstruction * std + mean)
    torch.testing.assert_close(out.reconstruction_loss, reference.reconstruction_loss)
    torch.testing.assert_close(
        scaled.decode(out.codes, identity=beta).motion,
        plain.decode(out.codes, identity=beta).motion * std + mean,
    )


def test_set_motion_statistics_rejects_bad_values():
    model = tiny_model()
    with pytest.raises(ValueError, match="56 values"):
        model.set_motion_statistics(torch.zeros(50), torch.ones(50))
    with pytest.raises(ValueError, match="positive"):
        model.set_motion_statistics(torch.zeros(56), torch.zeros(56))
    with pytest.raises(ValueError, match="NaN"):
        model.set_motion_statistics(torch.full((56,), float("nan")), torch.ones(56))


def test_bad_inputs_raise_named_errors():
    model = tiny_model().eval()
    motion, beta = motion_batch()
    with pytest.raises(ValueError, match=r"motion\[None\]"):
        model(motion[0], identity=beta[:1])
    with pytest.raises(ValueError, match="batch, frames, 56"):
        model(motion[..., :50], identity=beta)
    with pytest.raises(ValueError, match="needs the listener identity"):
        model(motion)
    with pytest.raises(ValueError, match="needs the listener identity"):
        model.decode(torch.zeros(3, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="identity must have shape"):
        model(motion, identity=beta[:, :50])
    broken = motion.clone()
    broken[0, 3, 7] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        model(broken, identity=beta)
    with pytest.raises(ValueError, match="NaN"):
        model.encode(broken)
    with pytest.raises(ValueError, match=r"\[0, 16\)"):
        model.decode(torch.full((3, 4), 16), identity=beta)
    reading = tiny_model(encoder_norm="identity").eval()
    with pytest.raises(ValueError, match="encoder_norm='identity' needs the listener identity"):
        reading.encode(motion)
    with pytest.raises(ValueError, match="encoder_norm='identity' and decoder_norm='adain' need the listener identity"):
        reading(motion)
    with pytest.raises(ValueError, match="identity must have shape"):
        reading.encode(motion, identity=beta[:1])
    with pytest.raises(ValueError, match="integers"):
        model.decode(torch.zeros(3, 4), identity=beta)


def test_codebook_initialised_from_first_training_batch():
    model = tiny_model().train()
    motion, beta = motion_batch(batch=8, frames=64)  # 64 latents for 16 codes
    assert not model.quantizer.initialized
    latents = model.encode(motion).latents.reshape(-1, 16)
    model(motion, identity=beta)
    assert model.quantizer.initialized
    # every code is the EMA mean of latents of that batch: inside their bounding box
    codebook = model.codebook_vectors()
    assert (codebook >= latents.min(0).values - 1e-5).all() and (
        codebook <= latents.max(0).values + 1e-5
    ).all()


def test_eval_mode_encode_and_decode_leave_the_codebook_alone():
    model = tiny_model().train()
    motion, beta = motion_batch()
    model(motion, identity=beta)
    state = {name: buffer.clone() for name, buffer in model.quantizer.named_buffers()}
    model.eval()
    model(motion, identity=beta)
    model.decode(model.encode(motion).codes, identity=beta)
    for name, buffer in model.quantizer.named_buffers():
        assert torch.equal(buffer, state[name]), name


def test_dead_codes_are_revived_from_encoder_outputs():
    model = tiny_model().train()
    motion, beta = motion_batch(batch=8, frames=64)
    model(motion, identity=beta)
    quantizer = model.quantizer
    with torch.no_grad():
        quantizer.codebook[3] = 1e3  # far from every latent: never chosen again
        quantizer.ema_counts[3] = 0.0
    model(motion, identity=beta)
    latents = model.encode(motion).latents.reshape(-1, 16)
    distance = (latents - quantizer.codebook[3]).norm(dim=-1).min()
    assert distance < 0.1 * latents.norm(dim=-1).mean()
    assert quantizer.ema_counts[3] >= model.config.dead_code_threshold


def test_quantizer_codes_commitment_and_perplexity():
    quantizer = EMAVectorQuantizer(tiny_config(codebook_size=4, codebook_dim=4))
    with torch.no_grad():
        quantizer.codebook.copy_(torch.eye(4) * 10)
    latents = torch.eye(4)[[0, 1, 2, 2]][None] * 10  # codes 0, 1, 2, 2
    out = quantizer(latents + 0.5)
    assert out.codes.tolist() == [[0, 1, 2, 2]]
    torch.testing.assert_close(out.commit_loss, torch.tensor(0.25))
    probabilities = torch.tensor([0.25, 0.25, 0.5])
    torch.testing.assert_close(out.perplexity, (-(probabilities * probabilities.log()).sum()).exp())
    torch.testing.assert_close(out.quantized, latents)


def test_save_load_keeps_ema_state_and_outputs(tmp_path):
    model = tiny_model().train()
    motion, beta = motion_batch(batch=4, frames=48)
    model.set_motion_statistics(motion.reshape(-1, 56).mean(0), motion.reshape(-1, 56).std(0))
    for _ in range(2):
        model(motion, identity=beta)
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").exists() and not list(tmp_path.glob("*.bin"))
    loaded = IdentityVQVAE.from_pretrained(tmp_path)
    for (name, buffer), (_, other) in zip(model.named_buffers(), loaded.named_buffers()):
        assert torch.equal(buffer, other), name
    assert bool(loaded.quantizer.initialized)
    model.eval(), loaded.eval()
    first, second = model(motion, identity=beta), loaded(motion, identity=beta)
    assert torch.equal(first.reconstruction, second.reconstruction) and torch.equal(first.codes, second.codes)
    # buffers follow dtype / device moves
    assert loaded.double().quantizer.ema_sums.dtype == torch.float64


def test_auto_classes():
    config = AutoConfig.for_model("mmlistener_vqvae", hidden_size=16, codebook_size=16, codebook_dim=16)
    assert isinstance(AutoModel.from_config(config), IdentityVQVAE)


def test_training_halves_reconstruction_loss():
    torch.manual_seed(0)
    data = sample_identity_motion(64, 32, num_identities=4, seed=0)
    motion, beta = torch.from_numpy(data.motion), torch.from_numpy(data.identity)
    model = IdentityVQVAE(
        tiny_config(hidden_size=32, codebook_size=32, codebook_dim=32, num_residual_layers=1)
    )
    model.set_motion_statistics(motion.reshape(-1, 56).mean(0), motion.reshape(-1, 56).std(0))
    with torch.no_grad():
        before = model.eval()(motion, identity=beta).reconstruction_loss
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.train()
    for _ in range(300):
        index = torch.randint(0, 64, (16,))
        model(motion[index], identity=beta[index]).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    with torch.no_grad():
        after = model.eval()(motion, identity=beta)
    assert after.reconstruction_loss < 0.5 * before, (float(before), float(after.reconstruction_loss))
    assert after.perplexity > 4


def test_saved_directory_loads_as_remote_code_without_mmlistener(tmp_path, run_python):
    model = tiny_model().train()
    motion, beta = motion_batch()
    model(motion, identity=beta)
    model.set_motion_statistics(torch.full((56,), 0.5), torch.full((56,), 2.0))
    model.eval().save_pretrained(tmp_path / "vqvae")
    torch.save(
        {"motion": motion, "beta": beta, "expected": model(motion, identity=beta).reconstruction},
        tmp_path / "io.pt",
    )
    assert json.loads((tmp_path / "vqvae" / "config.json").read_text())["auto_map"]["AutoModel"] == (
        "modeling_identity_vqvae.IdentityVQVAE"
    )
    result = run_python(
        """
        import sys

        class NoMmlistener:  # the package is installed in this venv: make sure the child cannot import it
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] == "mmlistener":
                    raise ImportError("mmlistener is blocked in this process")

        sys.meta_path.insert(0, NoMmlistener())
        import torch
        from transformers import AutoModel

        torch.set_num_threads(1)  # as in the parent (see single_thread), so sums run in the same order
        model = AutoModel.from_pretrained("vqvae", trust_remote_code=True).eval()
        data = torch.load("io.pt", weights_only=True)
        out = model(data["motion"], identity=data["beta"])
        assert torch.equal(out.reconstruction, data["expected"])
        assert "mmlistener" not in sys.modules
        print(type(model).__module__)
        """,
        cwd=tmp_path,
    )
    assert result.stdout.strip().endswith("modeling_identity_vqvae")


@pytest.mark.parametrize("decoder_norm", ["adain", "instance", "layer"])
def test_causal_decoder_frames_depend_on_earlier_codes_only(decoder_norm):
    """With `causal_decoder` a prefix of the codes decodes to the prefix of the frames (what a live listener
    needs); the paper's decoder changes earlier frames when later codes change."""
    beta = torch.randn(1, 100)
    codes = torch.randint(16, (1, 6), generator=torch.Generator().manual_seed(0))
    changed = codes.clone()
    changed[0, 4:] = (changed[0, 4:] + 7) % 16
    for causal in (True, False):
        model = tiny_model(decoder_norm=decoder_norm, causal_decoder=causal).eval()
        whole, later = (model.decode(c, identity=beta).motion for c in (codes, changed))
        prefix = model.decode(codes[:, :3], identity=beta).motion
        assert not torch.allclose(whole[:, 32:], later[:, 32:])  # the later codes are heard
        assert torch.allclose(whole[:, :32], later[:, :32], atol=1e-4) == causal  # cumsum rounding: 1e-5
        assert torch.allclose(whole[:, :24], prefix, atol=1e-4) == causal
