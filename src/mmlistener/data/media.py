"""Speaker audio of dataset windows: the media file of a window's `source`, and the window's part of it."""

import functools
import os

import numpy as np

AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".m4a", ".ogg", ".mp4", ".mkv", ".webm")


def media_path(media_dir: str, source: str) -> str:
    """The audio/video file of `source` under `media_dir`: the same relative path, or the same stem with an audio
    extension."""
    exact = os.path.join(media_dir, source)
    if os.path.isfile(exact):
        return exact
    stem = os.path.splitext(exact)[0]
    for extension in AUDIO_EXTENSIONS:
        if os.path.isfile(stem + extension):
            return stem + extension
    raise ValueError(f"no audio or video for source {source!r} in {media_dir} (tried {exact} and {stem}.*)")


@functools.lru_cache(maxsize=2)
def source_audio(path: str) -> np.ndarray:
    """Whole 16 kHz mono audio `(samples,)` of a file; windows of one source come in a row, so two entries
    suffice."""
    from ..processing.audio import load_audio

    return load_audio(path)


def cut_window(audio: np.ndarray, start_frame: int, num_frames: int, fps: int, name: str = "the audio",
               tolerance_frames: int = 8) -> np.ndarray:
    """Samples `(round(num_frames / fps * 16000),)` of 16 kHz `audio` from frame `start_frame`; a window that runs
    past the audio by less than `tolerance_frames` is padded with silence, by more it is an error."""
    from ..processing.audio import SAMPLE_RATE

    start = int(start_frame) / fps
    first, last = round(start * SAMPLE_RATE), round((start + num_frames / fps) * SAMPLE_RATE)
    window = audio[first:last]
    if last - first - len(window) >= tolerance_frames / fps * SAMPLE_RATE:
        raise ValueError(
            f"{name} lasts {len(audio) / SAMPLE_RATE:.2f} s, too short for frames {start_frame}.."
            f"{int(start_frame) + num_frames} ({fps} fps)"
        )
    return np.pad(window, (0, last - first - len(window)))


def window_audio(example: dict, media_dir: str) -> np.ndarray:
    """The speaker's 16 kHz audio `(samples,)` of a dataset window (its `source`, `start_frame`, `fps` and
    `speaker_motion` length), read from `media_dir` (for the synthetic corpus: `<corpus>/media`)."""
    path = media_path(media_dir, example["source"])
    return cut_window(source_audio(path), example["start_frame"], len(example["speaker_motion"]),
                      int(example["fps"]), name=path)


__all__ = ["AUDIO_EXTENSIONS", "cut_window", "media_path", "source_audio", "window_audio"]
