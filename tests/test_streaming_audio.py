"""ListenerStream.push_audio: audio chunks in (any size, any rate), words by local agreement, codes by a sliding
window, listener frames out per group; the same listener however the audio is chunked; the offline codes of the
same features."""

import numpy as np
import pytest
import soxr
from test_incremental_asr import SCRIPT, ScriptedRecognizer, clock_audio
from test_streaming import model, processor_of, vqvae  # noqa: F401 (fixtures)
from tiny_speech import tiny_speechtokenizer_config

from mmlistener.processing import SpeechTokenizerCodes
from mmlistener.processing.incremental_asr import LocalAgreementASR
from mmlistener.processing.streaming_codes import SlidingWindowCodes, sliding_window_encode
from mmlistener.streaming import ListenerStream

RATE, FPS, GROUP = 16_000, 30, 8
GROUP_SAMPLES = 12_800 // 3  # not whole: 3 groups are 12,800 samples (40 codes)
CODE_SETTINGS = {"window_seconds": 1.0, "right_context_seconds": 0.1, "hop_seconds": 0.1}


@pytest.fixture(scope="module")
def codec():
    import torch

    torch.manual_seed(0)
    codec = SpeechTokenizerCodes.from_config(tiny_speechtokenizer_config(n_q=2, codebook_size=8))
    with torch.no_grad():  # a random model's k-means codebooks start at zero: draw each level's from its inputs
        noise = np.random.default_rng(1).normal(scale=0.3, size=RATE).astype(np.float32)
        audio = torch.from_numpy(np.concatenate([speaker_audio(1.0), noise]))
        residual = codec.model.encoder(audio[None, None])[0].T  # (frames, dimension)
        for layer in codec.model.quantizer.vq.layers:
            book = layer._codebook
            book.embed.copy_(residual[torch.randperm(len(residual))[: len(book.embed)]])
            book.inited.fill_(1)
            residual = residual - book.embed[torch.cdist(residual, book.embed).argmin(1)]
    return codec


def make_stream(model, vqvae, codec, modalities=("words", "acoustic", "emotion")):  # noqa: F811
    processor = processor_of(model, modalities=modalities)
    asr = LocalAgreementASR(ScriptedRecognizer(), update_seconds=0.5, vad=False) if "words" in modalities else None
    return ListenerStream(model, processor, vqvae, np.ones(100), asr=asr,
                          acoustic_codes=SlidingWindowCodes(codec, **CODE_SETTINGS))  # fmt: skip


def speaker_audio(seconds: float) -> np.ndarray:
    """The scripted recogniser's clock audio (its samples tell their time) plus a voiced tone for the codec."""
    t = np.arange(round(seconds * RATE)) / RATE
    return clock_audio(seconds) + (0.2 * np.sin(2 * np.pi * 180 * t) * (1 + np.sin(2 * np.pi * 3 * t))).astype(
        np.float32
    )


def stream_audio(stream, audio, chunk: int, rate: int = RATE) -> list[np.ndarray]:
    outputs = [stream.push_audio(audio[first : first + chunk], rate) for first in range(0, len(audio), chunk)]
    return [*outputs, stream.finish()]


def test_any_chunking_gives_the_same_listener(model, vqvae, codec):  # noqa: F811
    audio = speaker_audio(2.4)
    results = []
    for chunk in (320, 1_111, GROUP_SAMPLES, len(audio)):
        stream = make_stream(model, vqvae, codec, modalities=("acoustic", "emotion"))
        frames = np.concatenate(stream_audio(stream, audio, chunk))
        results.append((stream.codes, frames))
    for codes, frames in results[1:]:
        assert codes == results[0][0] and np.array_equal(frames, results[0][1])
    assert len(set(results[0][0])) > 1


def test_frames_come_out_group_by_group_as_the_audio_arrives(model, vqvae, codec):  # noqa: F811
    stream = make_stream(model, vqvae, codec, modalities=("acoustic", "emotion"))
    outputs = stream_audio(stream, speaker_audio(2.4), GROUP_SAMPLES)  # one group's audio per push
    sizes = [len(frames) for frames in outputs]
    assert sum(sizes) == 9 * GROUP  # 2.4 s = 72 frames = 9 groups
    assert max(sizes) <= 2 * GROUP and sizes.count(0) <= 3  # no group waits for the end of the audio


def test_streamed_audio_gives_the_offline_codes_of_its_features(model, vqvae, codec):  # noqa: F811
    audio = speaker_audio(2.4)  # 9 whole groups; the last code ends on the last frame
    stream = make_stream(model, vqvae, codec, modalities=("acoustic", "emotion"))
    stream_audio(stream, audio, 1_000)
    _, acoustic = sliding_window_encode(codec, audio, **CODE_SETTINGS)
    batch = stream.processor(acoustic_codes=acoustic, emotion_ids=[0] * 9, num_frames=72, return_tensors="pt")
    assert stream.codes == model.generate(**batch)[0].tolist()


def test_the_listener_hears_the_audio(model, vqvae, codec):  # noqa: F811
    noise = np.random.default_rng(0).normal(scale=0.3, size=round(6.4 * RATE)).astype(np.float32)
    codes = []
    for audio in (speaker_audio(6.4), noise):
        stream = make_stream(model, vqvae, codec, modalities=("acoustic", "emotion"))
        stream_audio(stream, audio, 2_000)
        codes.append(stream.codes)
    assert len(codes[0]) == 24 and codes[0] != codes[1]


def test_confirmed_words_enter_the_group_where_they_were_confirmed(model, vqvae, codec):  # noqa: F811
    stream = make_stream(model, vqvae, codec)
    confirmed, placed = [], []
    push, close_group = stream._audio_front_ends["asr"].push, stream.inputs.close_group

    def recording_push(audio):
        words = push(audio)
        confirmed.extend(words)
        return words

    def recording_close(final=False):
        texts, codes, emotion = close_group(final)
        placed.append(texts)
        return texts, codes, emotion

    stream._audio_front_ends["asr"].push, stream.inputs.close_group = recording_push, recording_close
    stream_audio(stream, clock_audio(4.2), 800)  # the recogniser reads the time from these samples
    expected = [text for text, _, end in SCRIPT if end <= 4.2 - 0.3]  # the last word is still garbled at the end
    assert [text for texts in placed for text in texts][: len(expected)] == expected
    group_of = {text: g for g, texts in enumerate(placed) for text in texts}
    late = [word for word in confirmed if word["known"] > word["end"] + 0.3]
    assert len(late) >= 5  # words confirmed well after they ended
    for word in late:
        assert group_of[word["text"]] == int(np.ceil(word["known"] * FPS - 1e-6)) // GROUP


def test_audio_at_another_rate_and_in_stereo_is_resampled(model, vqvae, codec):  # noqa: F811
    mono = speaker_audio(2.4)
    stereo_48k = np.repeat(soxr.resample(mono, RATE, 48_000)[:, None], 2, axis=1)
    stream = make_stream(model, vqvae, codec, modalities=("acoustic", "emotion"))
    frames = np.concatenate(stream_audio(stream, stereo_48k, 4_800, rate=48_000))
    assert frames.shape == (72, 56) and len(stream.codes) == 9


def test_bad_audio_is_refused_and_nothing_is_lost(model, vqvae, codec):  # noqa: F811
    stream = make_stream(model, vqvae, codec, modalities=("acoustic", "emotion"))
    stream.push_audio(speaker_audio(0.5), RATE)
    with pytest.raises(ValueError, match="this turn's audio is at 16000 Hz, the chunk says 44100 Hz"):
        stream.push_audio(np.zeros(441, dtype=np.float32), 44_100)
    with pytest.raises(ValueError, match="NaN"):
        stream.push_audio(np.full(320, np.nan, dtype=np.float32), RATE)
    with pytest.raises(ValueError, match="sampling_rate must be a positive integer"):
        stream.push_audio(np.zeros(320, dtype=np.float32), 0)
    stream.push_audio(speaker_audio(2.4)[8_000:], RATE)
    reference = make_stream(model, vqvae, codec, modalities=("acoustic", "emotion"))
    stream.finish(), reference.push_audio(speaker_audio(2.4), RATE), reference.finish()
    assert stream.codes == reference.codes


def test_a_refused_first_chunk_does_not_fix_the_turns_rate(model, vqvae, codec):  # noqa: F811
    stream = make_stream(model, vqvae, codec, modalities=("acoustic", "emotion"))
    with pytest.raises(ValueError, match="NaN"):
        stream.push_audio(np.full(441, np.nan, dtype=np.float32), 44_100)
    stream.push_audio(speaker_audio(2.4), RATE)  # the turn's rate is the first accepted chunk's
    stream.finish()
    assert len(stream.codes) == 9
