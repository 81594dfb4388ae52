"""MP4 files with PyAV: H.264 video at 30 fps, the speaker's audio as AAC, written atomically.

PyAV (`av`) bundles FFmpeg's H.264 and AAC encoders and muxes in-process, so no `ffmpeg` executable or
system package is needed. A file appears at the output path only once it is complete.
"""

import itertools
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from ..modeling.constants import FPS
from ..processing.audio import read_audio, to_mono

AAC_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000)
AUDIO_FRAME = 1024  # samples per AAC frame


def _av():
    """PyAV, or an `ImportError` saying how to install it."""
    try:
        import av
    except ImportError:
        raise ImportError("writing video needs PyAV: pip install av (it comes with mmlistener[speech])") from None
    return av


def check_audio(audio, sampling_rate: int | None) -> tuple[np.ndarray, int]:
    """A waveform as mono float32 `(samples,)` with its rate, through the package's one decoder and down-mix
    (`mmlistener.processing.audio.read_audio` and `to_mono`).

    Args:
        audio (`str`, `Path` or `np.ndarray` of shape `(samples,)`, `(samples, channels)` or `(channels, samples)`):
            the sound, read from the file when a path.
        sampling_rate (`int`): samples per second of an array (ignored for a path).
    """
    if isinstance(audio, str | Path):
        return read_audio(str(audio))
    if sampling_rate is None or int(sampling_rate) != sampling_rate or sampling_rate <= 0:
        raise ValueError(f"audio as an array needs a positive integer sampling_rate, got {sampling_rate!r}")
    waveform = to_mono(audio)
    if waveform.size == 0:
        raise ValueError(f"audio must be a non-empty array, got shape {np.shape(audio)}")
    if not np.isfinite(waveform).all():
        raise ValueError("audio contains NaN or infinite samples")
    return waveform, int(sampling_rate)


def _audio_stream(container, rate: int):
    """A mono AAC stream at `rate`, or 48 kHz when AAC does not have `rate`."""
    stream = container.add_stream("aac", rate=rate if rate in AAC_RATES else 48000)
    stream.layout = "mono"
    return stream


def _encode_audio(container, stream, waveform: np.ndarray, rate: int, duration: float) -> None:
    """Encode `waveform` (cut to `duration` seconds) into the AAC `stream`, resampled to the stream's rate."""
    av = _av()

    resampler = av.AudioResampler(format="fltp", layout="mono", rate=stream.rate)
    samples = waveform[: int(round(duration * rate))]
    for start in range(0, len(samples), AUDIO_FRAME):
        frame = av.AudioFrame.from_ndarray(samples[None, start : start + AUDIO_FRAME], format="fltp", layout="mono")
        frame.sample_rate, frame.pts = rate, start
        for resampled in resampler.resample(frame):
            container.mux(stream.encode(resampled))
    for resampled in resampler.resample(None):
        container.mux(stream.encode(resampled))
    container.mux(stream.encode(None))


def write_video(
    frames: Iterable[np.ndarray],
    path: str | Path,
    fps: int = FPS,
    audio: np.ndarray | None = None,
    sampling_rate: int | None = None,
) -> Path:
    """Write RGB frames (and mono audio) to an MP4 file.

    Args:
        frames (iterable of `np.ndarray` of shape `(height, width, 3)`, uint8): all of one size, even sides.
        path (`str` or `Path`): the `.mp4` to write (parent folders are created); it appears only when complete.
        fps (`int`): frames per second.
        audio (`np.ndarray` of shape `(samples,)`, float32, *optional*): muxed as AAC, cut to the video's length.
        sampling_rate (`int`, *optional*): the audio's samples per second.

    Returns:
        `Path` of the written file.
    """
    av = _av()

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.parent / f".{path.stem}.{os.getpid()}.partial.mp4"
    try:
        frames = iter(frames)
        first = next(frames, None)
        if first is None:
            raise ValueError("no frames to write")
        height, width = first.shape[:2]
        if height % 2 or width % 2:
            raise ValueError(f"H.264 needs even frame sides, got {width}x{height}")
        with av.open(partial, mode="w", format="mp4") as container:
            video = container.add_stream("libx264", rate=fps)
            video.width, video.height, video.pix_fmt = width, height, "yuv420p"
            video.options = {"crf": "20", "preset": "veryfast"}
            sound = _audio_stream(container, sampling_rate) if audio is not None else None
            count = 0
            for frame in itertools.chain([first], frames):
                container.mux(video.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
                count += 1
            container.mux(video.encode(None))
            if sound is not None:
                _encode_audio(container, sound, audio, sampling_rate, count / fps)
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.remove(partial)
    return path


__all__ = ["check_audio", "write_video"]
