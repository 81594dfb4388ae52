"""The speaker inputs a stream holds until their group closes, each placed in the group where it becomes known.

Placement is the processor's rule: a word, or a code of a stream at `rate` codes per second (code `k` ends at
`(k + 1) / rate`), enters the group holding frame `ceil(end * fps)`. A word an ASR confirmed late says when
(`known`, speaker time) and enters the group of that time; one pushed after that group has closed enters the
open group instead: what is final is never revised.

Closing follows the clocks, the streams that say how much speaker time has passed: the code streams of the
modalities (`n` codes cover `n / rate` seconds) and the emotion ids (one per group). Words have no clock. Group
`g` closes once every clock has passed its end, `(g + 1) * group_size / fps`. At the end of a turn (`final`), the
open group also takes the inputs that end exactly on its end boundary, as the processor does at a clip's end.
"""

import sys

import numpy as np

from ..processing.processing_listener import CODE_STREAMS
from ..processing.streams import as_ids, code_frames
from ..processing.word_timing import as_word_list, frame_of, word_frames, word_seconds, word_times


class SpeakerInputs:
    """Pending words, codes and emotion ids of a stream, and the groups they close.

    Args:
        processor ([`ListenerProcessor`]): gives the modalities, `fps`, `group_size`, `acoustic_rate` and the
            sizes of the code blocks.
        max_skew_seconds (`float`): clocks further apart than this are an error (a stream at another rate).
    """

    def __init__(self, processor, max_skew_seconds: float):
        self.fps, self.group_size, self.rate = processor.fps, processor.group_size, processor.acoustic_rate
        self.modalities = processor.modalities
        self.sizes = {
            "acoustic": processor.num_acoustic_tokens,
            "content": processor.num_content_tokens,
            "emotion": processor.num_emotion_tokens,
        }
        self.clocks = [name for name in (*CODE_STREAMS, "emotion") if name in self.modalities]
        if not self.clocks:
            raise ValueError(
                f"a stream needs a clock: the processor's modalities {self.modalities} have no acoustic or content "
                "codes and no emotion, so nothing tells when a group of frames is over"
            )
        self.max_skew_seconds = float(max_skew_seconds)
        self.reset()

    def reset(self) -> None:
        self.closed = 0  # groups closed so far; the open group is `closed`
        self.words: list[tuple[float, int, str]] = []  # (end, frame, text), frame >= the open group's first
        self.codes = {name: [] for name in CODE_STREAMS}
        self.used = dict.fromkeys(CODE_STREAMS, 0)  # codes already placed in closed groups
        self.emotion: list[int] = []

    # -- adding ----------------------------------------------------------------------------------------

    def add(self, words=None, codes: dict | None = None, emotion_ids=None) -> None:
        """Check, then add, the inputs of one push; streams that are not modalities are ignored.

        Args:
            words (`list[dict]`, *optional*): timed words `{"text", "start"?, "end", "known"?}` in seconds from the
                turn's first frame; an end before the first frame is an error (history words go to
                `ListenerStream.reset`). A word with `known` enters the group of `max(end, known)`.
            codes (`dict[str, list[int]]`, *optional*): the next codes of each code stream (`CODE_STREAMS`).
            emotion_ids (`list[int]`, *optional*): the emotion ids of the next groups, one per group.

        Nothing is added when any input is wrong, or when the clocks would end up more than `max_skew_seconds`
        apart (codes at another rate than the processor's `acoustic_rate`, or a front end that stopped).
        """
        placed = []
        if "words" in self.modalities:
            first_open = self.closed * self.group_size
            placed = [(end, max(frame, first_open), text) for text, end, frame in self._word_frames(words)]
        new_codes = {
            name: self._checked(values, f"{name}_codes", self.sizes[name]).tolist()
            for name, values in (codes or {}).items()
            if name in self.modalities
        }
        new_emotion = []
        if "emotion" in self.modalities:
            new_emotion = self._checked(emotion_ids, "emotion_ids", self.sizes["emotion"]).tolist()
        times = {name: self.seconds(name) + len(values) / self.rate for name, values in new_codes.items()}
        if "emotion" in self.clocks:
            times["emotion"] = self.seconds("emotion") + len(new_emotion) * self.group_size / self.fps
        self.check_clocks(times)
        self.words.extend(placed)
        for name, values in new_codes.items():
            self.codes[name].extend(values)
        self.emotion.extend(new_emotion)

    def _word_frames(self, words) -> list[tuple[str, float, int]]:
        """`(text, end, frame)` of each non-blank word: the frame of `max(end, known)`, `known` (seconds, when a
        word has it) being the speaker time at which a front end confirmed the word."""
        placed = []
        for word in as_word_list(words):
            for text, start, end in word_times([word], "words"):
                (frame,) = word_frames([(text, start, end)], sys.maxsize, self.fps)  # refuses an end before the turn
                if word.get("known") is not None:
                    frame = max(frame, frame_of(word_seconds(word, "known", "words"), self.fps))
                placed.append((text, end, frame))
        return placed

    @staticmethod
    def _checked(values, name: str, size: int) -> np.ndarray:
        ids = as_ids(values, name)
        if len(ids) and (ids.min() < 0 or ids.max() >= size):
            raise ValueError(f"{name} must lie in [0, {size}), got [{ids.min()}, {ids.max()}]")
        return ids

    # -- clocks ----------------------------------------------------------------------------------------

    def check_clocks(self, times: dict[str, float]) -> None:
        """A ValueError when the clocks would be more than `max_skew_seconds` apart, those named in `times` at those
        seconds and the others where they are."""
        times = {clock: times.get(clock, self.seconds(clock)) for clock in self.clocks}
        if max(times.values()) - min(times.values()) > self.max_skew_seconds:
            covered = ", ".join(f"{clock} {seconds:.2f} s" for clock, seconds in times.items())
            raise ValueError(
                f"the speaker streams would drift apart ({covered}), more than max_skew_seconds="
                f"{self.max_skew_seconds}: codes at another rate than {self.rate} codes/s, audio pushed ahead of the "
                "speaker frames that give emotion, or a front end that stopped"
            )

    def seconds(self, clock: str) -> float:
        """Speaker time covered by `clock` (a code stream or `"emotion"`)."""
        if clock == "emotion":
            return len(self.emotion) * self.group_size / self.fps
        return len(self.codes[clock]) / self.rate

    def group_is_complete(self) -> bool:
        """Whether every clock has passed the open group's end (its inputs are all known)."""
        end_frame = (self.closed + 1) * self.group_size
        for clock in self.clocks:
            if clock == "emotion":
                if len(self.emotion) <= self.closed:
                    return False
            elif len(self.codes[clock]) * self.fps <= end_frame * self.rate:
                return False
        return True

    def has_inputs(self) -> bool:
        """Whether anything was pushed for the open group or later (a turn's last, partial group)."""
        later_codes = any(len(self.codes[name]) > self.used[name] for name in CODE_STREAMS)
        return bool(self.words) or later_codes or len(self.emotion) > self.closed

    # -- closing ---------------------------------------------------------------------------------------

    def close_group(self, final: bool = False) -> tuple[list[str], dict[str, np.ndarray], int | None]:
        """Take the open group's inputs and close it.

        Args:
            final (`bool`): the turn ends with this group: inputs ending exactly on its end boundary enter it, later
                ones are dropped.

        Returns:
            `(texts, codes, emotion)`: the group's words in order of their end, its codes per code stream of the
            modalities, and its emotion id (`None` when emotion is not a modality).
        """
        emotion = None
        if "emotion" in self.modalities:
            if len(self.emotion) <= self.closed:
                raise ValueError(f"group {self.closed} has no emotion id: push its emotion_ids or speaker frames")
            emotion = self.emotion[self.closed]
        end_frame = (self.closed + 1) * self.group_size
        inside = (lambda frame: frame <= end_frame) if final else (lambda frame: frame < end_frame)
        taken = sorted((word for word in self.words if inside(word[1])), key=lambda word: word[0])
        self.words = [] if final else [word for word in self.words if not inside(word[1])]
        codes = {}
        for name in CODE_STREAMS:
            if name in self.modalities:
                stop = self.used[name]
                while stop < len(self.codes[name]) and inside(code_frames(stop, self.fps, self.rate)):
                    stop += 1
                codes[name] = np.asarray(self.codes[name][self.used[name] : stop], dtype=np.int64)
                self.used[name] = stop
        self.closed += 1
        return [text for _, _, text in taken], codes, emotion


__all__ = ["SpeakerInputs"]
