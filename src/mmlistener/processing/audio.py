"""Audio input: any sample rate, mono or stereo, to the 16 kHz mono float32 the front ends read."""

import numpy as np

SAMPLE_RATE = 16_000
MAX_CHANNELS = 8


def to_mono(audio, channel_axis: int | None = None) -> np.ndarray:
    """Down-mix to mono `(samples,)` float32 by averaging channels.

    Args:
        audio (`np.ndarray` or `torch.Tensor`): `(samples,)`, `(samples, channels)` (soundfile's layout) or
            `(channels, samples)` (torch's layout).
        channel_axis (`int`, *optional*): which axis holds channels; by default the shorter axis of a 2-D
            array when it has at most 8 entries.
    """
    audio = np.asarray(audio.detach().cpu() if hasattr(audio, "detach") else audio, dtype=np.float32)
    if audio.ndim == 1:
        return audio
    if audio.ndim != 2:
        raise ValueError(f"audio must be (samples,) or 2-D (samples, channels)/(channels, samples), got {audio.shape}")
    if channel_axis is None:
        if min(audio.shape) > MAX_CHANNELS:
            raise ValueError(
                f"cannot tell the channel axis of audio with shape {audio.shape}; pass channel_axis explicitly"
            )
        channel_axis = int(np.argmin(audio.shape))
    return audio.mean(axis=channel_axis, dtype=np.float32)


def resample(audio: np.ndarray, orig_sr: int, target_sr: int = SAMPLE_RATE) -> np.ndarray:
    """Resample a mono signal with soxr (high quality, band-limited)."""
    if orig_sr is None or int(orig_sr) <= 0 or int(orig_sr) != orig_sr:
        raise ValueError(f"sampling_rate must be a positive integer, got {orig_sr!r}")
    if int(orig_sr) == target_sr:
        return audio
    import soxr

    return soxr.resample(audio, int(orig_sr), target_sr, quality="HQ").astype(np.float32, copy=False)


def prepare_audio(audio, sampling_rate: int | None, target_sr: int = SAMPLE_RATE, channel_axis: int | None = None):
    """Mono, resampled to `target_sr`, checked for NaN: the form every speech front end reads.

    Returns:
        `np.ndarray` of shape `(samples,)`, float32.
    """
    if sampling_rate is None:
        raise ValueError("sampling_rate is required with raw audio (the rate the audio was recorded at)")
    mono = to_mono(audio, channel_axis=channel_axis)
    if mono.size == 0:
        raise ValueError("audio is empty")
    if not np.isfinite(mono).all():
        raise ValueError("audio contains NaN or infinite samples")
    return resample(mono, sampling_rate, target_sr)


def read_audio(path: str) -> tuple[np.ndarray, int]:
    """The sound of a file as mono float32 `(samples,)` at the file's own rate, and that rate: the one decoder of
    every audio path (soundfile for wav, flac, ogg; PyAV for mp3, m4a and the audio track of a video), channels
    averaged by `to_mono`."""
    import os

    if not os.path.isfile(path):
        raise FileNotFoundError(f"no audio file at {path!r}")
    import soundfile

    try:
        data, sampling_rate = soundfile.read(path, dtype="float32", always_2d=True)  # (samples, channels)
        return to_mono(data, channel_axis=1), int(sampling_rate)
    except (RuntimeError, soundfile.LibsndfileError):
        pass
    import av

    with av.open(path) as container:
        if not container.streams.audio:
            raise ValueError(f"{path} has no audio stream")
        stream = container.streams.audio[0]
        sampling_rate = stream.codec_context.sample_rate
        to_planar_float = av.AudioResampler(format="fltp", layout=stream.codec_context.layout, rate=sampling_rate)
        frames = [*container.decode(stream), None]  # None flushes the resampler
        chunks = [planar.to_ndarray() for frame in frames for planar in to_planar_float.resample(frame)]
    if not chunks:
        raise ValueError(f"{path} has an empty audio stream")
    return to_mono(np.concatenate(chunks, axis=1), channel_axis=0), int(sampling_rate)  # (channels, samples)


def load_audio(path: str, target_sr: int = SAMPLE_RATE) -> np.ndarray:
    """Read an audio file (`read_audio`) as `target_sr` (16 kHz) mono float32 `(samples,)`, checked for NaN."""
    audio, sampling_rate = read_audio(path)
    return prepare_audio(audio, sampling_rate, target_sr)


__all__ = ["SAMPLE_RATE", "load_audio", "prepare_audio", "read_audio", "resample", "to_mono"]
