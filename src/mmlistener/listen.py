"""A speaker recording -> the listener's motion `(T, 56)` at 30 fps.

The speech front ends run once over the whole recording (so no word is cut at a window border): the ASR's
timed words and SpeechTokenizer's codes (the processor's `asr` and `acoustic_codec`). The recording is then
cut into windows of the length the model was trained on, each with its words, history words (those before
it), codes and emotion ids (from the speaker's motion with the emotion recogniser, or Neutral), and
`ListenerPipeline` generates and decodes them in the listener's identity. The windows' motions are joined.
"""

import warnings

import numpy as np

from .pipeline import ListenerPipeline
from .processing.audio import SAMPLE_RATE

NEUTRAL = 0  # AffectNet order: 0 Neutral
ACOUSTIC_STREAMS = ("acoustic", "content")
SILENCE_PEAK = 1e-4


def check_speech(audio: np.ndarray, name: str = "audio") -> np.ndarray:
    """16 kHz mono `audio (samples,)` that is neither empty, silent, nor shorter than one frame."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1 or audio.size == 0:
        raise ValueError(f"{name} is empty")
    if not np.isfinite(audio).all():
        raise ValueError(f"{name} contains NaN or infinite samples")
    if np.abs(audio).max() < SILENCE_PEAK:
        raise ValueError(f"{name} is silent (peak {np.abs(audio).max():.1e}): nothing for the listener to hear")
    return audio


def drop_acoustic_streams(processor) -> None:
    """Run `processor` without SpeechTokenizer's streams (its model was trained with them: expect worse motion)."""
    kept = tuple(name for name in processor.modalities if name not in ACOUSTIC_STREAMS)
    if not kept:
        raise ValueError(f"the model reads only {processor.modalities}: it cannot run without acoustic tokens")
    if kept != processor.modalities:
        warnings.warn(
            f"running without the {'/'.join(n for n in processor.modalities if n in ACOUSTIC_STREAMS)} tokens the "
            "model was trained with: its listener motion will be worse", UserWarning, stacklevel=2,
        )  # fmt: skip
        processor.modalities = kept


def window_bounds(num_frames: int, window_frames: int, min_frames: int = 1) -> list[tuple[int, int]]:
    """`(first, end)` frames of each window of a recording: `window_frames` each, the last one shorter; a last
    window of fewer than `min_frames` frames joins the one before it (the VQ-VAE cannot decode it alone)."""
    bounds = [(first, min(first + window_frames, num_frames)) for first in range(0, num_frames, window_frames)]
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] < min_frames:
        bounds[-2:] = [(bounds[-2][0], num_frames)]
    return bounds


def speaker_windows(
    processor,
    num_frames: int,
    window_frames: int,
    words: list[dict] | None = None,
    codes: dict | None = None,
    speaker_motion: np.ndarray | None = None,
    speaker_shape: np.ndarray | None = None,
    min_frames: int = 1,
) -> list[dict]:
    """The processor inputs of each window of a recording of `num_frames` frames.

    Args:
        processor (`ListenerProcessor`): its `modalities`, `fps`, `acoustic_rate` and `group_size` are used.
        num_frames (`int`): frames of the whole recording.
        window_frames (`int`): frames per window (the last may be shorter, or longer by less than `min_frames`).
        words (`list[dict]`, *optional*): `{"text", "start", "end"}` in seconds from the recording's start.
        codes (`dict`, *optional*): `{"acoustic": [...], "content": [...]}` at `acoustic_rate` over the recording.
        speaker_motion (`np.ndarray` of shape `(>= num_frames, 56)`, *optional*): emotion ids come from it;
            Neutral for every group without it.
        speaker_shape (`np.ndarray` of shape `(100,)`, *optional*): the speaker's beta for the emotion recogniser.
        min_frames (`int`): fewest frames of a window (see `window_bounds`).

    Returns:
        `list` of example dicts (`num_frames`, `words`, `history_words`, `acoustic_codes`, `content_codes`,
        `emotion_ids` or `speaker_motion` + `speaker_shape`).
    """
    windows = []
    for first, last in window_bounds(num_frames, window_frames, min_frames):
        start, end = first / processor.fps, last / processor.fps
        window = {"num_frames": last - first}
        if "words" in processor.modalities:
            shifted = [dict(word, start=word["start"] - start, end=word["end"] - start) for word in words or []]
            window["words"] = [word for word in shifted if 0 < word["end"] <= end - start]
            window["history_words"] = [word for word in shifted if word["end"] <= 0]
        for name in ACOUSTIC_STREAMS:
            if name in processor.modalities:
                rate = processor.acoustic_rate
                window[f"{name}_codes"] = list(codes[name][round(start * rate) : round(end * rate)])
        if "emotion" in processor.modalities:
            if speaker_motion is None:
                window["emotion_ids"] = [NEUTRAL] * processor.num_groups(last - first)
            else:
                window["speaker_motion"] = speaker_motion[first:last]
                window["speaker_shape"] = np.zeros(100) if speaker_shape is None else speaker_shape
        windows.append(window)
    return windows


def listen(
    pipeline: ListenerPipeline,
    audio: np.ndarray,
    listener_identity: np.ndarray,
    speaker_motion: np.ndarray | None = None,
    speaker_shape: np.ndarray | None = None,
    window_frames: int = 240,
    progress: bool = False,
) -> np.ndarray:
    """Listener motion for a speaker recording.

    Args:
        pipeline (`ListenerPipeline`): the LM, its processor (with the front ends its modalities need) and
            the VQ-VAE.
        audio (`np.ndarray` of shape `(samples,)`): 16 kHz mono speech.
        listener_identity (`np.ndarray` of shape `(100,)`): the listener's shape beta (decoding style).
        speaker_motion (`np.ndarray` of shape `(>= T, 56)`, *optional*): the speaker's motion, for emotion ids.
        speaker_shape (`np.ndarray` of shape `(100,)`, *optional*): the speaker's beta.
        window_frames (`int`): frames per generated window (the length the model was trained on).
        progress (`bool`): show a bar per stage.

    Returns:
        `np.ndarray` of shape `(T, 56)`, `T = samples * fps // 16000`.
    """
    processor = pipeline.processor
    audio = check_speech(audio)
    num_frames = len(audio) * processor.fps // SAMPLE_RATE
    if num_frames < processor.group_size:
        raise ValueError(f"audio lasts {len(audio) / SAMPLE_RATE:.2f} s: too short for one group of frames")
    if speaker_motion is not None and len(speaker_motion) < num_frames:
        raise ValueError(f"speaker_motion has {len(speaker_motion)} frames, fewer than the audio's {num_frames}")
    words = codes = None
    if "words" in processor.modalities:
        _say(progress, "transcribing (ASR with word times)")
        words = processor.asr.transcribe(audio)
    if any(name in processor.modalities for name in ACOUSTIC_STREAMS):
        _say(progress, "acoustic codes (SpeechTokenizer)")
        codes = dict(zip(("content", "acoustic"), processor.acoustic_codec.encode(audio)))
    # the VQ-VAE decodes at least `min_codes` codes: a shorter tail joins the window before it
    min_frames = (pipeline.vqvae.config.min_codes - 1) * processor.group_size + 1
    windows = speaker_windows(processor, num_frames, window_frames, words, codes, speaker_motion, speaker_shape,
                              min_frames)
    for window in windows:
        window["listener_identity"] = np.asarray(listener_identity, dtype=np.float32)
    pipeline.progress = progress
    return np.concatenate(pipeline.predict(windows))


def _say(progress: bool, stage: str) -> None:
    if progress:
        print(f"{stage} ...", flush=True)


__all__ = ["check_speech", "drop_acoustic_streams", "listen", "speaker_windows", "window_bounds"]
