"""The locked page's clickable example: a short recording the package makes itself (eSpeak NG, from PyPI), so a
visitor can try the page without a microphone or a file of their own."""

import os
from pathlib import Path

import numpy as np

EXAMPLE_TEXT = "so guess what happened to me today"
WORD_GAP_SECONDS, LEAD_SECONDS = 0.08, 0.3


def example_recording(folder: str | Path) -> str:
    """The path of the example recording in `folder`, written there (16 kHz mono wav, about 3 s) unless it is.

    Returns:
        `str`: the `.wav` file's path.
    """
    import soundfile

    from ..data.speech_synthesis import CORPUS_VOICES, SAMPLE_RATE, synthesize_word

    path = Path(folder) / "example-speaker.wav"
    if path.is_file():
        return str(path)
    gap = np.zeros(round(WORD_GAP_SECONDS * SAMPLE_RATE), dtype=np.float32)
    lead = np.zeros(round(LEAD_SECONDS * SAMPLE_RATE), dtype=np.float32)
    parts = [lead]
    for word in EXAMPLE_TEXT.split():
        parts += [synthesize_word(word, CORPUS_VOICES[0]), gap]
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.stem}.{os.getpid()}.wav")
    soundfile.write(partial, np.concatenate([*parts, lead]), SAMPLE_RATE, subtype="PCM_16")
    os.replace(partial, path)  # a page started at the same moment never reads half a file
    return str(path)


__all__ = ["EXAMPLE_TEXT", "example_recording"]
