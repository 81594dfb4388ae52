"""`mmlistener-stream` on tiny random models: a recording fed at real-time pace, frames, video, latency."""

import sys
import time

import av
import numpy as np
import pytest
import torch
from test_listen import _speech, _write_wav, models  # noqa: F401 (fixture)

from mmlistener.cli.stream import parse_and_run
from mmlistener.streaming import ListenerStream


def _flags(models, tmp_path, *extra):  # noqa: F811
    return ["--model", str(models / "lm"), "--vqvae", str(models / "vqvae"), "--asr_checkpoint",
            str(models / "whisper.pt"), "--speechtokenizer_checkpoint", str(models / "speechtokenizer"),
            "--size", "32", "--out", str(tmp_path / "frames.npy"), *extra]  # fmt: skip


def test_stream_writes_frames_and_video_and_prints_latency(models, tmp_path, capsys, monkeypatch):  # noqa: F811
    pushes, push_audio = [], ListenerStream.push_audio

    def timed_push(stream, chunk, sampling_rate):
        frames = push_audio(stream, chunk, sampling_rate)
        pushes.append((time.perf_counter(), len(chunk) / sampling_rate, len(frames)))
        return frames

    monkeypatch.setattr(ListenerStream, "push_audio", timed_push)
    speech = _write_wav(tmp_path / "speaker.wav", _speech(1.6, 22050), 22050)
    timing = parse_and_run([speech, *_flags(models, tmp_path), "--video", str(tmp_path / "listener.mp4")])
    frames = np.load(tmp_path / "frames.npy")
    assert frames.shape == (48, 56) and np.isfinite(frames).all() and frames.std() > 0
    # fed at the recording's pace: no chunk before the moment it would exist live
    started = pushes[0][0] - pushes[0][1]
    pushed = np.cumsum([seconds for _, seconds, _ in pushes])
    assert all(at >= started + until - 0.005 for (at, _, _), until in zip(pushes, pushed))
    assert sum(count for _, _, count in pushes) >= 16  # frames come out while the audio is fed, not only at the end
    assert len(timing.latencies_ms) == 6 and (timing.latencies_ms > 0).all()
    printed = capsys.readouterr().out
    assert "6 groups: latency p50" in printed and "late (over 266.7 ms)" in printed
    with av.open(str(tmp_path / "listener.mp4")) as container:
        assert container.streams.audio and sum(1 for _ in container.decode(video=0)) == 48


def test_fast_feed_gives_the_same_frames(models, tmp_path):  # noqa: F811
    speech = _write_wav(tmp_path / "speaker.wav", _speech(1.6, 16000), 16000)
    parse_and_run([speech, *_flags(models, tmp_path), "--chunk_ms", "100"])
    live = np.load(tmp_path / "frames.npy")
    timing = parse_and_run([speech, *_flags(models, tmp_path), "--fast", "true"])
    assert np.array_equal(np.load(tmp_path / "frames.npy"), live) and len(timing.latencies_ms) == 6


def test_bad_settings_are_named(models, tmp_path):  # noqa: F811
    speech = _write_wav(tmp_path / "speaker.wav", _speech(1.0, 16000), 16000)
    with pytest.raises(ValueError, match="--out is the frames file and must end in .npy"):
        parse_and_run([speech, *_flags(models, tmp_path), "--out", str(tmp_path / "x.mp4")])
    with pytest.raises(ValueError, match="--quantization must be 'none' or one of"):
        parse_and_run([speech, *_flags(models, tmp_path), "--quantization", "int4"])
    assert not (tmp_path / "frames.npy").exists()


def test_stream_with_an_int8_backbone(models, tmp_path, monkeypatch):  # noqa: F811
    from mmlistener.modeling import modeling_listener

    quantized, quantize = [], modeling_listener.quantize_backbone

    def spy(model, method):
        quantized.append(quantize(model, method))
        return quantized[-1]

    monkeypatch.setattr(modeling_listener, "quantize_backbone", spy)
    speech = _write_wav(tmp_path / "speaker.wav", _speech(1.6, 16000), 16000)
    parse_and_run([speech, *_flags(models, tmp_path), "--quantization", "int8", "--fast", "true", "--threads", "1",
                   "--code_window_seconds", "0.6", "--code_right_context_seconds", "0"])  # the real-time settings
    frames = np.load(tmp_path / "frames.npy")
    assert frames.shape == (48, 56) and np.isfinite(frames).all()
    (model,) = quantized  # the streamed LM is the int8 one
    assert any(isinstance(module, torch.ao.nn.quantized.dynamic.Linear) for module in model.modules())


def test_vad_needs_faster_whisper_and_can_be_turned_off(models, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setitem(sys.modules, "faster_whisper", None)  # as if the `faster` extra were not installed
    monkeypatch.setitem(sys.modules, "faster_whisper.vad", None)
    speech = _write_wav(tmp_path / "speaker.wav", _speech(1.6, 16000), 16000)
    with pytest.raises(ValueError, match=r"needs faster-whisper: pip install 'mmlistener\[faster\]'.*--vad false"):
        parse_and_run([speech, *_flags(models, tmp_path), "--fast", "true"])
    timing = parse_and_run([speech, *_flags(models, tmp_path), "--fast", "true", "--vad", "false"])
    assert np.load(tmp_path / "frames.npy").shape == (48, 56) and len(timing.latencies_ms) == 6
