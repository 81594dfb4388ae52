"""Speech front ends on tiny random models: audio preparation, SpeechTokenizer codes, Whisper words, raw path."""

import json
import sys

import numpy as np
import pytest
import soundfile
import torch
from tiny_speech import tiny_codec, tiny_speechtokenizer_config

from mmlistener import EmotionRecognizer, EmotionRecognizerConfig, ListenerProcessor
from mmlistener.processing import (
    FasterWhisperASR,
    SpeechTokenizerCodes,
    WhisperASR,
    gpt2_tokenizer_from_tiktoken,
    import_speechtokenizer_model,
    load_asr,
    load_audio,
    prepare_audio,
)
from mmlistener.processing.tokenizer import GPT2_PATTERN, whisper_gpt2_ranks_path


def sine(frequency, seconds, sampling_rate, amplitude=0.5):
    t = np.arange(int(seconds * sampling_rate)) / sampling_rate
    return (amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def dominant_frequency(signal, sampling_rate):
    spectrum = np.abs(np.fft.rfft(signal * np.hanning(len(signal))))
    return np.fft.rfftfreq(len(signal), 1 / sampling_rate)[spectrum.argmax()]


@pytest.fixture(scope="module")
def codec():
    return tiny_codec()


@pytest.fixture(scope="module")
def asr():
    """A random tiny Whisper whose decoder always prefers the token " hello"."""
    from whisper.model import ModelDimensions, Whisper
    from whisper.tokenizer import get_tokenizer

    dims = ModelDimensions(
        n_mels=80, n_audio_ctx=1500, n_audio_state=32, n_audio_head=2, n_audio_layer=1,
        n_vocab=51864, n_text_ctx=448, n_text_state=32, n_text_head=2, n_text_layer=1,
    )  # fmt: skip
    torch.manual_seed(0)
    model = Whisper(dims).eval()
    hello = get_tokenizer(multilingual=False).encode(" hello")[0]
    with torch.no_grad():
        model.decoder.positional_embedding.normal_(std=0.02)  # openai-whisper leaves it uninitialised
        model.decoder.ln.weight.zero_()
        model.decoder.ln.bias.normal_()
        model.decoder.token_embedding.weight[hello] = 10 * model.decoder.ln.bias
    return WhisperASR(model, language="en", temperature=0.0, without_timestamps=True, sample_len=3)


def test_audio_stereo_any_rate_to_16k_mono():
    left, right = sine(440, 1.0, 44100), sine(440, 1.0, 44100, amplitude=0.1)
    stereo = np.stack([left, right], axis=1)  # (samples, channels), soundfile's layout
    mono = prepare_audio(stereo, 44100)
    assert mono.dtype == np.float32 and mono.shape == (16000,)
    assert abs(dominant_frequency(mono, 16000) - 440) < 2
    assert abs(np.abs(mono[1000:-1000]).max() - 0.3) < 0.01  # the channel mean
    np.testing.assert_allclose(prepare_audio(stereo.T, 44100), mono)  # (channels, samples) too
    np.testing.assert_allclose(prepare_audio(torch.from_numpy(stereo.T), 44100), mono)
    assert prepare_audio(sine(440, 0.5, 16000), 16000).shape == (8000,)  # no resampling at 16 kHz


def test_audio_bad_inputs_are_named(tmp_path):
    with pytest.raises(ValueError, match="sampling_rate is required"):
        prepare_audio(sine(440, 0.1, 16000), None)
    with pytest.raises(ValueError, match="positive integer"):
        prepare_audio(sine(440, 0.1, 16000), 22050.5)
    with pytest.raises(ValueError, match="channel axis"):
        prepare_audio(np.zeros((100, 200), dtype=np.float32), 16000)
    noisy = sine(440, 0.1, 16000)
    noisy[10] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        prepare_audio(noisy, 16000)
    with pytest.raises(FileNotFoundError, match="no audio file"):
        load_audio(str(tmp_path / "missing.wav"))


def test_load_audio_reads_and_resamples_a_file(tmp_path):
    path = tmp_path / "speech.wav"
    soundfile.write(path, np.stack([sine(300, 2.0, 22050)] * 2, axis=1), 22050)
    audio = load_audio(str(path))
    assert audio.shape == (32000,) and abs(dominant_frequency(audio, 16000) - 300) < 2


def test_speechtokenizer_model_imports_without_the_package_init():
    module = import_speechtokenizer_model()
    assert module.__name__ == "speechtokenizer.model"
    assert "speechtokenizer.trainer" not in sys.modules and "torchaudio" not in sys.modules


def test_acoustic_codes_are_the_second_quantizer(codec):
    audio = np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.1
    content, acoustic = codec.encode(audio)
    assert len(content) == len(acoustic) == 50  # 50 Hz
    model = codec.model
    with torch.no_grad():
        wav = torch.from_numpy(audio)[None, None]
        latent = model.encoder(wav)
        first, second = model.quantizer.vq.layers[:2]
        level1 = first.encode(latent)
        level2 = second.encode(latent - first.decode(level1))  # level 2 quantises the residual of level 1
        wrong = model.encode(wav, n_q=2, st=1)[0, 0]  # the trap: level 2's codebook on the raw latent
    assert content == level1[0].tolist()
    assert acoustic == level2[0].tolist()
    assert acoustic != wrong.tolist()
    assert len(set(acoustic)) > 1


def test_speechtokenizer_from_checkpoint(tmp_path, codec):
    config_path, checkpoint_path = tmp_path / "config.json", tmp_path / "SpeechTokenizer.pt"
    config_path.write_text(json.dumps(tiny_speechtokenizer_config()))
    torch.save(codec.model.state_dict(), checkpoint_path)
    loaded = SpeechTokenizerCodes.from_checkpoint(str(config_path), str(checkpoint_path))
    audio = np.random.default_rng(1).standard_normal(8000).astype(np.float32) * 0.1
    assert loaded.encode(audio) == codec.encode(audio)
    with pytest.raises(ValueError, match="no SpeechTokenizer file"):
        SpeechTokenizerCodes.from_checkpoint(str(config_path), str(tmp_path / "missing.pt"))
    with pytest.raises(ValueError, match="mono"):
        codec.encode(np.zeros((2, 100), dtype=np.float32))


def test_whisper_words_with_timestamps(asr):
    """34 s of audio are two Whisper windows (0-30 s, 30-34 s): the second window's words start after 30 s."""
    import whisper

    audio = sine(200, 34.0, 16000, amplitude=0.1)
    words = asr.transcribe(audio)
    assert words and {word["text"] for word in words} == {"hello"}
    starts, ends = [w["start"] for w in words], [w["end"] for w in words]
    assert all(0 <= s <= e <= 34.0 + 1e-6 for s, e in zip(starts, ends))
    assert starts == sorted(starts)
    assert min(starts) < 30.0 <= max(starts) and max(ends) > 33.0  # both windows, each at its own offset
    own = whisper.transcribe(
        asr.model, audio, language="en", word_timestamps=True, fp16=False, condition_on_previous_text=False,
        temperature=0.0, without_timestamps=True, sample_len=3,
    )  # fmt: skip
    expected = [(w["word"].strip(), w["start"], w["end"]) for segment in own["segments"] for w in segment["words"]]
    assert [(w["text"], w["start"], w["end"]) for w in words] == expected  # the backend's own times, unchanged


def test_whisper_from_a_local_checkpoint(tmp_path, asr):
    from dataclasses import asdict

    path = tmp_path / "tiny-random.pt"
    torch.save({"dims": asdict(asr.model.dims), "model_state_dict": asr.model.state_dict()}, path)
    loaded = load_asr("openai-whisper", str(path), language="en")
    assert isinstance(loaded, WhisperASR) and loaded.language == "en"
    for name, value in asr.model.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[name], value), name
    with pytest.raises(ValueError, match="no Whisper checkpoint"):
        load_asr("openai-whisper", str(tmp_path / "missing.pt"))


@pytest.fixture(scope="module")
def faster_whisper_dir(tmp_path_factory):
    """A tiny random CTranslate2 Whisper (English vocabulary) whose decoder always prefers " hello"."""
    ctranslate2 = pytest.importorskip("ctranslate2", reason="faster-whisper is an optional backend")
    import whisper.tokenizer
    from transformers import WhisperConfig, WhisperForConditionalGeneration
    from transformers.convert_slow_tokenizer import TikTokenConverter

    specials = ["<|endoftext|>", "<|startoftranscript|>"]
    specials += [f"<|{code}|>" for code in list(whisper.tokenizer.LANGUAGES)[:99]]
    specials += ["<|translate|>", "<|transcribe|>", "<|startoflm|>", "<|startofprev|>", "<|nospeech|>"]
    specials += ["<|notimestamps|>", *[f"<|{i * 0.02:.2f}|>" for i in range(1501)]]
    text_tokenizer = TikTokenConverter(
        vocab_file=whisper_gpt2_ranks_path(), pattern=GPT2_PATTERN, extra_special_tokens=specials
    ).converted()
    hello = text_tokenizer.encode(" hello", add_special_tokens=False).ids[0]
    config = WhisperConfig(
        vocab_size=51864, num_mel_bins=80, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
        decoder_attention_heads=2, d_model=32, encoder_ffn_dim=64, decoder_ffn_dim=64,
        decoder_start_token_id=50257, eos_token_id=50256, pad_token_id=50256, bos_token_id=50256,
    )  # fmt: skip
    torch.manual_seed(0)
    model = WhisperForConditionalGeneration(config).eval()
    with torch.no_grad():
        norm = model.model.decoder.layer_norm
        norm.weight.zero_()
        norm.bias.normal_()
        model.model.decoder.embed_tokens.weight[hello] = 10 * norm.bias
    root = tmp_path_factory.mktemp("faster_whisper")
    model.save_pretrained(root / "hf")
    ctranslate2.converters.TransformersConverter(str(root / "hf")).convert(str(root / "ct2"))
    text_tokenizer.save(str(root / "ct2" / "tokenizer.json"))
    vocabulary = [text_tokenizer.id_to_token(i) for i in range(text_tokenizer.get_vocab_size())]
    (root / "ct2" / "vocabulary.json").write_text(json.dumps(vocabulary))
    return str(root / "ct2")


def test_faster_whisper_backend_gives_the_same_word_format(faster_whisper_dir):
    asr = load_asr(
        "faster-whisper", faster_whisper_dir, compute_type="float32", temperature=0.0,
        without_timestamps=True, max_new_tokens=3,
    )  # fmt: skip
    assert isinstance(asr, FasterWhisperASR)
    words = asr.transcribe(sine(200, 4.0, 16000, amplitude=0.1))
    assert words and {word["text"] for word in words} == {"hello"}
    assert all(set(word) == {"text", "start", "end"} for word in words)
    assert all(0 <= word["start"] <= word["end"] <= 4.0 + 1e-6 for word in words)
    with pytest.raises(ValueError, match="unknown ASR backend"):
        load_asr("kaldi", faster_whisper_dir)


def test_raw_path_equals_the_feature_path(asr, codec):
    torch.manual_seed(0)
    recognizer = EmotionRecognizer(EmotionRecognizerConfig(hidden_size=16)).eval()
    processor = ListenerProcessor(
        gpt2_tokenizer_from_tiktoken(), asr=asr, acoustic_codec=codec, emotion_recognizer=recognizer
    )
    rng = np.random.default_rng(0)
    motion, shape = rng.standard_normal((60, 56)), rng.standard_normal(100)  # 2 s at 30 fps
    stereo = np.stack([sine(220, 2.5, 44100), sine(330, 2.5, 44100)], axis=1)  # longer than the motion
    raw = processor(audio=stereo, sampling_rate=44100, speaker_motion=motion, speaker_shape=shape)

    audio = prepare_audio(stereo, 44100)[:32000]  # the clip's 2 s at 16 kHz
    _, acoustic = codec.encode(audio)
    features = processor(
        words=asr.transcribe(audio), acoustic_codes=acoustic, speaker_motion=motion, speaker_shape=shape
    )
    assert raw["input_ids"] == features["input_ids"]
    assert "hello" in processor.decode(raw["input_ids"][0])

    no_words = ListenerProcessor(processor.tokenizer, modalities=["acoustic"], acoustic_codec=codec)
    slightly_short = stereo[: int(44100 * 1.9)]  # 0.1 s short: padded with silence
    padded = no_words(audio=slightly_short, sampling_rate=44100, num_frames=60)
    _, expected = codec.encode(np.pad(prepare_audio(slightly_short, 44100), (0, 1600)))
    acoustic_ids = [t - processor.layout.acoustic_offset for t in padded["input_ids"][0]]
    assert [code for code in acoustic_ids if 0 <= code < 1024] == expected
    audio_only = no_words(audio=stereo, sampling_rate=44100)  # 2.5 s of audio alone: 75 frames, 10 groups
    assert sum(audio_only["listener_slot_mask"][0]) == 10
    with pytest.raises(ValueError, match="audio lasts 1.00 s but the motion lasts 2.00 s"):
        processor(audio=stereo, sampling_rate=88200 * 1.25, speaker_motion=motion, speaker_shape=shape)
    with pytest.raises(ValueError, match="set asr_checkpoint"):
        ListenerProcessor(processor.tokenizer, acoustic_codec=codec)(
            audio=stereo, sampling_rate=44100, num_frames=60, emotion_ids=[0] * 8
        )
