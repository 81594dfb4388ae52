"""A speaker recording of any length -> the listener's motion `(T, 56)` at 30 fps.

The speech front ends run once over the whole recording: the ASR's timed words and SpeechTokenizer's codes (the
processor's `asr` and `acoustic_codec`), with emotion ids from the speaker's motion (the emotion recogniser) or
Neutral. The processor makes one sequence of the whole recording and the LM generates it as one continuous
sequence (`ListenerForCausalLM.generate`: a KV cache, and a sliding window over the groups once the sequence
outgrows its positions, as `ListenerStream` does live), so no code, history or cache is lost at any border. The
VQ-VAE decodes the codes in overlapping windows of its training length blended by overlap-add (`decode_long`), so
the motion has no seams. Time grows linearly with the recording's length.
"""

import warnings
from collections.abc import Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from .long_decoding import decode_long
from .modeling.constants import IDENTITY_DIM, NEUTRAL
from .pipeline import ListenerPipeline
from .processing.audio import SAMPLE_RATE
from .processing.batching import without_streams
from .processing.processing_listener import CODE_STREAMS

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
    kept = tuple(name for name in processor.modalities if name not in CODE_STREAMS)
    if not kept:
        raise ValueError(f"the model reads only {processor.modalities}: it cannot run without acoustic tokens")
    if kept != processor.modalities:
        warnings.warn(
            f"running without the {'/'.join(n for n in processor.modalities if n in CODE_STREAMS)} tokens the "
            "model was trained with: its listener motion will be worse", UserWarning, stacklevel=2,
        )  # fmt: skip
        processor.modalities = kept


def recording_inputs(
    processor,
    audio: np.ndarray,
    num_frames: int,
    speaker_motion: np.ndarray | None = None,
    speaker_shape: np.ndarray | None = None,
    progress: bool = False,
) -> dict:
    """The processor's inputs of a whole recording as one clip, from its speech front ends.

    Args:
        processor (`ListenerProcessor`): its `modalities` say which front ends run (its `asr`, `acoustic_codec`).
        audio (`np.ndarray` of shape `(samples,)`): 16 kHz mono speech.
        num_frames (`int`): frames of the recording (`samples * fps // 16000`).
        speaker_motion (`np.ndarray` of shape `(>= num_frames, 56)`, *optional*): emotion ids come from it; Neutral
            for every group without it.
        speaker_shape (`np.ndarray` of shape `(100,)`, *optional*): the speaker's beta for the emotion recogniser.
        progress (`bool`): say which front end runs.

    Returns:
        `dict` of `num_frames` and the streams of the modalities: `words` (`{"text", "start", "end"}` in seconds),
        `acoustic_codes` / `content_codes` (at `acoustic_rate`), `emotion_ids` (one per group) or `speaker_motion`
        `(num_frames, 56)` + `speaker_shape (100,)`.
    """
    inputs = {"num_frames": num_frames}
    if "words" in processor.modalities:
        _say(progress, "transcribing (ASR with word times)")
        end = num_frames / processor.fps  # a word starting in the audio's last fraction of a frame is dropped
        inputs["words"] = [word for word in processor.asr.transcribe(audio) if word.get("start", word["end"]) < end]
    if any(name in processor.modalities for name in CODE_STREAMS):
        _say(progress, "acoustic codes (SpeechTokenizer)")
        codes = dict(zip(("content", "acoustic"), processor.acoustic_codec.encode(audio)))
        for name in CODE_STREAMS:
            if name in processor.modalities:
                inputs[f"{name}_codes"] = list(codes[name])
    if "emotion" in processor.modalities:
        if speaker_motion is None:
            inputs["emotion_ids"] = [NEUTRAL] * processor.num_groups(num_frames)
        else:
            inputs["speaker_motion"] = speaker_motion[:num_frames]
            inputs["speaker_shape"] = np.zeros(IDENTITY_DIM) if speaker_shape is None else speaker_shape
    return inputs


@torch.no_grad()
def recording_codes(
    pipeline: ListenerPipeline, inputs: dict, progress: bool = False, without: Sequence[str] = ()
) -> torch.LongTensor:
    """Listener codes `(1, num_groups)` of a recording's processor `inputs` (see `recording_inputs`) as one clip:
    `model.generate` over the one sequence, with its KV cache and, once the sequence outgrows the LM's positions,
    its sliding window (so time grows linearly with the recording and the cache stays bounded). `without` names
    speaker streams taken out of the sequence (`without_streams`)."""
    processor, model = pipeline.processor, pipeline.model
    batch = processor(**pipeline.processor_inputs([inputs]), return_tensors="pt")
    if without:
        batch = without_streams(batch, processor.layout, without)
    batch = batch.to(model.device)
    steps = model.generate_steps(**batch, **pipeline.generation_kwargs)
    total = processor.num_groups(inputs["num_frames"])
    return torch.stack(list(tqdm(steps, total=total, desc="generating", unit="group", disable=not progress)), dim=1)


def listen(
    pipeline: ListenerPipeline,
    audio: np.ndarray,
    listener_identity: np.ndarray,
    speaker_motion: np.ndarray | None = None,
    speaker_shape: np.ndarray | None = None,
    window_frames: int = 240,
    progress: bool = False,
) -> np.ndarray:
    """Listener motion for a speaker recording of any length.

    Args:
        pipeline (`ListenerPipeline`): the LM, its processor (with the front ends its modalities need) and
            the VQ-VAE.
        audio (`np.ndarray` of shape `(samples,)`): 16 kHz mono speech.
        listener_identity (`np.ndarray` of shape `(100,)`): the listener's shape beta (decoding style).
        speaker_motion (`np.ndarray` of shape `(>= T, 56)`, *optional*): the speaker's motion, for emotion ids.
            Without it the emotion is Neutral, or left out of the sequence when the processor says so
            (`emotion_without_face="omit"`, a model trained to listen without it).
        speaker_shape (`np.ndarray` of shape `(100,)`, *optional*): the speaker's beta.
        window_frames (`int`): frames per decoder window, the length the VQ-VAE was trained on; the codes are
            decoded in windows of `window_frames // group_size` codes overlapping by half (`decode_long`).
        progress (`bool`): say which stage runs, with a bar over the groups.

    Returns:
        `np.ndarray` of shape `(T, 56)`, `T = samples * fps // 16000`.
    """
    processor, vqvae = pipeline.processor, pipeline.vqvae
    window_codes = window_frames // processor.group_size
    if window_codes < vqvae.config.min_codes:
        raise ValueError(
            f"window_frames={window_frames}: the VQ-VAE decodes windows of at least {vqvae.config.min_codes} codes "
            f"({vqvae.config.min_codes * processor.group_size} frames)"
        )
    audio = check_speech(audio)
    num_frames = len(audio) * processor.fps // SAMPLE_RATE
    # the VQ-VAE decodes at least `min_codes` codes together
    min_frames = max(processor.group_size, (vqvae.config.min_codes - 1) * processor.group_size + 1)
    if num_frames < min_frames:
        raise ValueError(f"audio lasts {len(audio) / SAMPLE_RATE:.2f} s: too short for the listener "
                         f"(at least {min_frames} frames, {min_frames / processor.fps:.2f} s)")  # fmt: skip
    if speaker_motion is not None and len(speaker_motion) < num_frames:
        raise ValueError(f"speaker_motion has {len(speaker_motion)} frames, fewer than the audio's {num_frames}")
    inputs = recording_inputs(processor, audio, num_frames, speaker_motion, speaker_shape, progress)
    faceless = speaker_motion is None and "emotion" in processor.modalities
    omitted = ["emotion"] if faceless and processor.emotion_without_face == "omit" else []
    codes = recording_codes(pipeline, inputs, progress, without=omitted)
    _say(progress, "decoding (overlapping VQ-VAE windows)")
    identity = torch.as_tensor(np.asarray(listener_identity, dtype=np.float32)).reshape(1, -1)
    return decode_long(vqvae, codes, identity, window_codes)[0, :num_frames].cpu().numpy()


def _say(progress: bool, stage: str) -> None:
    if progress:
        print(f"{stage} ...", flush=True)


__all__ = ["check_speech", "drop_acoustic_streams", "listen", "recording_codes", "recording_inputs"]
