"""Every audio entry point takes `(samples,)`, `(samples, channels)` and `(channels, samples)` through one down-mix
(`processing.audio.to_mono`) and reads files through one decoder (`processing.audio.read_audio`): the processor's
raw path, the stream's chunks, `load_audio` and `render_video`."""

from types import SimpleNamespace

import av
import numpy as np
import pytest
import soundfile

from mmlistener.processing.audio import load_audio, prepare_audio, read_audio, to_mono
from mmlistener.rendering import render_video
from mmlistener.rendering.video import check_audio
from mmlistener.streaming.audio_inputs import AudioInputs

RATE = 16_000


def stereo(seconds: float = 1.0) -> np.ndarray:
    """`(samples, 2)`: a 440 Hz tone on the left, silence on the right."""
    t = np.arange(round(seconds * RATE)) / RATE
    left = 0.5 * np.sin(2 * np.pi * 440 * t)
    return np.stack([left, np.zeros_like(left)], axis=1).astype(np.float32)


LAYOUTS = {
    "(samples,)": lambda audio: audio.mean(axis=1),
    "(samples, channels)": lambda audio: audio,
    "(channels, samples)": lambda audio: audio.T.copy(),
}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_layout_down_mixes_to_the_same_mono(layout):
    audio, mono = LAYOUTS[layout](stereo()), stereo().mean(axis=1)
    assert np.allclose(to_mono(audio), mono)
    assert np.allclose(prepare_audio(audio, RATE), mono)  # the processor's raw path
    waveform, rate = check_audio(audio, RATE)  # render_video's
    assert rate == RATE and np.allclose(waveform, mono)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_stream_chunks_in_every_layout(layout):
    inputs = AudioInputs(SimpleNamespace(fps=30, group_size=8, modalities=("emotion",)))  # no speech front end
    audio = LAYOUTS[layout](stereo(0.3))
    assert np.allclose(inputs.checked(audio, RATE), stereo(0.3).mean(axis=1))
    assert inputs.push(audio, RATE) == {"emotion_ids": [0]} and inputs.seconds == pytest.approx(0.3)  # 9 frames: one group


@pytest.mark.parametrize("layout", ["(samples, channels)", "(channels, samples)"])
def test_render_video_with_a_two_channel_array_keeps_the_whole_sound(tmp_path, layout):
    audio = LAYOUTS[layout](stereo(1.0))
    path = render_video(np.zeros((30, 56), dtype=np.float32), tmp_path / "a.mp4", audio=audio, sampling_rate=RATE,
                        size=32)  # fmt: skip
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        sound = np.concatenate([frame.to_ndarray().reshape(-1) for frame in container.decode(stream)])
        rate = stream.rate
    assert len(sound) / rate == pytest.approx(1.0, abs=0.1)  # a second of sound, not 2 samples
    assert np.sqrt(np.mean(sound**2)) == pytest.approx(0.25 / np.sqrt(2), rel=0.2)  # the tone at half amplitude


def test_files_are_read_by_the_one_decoder(tmp_path):
    soundfile.write(tmp_path / "stereo.wav", stereo(), RATE)
    audio, rate = read_audio(str(tmp_path / "stereo.wav"))
    assert rate == RATE and np.allclose(audio, stereo().mean(axis=1), atol=1e-4)
    waveform, same_rate = check_audio(tmp_path / "stereo.wav", None)  # render_video's path
    assert same_rate == rate and np.array_equal(waveform, audio)
    assert np.allclose(load_audio(str(tmp_path / "stereo.wav")), audio, atol=1e-6)
    with pytest.raises(FileNotFoundError, match="no audio file at .*missing.wav"):
        check_audio(tmp_path / "missing.wav", None)
