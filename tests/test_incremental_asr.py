"""LocalAgreementASR: words of a growing recording confirmed once stable, never revised, in order, none lost."""

import numpy as np
import pytest

from mmlistener.processing.incremental_asr import LocalAgreementASR, agreed_prefix

RATE = 16_000
SCRIPT = [(f"word{k}", 0.3 + 0.4 * k, 0.6 + 0.4 * k) for k in range(20)]  # (text, start, end) in seconds


def clock_audio(seconds: float) -> np.ndarray:
    """Audio whose every sample tells its own time, so a fake recogniser knows where a buffer starts."""
    return (np.arange(round(seconds * RATE)) / 1e7).astype(np.float32)


class ScriptedRecognizer:
    """Transcribes a buffer into the words of SCRIPT that lie wholly inside it; the last word heard, while within
    0.3 s of the buffer's end, comes out garbled (as an ASR revises the word still being spoken)."""

    def __init__(self):
        self.calls = []

    def transcribe(self, audio):
        start = round(float(audio[0]) * 1e7) / RATE if len(audio) else 0.0
        end = start + len(audio) / RATE
        self.calls.append((start, end))
        words = [(text, s, e) for text, s, e in SCRIPT if s >= start - 1e-9 and e <= end]
        out = [{"text": text, "start": s - start, "end": e - start} for text, s, e in words]
        if words and end - words[-1][2] < 0.3:
            out[-1]["text"] = out[-1]["text"].upper() + "?!" if len(self.calls) % 2 else "garbled"
        return out


def run(asr, audio, chunk: int) -> list[list[dict]]:
    pushes = [asr.push(audio[first : first + chunk]) for first in range(0, len(audio), chunk)]
    return [*pushes, asr.finish()]


def test_agreed_prefix_ignores_case_and_punctuation():
    a = [{"text": "Hello,"}, {"text": "world"}, {"text": "again"}]
    b = [{"text": "hello"}, {"text": "World!"}, {"text": "gain"}]
    assert agreed_prefix(a, b) == 2
    assert agreed_prefix(a, []) == 0


def test_agreed_prefix_agrees_with_the_same_speech_cut_into_other_words():
    words = [{"text": text} for text in ("New", "York", "is", "big")]
    assert agreed_prefix(words, [{"text": "new york"}, {"text": "is"}, {"text": "small"}]) == 3
    assert agreed_prefix([{"text": "no"}, {"text": "no"}, {"text": "yes"}], [{"text": "nono"}, {"text": "no"}]) == 2


def test_every_word_is_confirmed_once_in_order_with_its_times():
    asr = LocalAgreementASR(ScriptedRecognizer(), update_seconds=0.5, vad=False)
    audio = clock_audio(8.6)
    words = [word for push in run(asr, audio, 320) for word in push]
    assert [w["text"] for w in words] == [text for text, _, end in SCRIPT if end <= 8.6]
    for word, (_, start, end) in zip(words, SCRIPT):
        assert word["start"] == pytest.approx(start, abs=1e-4) and word["end"] == pytest.approx(end, abs=1e-4)


def test_a_word_waits_for_agreement_and_says_when_it_was_confirmed():
    asr = LocalAgreementASR(ScriptedRecognizer(), update_seconds=0.5, vad=False)
    pushes = run(asr, clock_audio(8.6), 800)
    for index, words in enumerate(pushes[:-1]):
        pushed_until = (index + 1) * 800 / RATE
        for word in words:
            assert word["known"] <= pushed_until + 1e-9  # confirmed from audio already pushed
            # stable: still garbled within 0.3 s of the audio's end, so confirmed only with more audio after it
            assert word["known"] - word["end"] >= 0.3 - 1e-9


def test_the_words_do_not_depend_on_the_chunking():
    audio = clock_audio(6.0)
    results = []
    for chunk in (1, 317, 8000, len(audio)):
        asr = LocalAgreementASR(ScriptedRecognizer(), update_seconds=0.5, vad=False)
        results.append([word for push in run(asr, audio, chunk) for word in push])
    assert all(result == results[0] for result in results[1:])


def test_a_long_buffer_is_cut_after_the_confirmed_words():
    recognizer = ScriptedRecognizer()
    asr = LocalAgreementASR(recognizer, update_seconds=0.5, max_buffer_seconds=2.0, vad=False)
    words = [word for push in run(asr, clock_audio(8.6), 1600) for word in push]
    assert max(end - start for start, end in recognizer.calls) <= 2.5 + 1e-9
    assert [w["text"] for w in words] == [text for text, _, end in SCRIPT if end <= 8.6]


def test_background_transcription_confirms_the_same_words():
    audio = clock_audio(5.0)
    sync = LocalAgreementASR(ScriptedRecognizer(), update_seconds=0.5, vad=False)
    threaded = LocalAgreementASR(ScriptedRecognizer(), update_seconds=0.5, vad=False, background=True)
    expected = [w["text"] for push in run(sync, audio, 320) for w in push]
    words = [w["text"] for push in run(threaded, audio, 320) for w in push]
    stable = [text for text, _, end in SCRIPT if end <= 5.0 - 0.3]  # the last word is garbled in any transcription
    assert expected[: len(stable)] == words[: len(stable)] == stable and len(words) == len(expected)


def test_a_failing_recogniser_is_reported_by_the_next_push():
    class Broken:
        def transcribe(self, audio):
            raise OSError("model file truncated")

    asr = LocalAgreementASR(Broken(), update_seconds=0.5, vad=False)
    with pytest.raises(OSError, match="truncated"):
        asr.push(clock_audio(1.0))
    threaded = LocalAgreementASR(Broken(), update_seconds=0.5, vad=False, background=True)
    threaded.push(clock_audio(1.0))
    with pytest.raises(RuntimeError, match="speech recogniser failed: model file truncated"):
        threaded.finish()


def test_silence_is_not_transcribed():
    recognizer = ScriptedRecognizer()
    asr = LocalAgreementASR(recognizer, update_seconds=0.5)  # silero VAD
    assert run(asr, np.zeros(3 * RATE, dtype=np.float32), 1600) == [[]] * 31
    assert recognizer.calls == []


def test_bad_settings_and_input_are_named():
    with pytest.raises(ValueError, match="update_seconds < max_buffer_seconds"):
        LocalAgreementASR(ScriptedRecognizer(), update_seconds=20, vad=False)
    asr = LocalAgreementASR(ScriptedRecognizer(), vad=False)
    with pytest.raises(ValueError, match="mono"):
        asr.push(np.zeros((10, 2)))
    asr.finish()
    with pytest.raises(ValueError, match="finished"):
        asr.push(np.zeros(10))
