"""LocalAgreementASR against a recogniser that behaves like a real one: each transcription moves the words' times
(one shift for the call, a jitter per boundary) and may cut the same speech into other words (two merged, one
split). Whatever the chunking, every word of the script is confirmed once: never twice, none lost."""

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from test_incremental_asr import RATE, clock_audio, run

from mmlistener.processing.incremental_asr import LocalAgreementASR, after_confirmed, normalized

VOCABULARY = ("no", "yes", "the", "new", "york", "listen", "right", "mm")
MAX_SHIFT, MAX_JITTER = 0.05, 0.03  # seconds; with words of 0.2 s or more, a cut never reaches the next word's middle


def script_of(words: list[tuple[int, float, float]]) -> list[tuple[str, float, float]]:
    """`(text, start, end)` of words given as `(vocabulary index, duration, gap before)`, from 0.3 s on."""
    script, time = [], 0.3
    for index, duration, gap in words:
        start = time + gap
        script.append((VOCABULARY[index], start, start + duration))
        time = start + duration
    return script


class JitteryRecognizer:
    """Transcribes a buffer into the script's words heard in it (middle inside, end inside), each call with its own
    times and segmentation; the last word, while within 0.3 s of the buffer's end, is still being decided (a text
    no other call gives)."""

    def __init__(self, script, seed: int, resegment: float):
        self.script, self.rng, self.resegment = script, np.random.default_rng(seed), resegment
        self.calls = 0

    def transcribe(self, audio):
        self.calls += 1
        start = round(float(audio[0]) * 1e7) / RATE
        end = start + len(audio) / RATE
        heard = [list(word) for word in self.script if (word[1] + word[2]) / 2 >= start and word[2] <= end]
        if heard and end - heard[-1][2] < 0.3:
            heard[-1][0] = f"undecided{self.calls}"
        if len(heard) >= 2 and self.rng.random() < self.resegment:  # two words heard as one
            k = int(self.rng.integers(len(heard) - 1))
            heard[k : k + 2] = [[heard[k][0] + heard[k + 1][0], heard[k][1], heard[k + 1][2]]]
        if heard and self.rng.random() < self.resegment:  # one word heard as two
            k = int(self.rng.integers(len(heard)))
            text, first, last = heard[k]
            if len(text) >= 2:
                cut, middle = len(text) // 2, (first + last) / 2
                heard[k : k + 1] = [[text[:cut], first, middle], [text[cut:], middle, last]]
        shift = self.rng.uniform(-MAX_SHIFT, MAX_SHIFT)
        words = []
        for text, first, last in heard:
            first, last = (time - start + shift + self.rng.uniform(-MAX_JITTER, MAX_JITTER) for time in (first, last))
            first, last = np.clip([first, last], 0.0, end - start)
            words.append({"text": text, "start": float(min(first, last)), "end": float(last)})
        return words


def confirmed_text(pushes) -> str:
    return "".join(normalized(word["text"]) for push in pushes for word in push)


# nine touching "no"s cut into other words call after call: agreement must not wait for the same cut twice (word
# by word it did, until the full buffer dropped a word unrecognised)
REPEATED_WORDS = [(0, 0.5, gap) for gap in (0.25, 0.0, 0.25, 0.25, 0.0, 0.0, 0.0, 0.0, 0.0)]


@settings(max_examples=60, deadline=None)
@example(words=REPEATED_WORDS, seed=1, resegment=0.3, chunk=160, max_buffer_seconds=3.0)
@given(
    words=st.lists(
        st.tuples(st.integers(0, len(VOCABULARY) - 1), st.floats(0.2, 0.6), st.floats(0.0, 0.3)),
        min_size=1, max_size=16,
    ),
    seed=st.integers(0, 2**31 - 1),
    resegment=st.sampled_from([0.0, 0.3]),
    chunk=st.sampled_from([160, 317, 1600, 8000]),
    max_buffer_seconds=st.sampled_from([3.0, 15.0]),
)  # fmt: skip
def test_no_word_is_confirmed_twice_or_lost_when_times_jitter(words, seed, resegment, chunk, max_buffer_seconds):
    script = script_of(words)
    asr = LocalAgreementASR(JitteryRecognizer(script, seed, resegment), update_seconds=0.5,
                            max_buffer_seconds=max_buffer_seconds, vad=False)  # fmt: skip
    pushes = run(asr, clock_audio(script[-1][2] + 0.5), chunk)
    assert confirmed_text(pushes) == "".join(text for text, _, _ in script)
    known = [word["known"] for push in pushes for word in push]
    assert known == sorted(known)


def test_a_word_said_twice_is_two_words():
    script = [("no", 0.3, 0.6), ("no", 0.6, 0.9), ("no", 0.9, 1.2), ("right", 1.3, 1.7)]
    for seed in range(20):
        asr = LocalAgreementASR(JitteryRecognizer(script, seed, 0.0), update_seconds=0.5, vad=False)
        assert confirmed_text(run(asr, clock_audio(2.2), 800)) == "nononoright"


@pytest.mark.parametrize(
    "texts, confirmed, after",
    [(["New", "York", "city"], ["newyork"], ["city"]), (["New York", "city"], ["new", "york"], ["city"]),
     (["no", "no", "yes"], ["no"], ["no", "yes"]), (["nono", "yes"], ["no"], ["no", "yes"]), (["yes"], ["no"], None),
     (["new"], ["new", "york"], None), (["a"], [], ["a"]), ([], ["a"], None)],
)  # fmt: skip
def test_after_confirmed_matches_the_joined_texts(texts, confirmed, after):
    words = [{"text": text, "start": 1.0, "end": 2.0} for text in texts]
    found = after_confirmed(words, confirmed)
    assert (None if found is None else [word["text"] for word in found]) == after


def test_a_word_straddling_the_confirmed_ones_keeps_its_new_part():
    (rest,) = after_confirmed([{"text": "No-no", "start": 1.0, "end": 2.0}], ["no"])
    assert rest == {"text": "no", "start": 1.5, "end": 2.0}
