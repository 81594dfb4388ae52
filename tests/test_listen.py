"""`mmlistener-listen` end to end on tiny random models: a speaker recording -> listener motion -> MP4."""

import json
import wave
from dataclasses import asdict

import av
import numpy as np
import pytest
import torch
from tiny_speech import tiny_speechtokenizer_config
from transformers import GPT2Config

from mmlistener import (
    IdentityVQVAE,
    IdentityVQVAEConfig,
    ListenerConfig,
    ListenerForCausalLM,
    ListenerProcessor,
)
from mmlistener.cli.listen import listener_identity, parse_and_run
from mmlistener.processing import SpeechTokenizerCodes, gpt2_tokenizer_from_tiktoken


def _write_wav(path, signal: np.ndarray, rate: int) -> str:
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1), handle.setsampwidth(2), handle.setframerate(rate)
        handle.writeframes((np.clip(signal, -1, 1) * 32000).astype("<i2").tobytes())
    return str(path)


def _speech(seconds: float, rate: int) -> np.ndarray:
    """A vowel-like voiced signal: harmonics of a gliding 120-180 Hz pitch under a 4 Hz syllable envelope."""
    t = np.arange(int(seconds * rate)) / rate
    phase = 2 * np.pi * np.cumsum(150 + 30 * np.sin(2 * np.pi * 0.7 * t)) / rate
    voice = sum(np.sin(k * phase) / k for k in range(1, 12))
    return 0.3 * voice * (0.5 + 0.5 * np.sin(2 * np.pi * 4 * t)) ** 2


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Directories of a tiny LM (+ processor) and VQ-VAE, a tiny Whisper .pt and a tiny SpeechTokenizer."""
    from whisper.model import ModelDimensions, Whisper
    from whisper.tokenizer import get_tokenizer

    root = tmp_path_factory.mktemp("listen_models")
    torch.manual_seed(0)
    tokenizer = gpt2_tokenizer_from_tiktoken()
    backbone = GPT2Config(vocab_size=len(tokenizer), n_layer=1, n_embd=16, n_head=2, n_positions=1024)
    config = ListenerConfig(backbone_config=backbone, num_listener_tokens=16)
    ListenerForCausalLM(config).save_pretrained(root / "lm")
    ListenerProcessor.from_listener_config(tokenizer, config).save_pretrained(root / "lm")
    vqvae = IdentityVQVAEConfig(hidden_size=16, codebook_dim=16, codebook_size=16, num_residual_layers=1)
    IdentityVQVAE(vqvae).save_pretrained(root / "vqvae")

    dims = ModelDimensions(
        n_mels=80, n_audio_ctx=1500, n_audio_state=32, n_audio_head=2, n_audio_layer=1,
        n_vocab=51864, n_text_ctx=448, n_text_state=32, n_text_head=2, n_text_layer=1,
    )  # fmt: skip
    whisper = Whisper(dims)
    end_of_text = get_tokenizer(multilingual=False).eot
    with torch.no_grad():  # a decoder that ends every transcript at once (random ones ramble for seconds)
        whisper.decoder.positional_embedding.normal_(std=0.02)
        whisper.decoder.ln.weight.zero_()
        whisper.decoder.ln.bias.normal_()
        whisper.decoder.token_embedding.weight[end_of_text] = 10 * whisper.decoder.ln.bias
    torch.save({"dims": asdict(dims), "model_state_dict": whisper.state_dict()}, root / "whisper.pt")

    (root / "speechtokenizer").mkdir()
    (root / "speechtokenizer" / "config.json").write_text(json.dumps(tiny_speechtokenizer_config()))
    codec = SpeechTokenizerCodes.from_config(tiny_speechtokenizer_config())
    torch.save(codec.model.state_dict(), root / "speechtokenizer" / "SpeechTokenizer.pt")
    return root


def _flags(models, tmp_path, *extra):
    return ["--model", str(models / "lm"), "--vqvae", str(models / "vqvae"), "--asr_checkpoint",
            str(models / "whisper.pt"), "--size", "32", "--out", str(tmp_path / "listener.mp4"), *extra]  # fmt: skip


def test_listen_end_to_end(models, tmp_path):
    speech = _write_wav(tmp_path / "speaker.wav", _speech(2.0, 22050), 22050)  # resampled, not rejected
    path = parse_and_run([speech, *_flags(models, tmp_path), "--speechtokenizer-checkpoint",
                          str(models / "speechtokenizer"), "--window_seconds", "1",
                          "--motion_out", str(tmp_path / "motion.npy")])  # fmt: skip
    motion = np.load(tmp_path / "motion.npy")
    assert motion.shape == (60, 56) and np.isfinite(motion).all()
    with av.open(str(path)) as container:
        assert container.streams.audio and container.streams.audio[0].rate == 22050
        assert sum(1 for _ in container.decode(video=0)) == 60


def test_missing_speechtokenizer_names_the_way_out(models, tmp_path):
    speech = _write_wav(tmp_path / "speaker.wav", _speech(1.0, 16000), 16000)
    with pytest.raises(ValueError, match="--speechtokenizer_checkpoint.*--without_acoustic"):
        parse_and_run([speech, *_flags(models, tmp_path)])
    assert not (tmp_path / "listener.mp4").exists()
    with pytest.warns(UserWarning, match="without the acoustic tokens"):
        path = parse_and_run([speech, *_flags(models, tmp_path), "--without_acoustic", "true"])
    assert path.is_file()


@pytest.mark.parametrize(
    "signal, error, words",
    [(np.zeros(16000), ValueError, "silent"), (np.zeros(0), ValueError, "empty")],
)
def test_unusable_audio_is_named(models, tmp_path, signal, error, words):
    speech = _write_wav(tmp_path / "speaker.wav", signal, 16000)
    with pytest.raises(error, match=words):
        parse_and_run([speech, *_flags(models, tmp_path), "--without_acoustic", "true"])
    assert not (tmp_path / "listener.mp4").exists()


def test_missing_files_are_named(models, tmp_path):
    speech = _write_wav(tmp_path / "speaker.wav", _speech(1.0, 16000), 16000)
    with pytest.raises(FileNotFoundError, match="no audio file at .*missing.wav"):
        parse_and_run([str(tmp_path / "missing.wav"), *_flags(models, tmp_path)])
    with pytest.raises(FileNotFoundError, match="--model: no listener model at .*nowhere"):
        parse_and_run([speech, *_flags(models, tmp_path), "--model", str(tmp_path / "nowhere")])
    with pytest.raises(ValueError, match="no Whisper checkpoint at .*nothing.pt"):
        parse_and_run([speech, *_flags(models, tmp_path), "--asr_checkpoint", str(tmp_path / "nothing.pt")])


def test_listener_identity_forms(tmp_path):
    np.testing.assert_array_equal(listener_identity("random", 3), listener_identity("random", 3))
    assert not np.array_equal(listener_identity("random", 3), listener_identity("random", 4))
    np.save(tmp_path / "beta.npy", np.arange(100.0))
    np.testing.assert_array_equal(listener_identity(str(tmp_path / "beta.npy"), 0), np.arange(100.0))
    with pytest.raises(FileNotFoundError, match="'random', a beta .npy"):
        listener_identity(str(tmp_path / "no_dataset"), 0)
