"""Word timing: parse timed words, place each in the group of frames it ends in, keep the recent history.

A word `{"text", "start", "end"}` (seconds from the clip's first frame) belongs to the group holding frame
`ceil(end * fps)`, the first frame that starts once the word is complete; history words end at or before the
first frame. Nothing here tokenises: the processor turns the kept texts into token ids.
"""

import math
import warnings
from collections.abc import Mapping

# slack for times that land on a frame boundary up to float rounding
EPSILON = 1e-6


def as_word_list(words) -> list:
    """`words` as a list of word dicts: the columnar form `{"text": [...], "end": [...]}` of a datasets `Sequence`
    row by row, `None` as no words."""
    if isinstance(words, dict):
        return [dict(zip(words, values)) for values in zip(*words.values())]
    return [] if words is None else list(words)


def word_times(words, name: str) -> list[tuple[str, float, float]]:
    """`(text, start, end)` of each non-blank word of `words`, sorted by end; `start` is `end` when not given.

    Args:
        words (`list[dict]`, `dict` of columns, or `None`): `{"text", "end", "start"?}` per word, or the columnar
            form `{"text": [...], "end": [...]}` of a datasets `Sequence`.
        name (`str`): the argument's name (`"words"` or `"history_words"`) for error messages.
    """
    parsed = []
    for word in as_word_list(words):
        if not isinstance(word, Mapping) or "text" not in word or "end" not in word:
            raise ValueError(f"each of {name} needs 'text' and 'end' (seconds), got {word!r}")
        end = word_seconds(word, "end", name)
        start = end if word.get("start") is None else word_seconds(word, "start", name)
        if start > end:
            raise ValueError(f"{name} has a word that starts after it ends: {word}")
        text = str(word["text"]).strip()
        if text:
            parsed.append((text, start, end))
    parsed.sort(key=lambda item: item[2])
    return parsed


def word_frames(words: list[tuple[str, float, float]], num_frames: int, fps: int) -> list[int]:
    """The frame `ceil(end * fps)` each word of the clip enters (`>= num_frames`: after the clip).

    A word ending exactly on the clip's last boundary enters the last frame; one ending before the first frame
    is an error (it belongs in `history_words`).
    """
    for text, _, end in words:
        if end < -EPSILON:
            raise ValueError(
                f"words: {text!r} ends at {end:.3f} s, before the clip's first frame: pass it in history_words"
            )
    frames = [frame_of(end, fps) for _, _, end in words]
    return [num_frames - 1 if frame == num_frames else frame for frame in frames]


def frame_of(seconds: float, fps: int) -> int:
    """The first frame that starts once `seconds` have passed: `ceil(seconds * fps)`, up to float rounding."""
    return math.ceil(seconds * fps - EPSILON)


def check_words_after_the_clip(words, frames: list[int], num_frames: int, fps: int) -> None:
    """Error when every word starts after the clip's end (times in ms?); a warning when some do.

    A word that starts inside the clip and ends after it (the last word of a cut) is dropped without notice.
    """
    clip_end = num_frames / fps
    late = [(text, start) for (text, start, _), frame in zip(words, frames) if frame >= num_frames
            and start >= clip_end - EPSILON]
    if not late:
        return
    text, start = min(late, key=lambda item: item[1])
    where = f"the clip's end ({clip_end:.2f} s: {num_frames} frames at {fps} fps)"
    if len(late) == len(words):
        raise ValueError(
            f"words: every word starts after {where}, the first {text!r} at {start:.3f} s; word times must "
            "be seconds from the clip's first frame (milliseconds?)"
        )
    warnings.warn(
        f"words: {len(late)} of {len(words)} words start after {where} and are dropped, the first "
        f"{text!r} at {start:.3f} s",
        stacklevel=6,  # the caller of ListenerProcessor.__call__ or encode_examples
    )


def recent_history(history: list[tuple[str, float, float]], seconds: float) -> list[str]:
    """Texts of the history words ending within `seconds` before the first frame (none may end after it)."""
    for text, _, end in history:
        if end > EPSILON:
            raise ValueError(f"history_words: {text!r} ends at {end:.3f} s, after the clip's first frame")
    return [text for text, _, end in history if end >= -seconds - EPSILON]


def trim_history(history_ids: list[list[int]], budget: int) -> list[int]:
    """The newest whole history words whose token ids fit in `budget` tokens, in order, as one flat list."""
    kept = []
    for ids in reversed(history_ids):
        if len(ids) > budget:
            break
        kept.append(ids)
        budget -= len(ids)
    return [token for ids in reversed(kept) for token in ids]


def word_seconds(word: Mapping, key: str, name: str) -> float:
    """`word[key]` as finite seconds, or a ValueError naming `name` (words or history_words) and the word."""
    try:
        value = float(word[key])
    except (TypeError, ValueError):
        raise ValueError(f"{name} has a word whose {key!r} is not a number of seconds: {word}") from None
    if not math.isfinite(value):
        raise ValueError(f"{name} has a word with a non-finite {key} time: {word}")
    return value


__all__ = [
    "as_word_list",
    "check_words_after_the_clip",
    "frame_of",
    "recent_history",
    "trim_history",
    "word_frames",
    "word_seconds",
    "word_times",
]
