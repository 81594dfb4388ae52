"""The live path's edge cases: a refused audio push consumes nothing, `close()` (and `with`) ends the ASR thread,
a late-confirmed word still may not end before the turn, decoding runs on the VQ-VAE's device."""

import copy
import threading

import numpy as np
import pytest
import torch
from test_incremental_asr import ScriptedRecognizer
from test_streaming import FrameEmotion, model, processor_of, vqvae  # noqa: F401 (fixtures)
from test_streaming_audio import CODE_SETTINGS, RATE, codec, speaker_audio  # noqa: F401 (fixture)

from mmlistener.processing.incremental_asr import LocalAgreementASR
from mmlistener.processing.streaming_codes import SlidingWindowCodes
from mmlistener.streaming import ListenerStream, StreamingDecoder


def emotion_stream(model, vqvae, codec):  # noqa: F811
    """Acoustic codes from the audio, emotion from the speaker's frames (so the audio can run ahead of them)."""
    processor = processor_of(model, modalities=("acoustic", "emotion"), emotion_recognizer=FrameEmotion())
    return ListenerStream(model, processor, vqvae, np.ones(100), speaker_shape=np.zeros(100),
                          acoustic_codes=SlidingWindowCodes(codec, **CODE_SETTINGS))  # fmt: skip


def test_audio_refused_for_running_ahead_is_not_consumed(model, vqvae, codec):  # noqa: F811
    audio = speaker_audio(3.0)
    motion = np.random.default_rng(0).normal(size=(90, 56)).astype(np.float32)
    reference = emotion_stream(model, vqvae, codec)
    expected = [reference.push_speaker_frames(motion[:60]), reference.push_audio(audio, RATE),
                reference.push_speaker_frames(motion[60:]), reference.finish()]  # fmt: skip

    stream = emotion_stream(model, vqvae, codec)
    got = [stream.push_speaker_frames(motion[:15])]  # emotion known for 0.27 s
    with pytest.raises(ValueError, match="drift apart.*audio pushed ahead of the speaker frames"):
        stream.push_audio(audio, RATE)  # 3 s of audio: 2.7 s ahead
    assert stream._audio.seconds == 0 and stream._audio.codes.samples == 0
    got += [stream.push_speaker_frames(motion[15:60]), stream.push_audio(audio, RATE),
            stream.push_speaker_frames(motion[60:]), stream.finish()]  # fmt: skip
    assert stream.codes == reference.codes and len(stream.codes) == 12  # 90 frames: 11 groups and a part
    assert np.array_equal(np.concatenate(got), np.concatenate(expected))


def asr_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "LocalAgreementASR"]


def words_stream(model, vqvae, codec):  # noqa: F811
    processor = processor_of(model, modalities=("words", "acoustic", "emotion"))
    asr = LocalAgreementASR(ScriptedRecognizer(), update_seconds=0.5, vad=False, background=True)
    return ListenerStream(model, processor, vqvae, np.ones(100), asr=asr,
                          acoustic_codes=SlidingWindowCodes(codec, **CODE_SETTINGS))  # fmt: skip


def test_close_and_with_end_the_asr_thread(model, vqvae, codec):  # noqa: F811
    before = len(asr_threads())
    stream = words_stream(model, vqvae, codec)
    stream.push_audio(speaker_audio(1.0), RATE)
    assert len(asr_threads()) == before + 1
    stream.close()
    assert len(asr_threads()) == before
    with pytest.raises(ValueError, match="reset"):
        stream.push_audio(speaker_audio(0.1), RATE)
    stream.reset()  # a new turn, a new thread
    assert len(asr_threads()) == before + 1
    with stream:
        stream.push_audio(speaker_audio(1.0), RATE)
    assert len(asr_threads()) == before
    with pytest.raises(RuntimeError, match="inside"), words_stream(model, vqvae, codec) as inner:
        inner.push_audio(speaker_audio(0.5), RATE)
        raise RuntimeError("inside")
    assert len(asr_threads()) == before


def test_a_late_confirmed_word_may_not_end_before_the_turn(model, vqvae):  # noqa: F811
    stream = ListenerStream(model, processor_of(model), vqvae, np.ones(100))
    with pytest.raises(ValueError, match="before the clip's first frame: pass it in history_words"):
        stream.push_features(words=[{"text": "w1", "end": -0.2, "known": 0.4}])
    stream.push_features(words=[{"text": "w1", "end": 0.1, "known": 0.4}])
    ((_, frame, _),) = stream.inputs.words
    assert frame == 12  # the frame of `known` (0.4 s), not of `end`


DEVICES = ["cpu", "meta", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU"))]


@pytest.mark.parametrize("device", DEVICES)
def test_streaming_decoding_runs_on_the_vqvaes_device(vqvae, device, monkeypatch):  # noqa: F811
    moved = copy.deepcopy(vqvae).to(device)
    seen, decode = [], moved.decode

    def spy(codes, identity=None):
        seen.append((codes.device.type, identity.device.type))
        if device == "meta":  # a meta tensor holds no values to hand back
            raise NotImplementedError("meta")
        return decode(codes, identity=identity)

    monkeypatch.setattr(moved, "decode", spy)
    decoder = StreamingDecoder(moved, torch.randn(100), look_back=3)
    codes = [3, 1, 4, 1]
    assert len(decoder.push(codes[0])) == 0
    if device == "meta":
        with pytest.raises(NotImplementedError):
            decoder.push(codes[1])
    else:
        frames = [decoder.push(code) for code in codes[1:]]
        reference = StreamingDecoder(vqvae, decoder.identity.cpu()[0], look_back=3)
        expected = [reference.push(code) for code in codes][1:]
        assert all(np.allclose(got, want, atol=1e-4) for got, want in zip(frames, expected))
    assert seen and all(pair == (device, device) for pair in seen)
