"""eSpeak NG speech of the synthetic corpus: words that sound, voices that differ, prosody that follows emotion."""

import numpy as np
import pytest

from mmlistener.data.speech_synthesis import CORPUS_VOICES, HELDOUT_VOICE, SAMPLE_RATE, Voice, synthesize_word


def _rms(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(audio))))


def test_a_word_is_audible_speech_trimmed_to_its_extent():
    audio = synthesize_word("punchline", CORPUS_VOICES[0])
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert 0.25 < len(audio) / SAMPLE_RATE < 1.2  # one spoken word, not a second of silence around it
    assert _rms(audio) > 0.02 and np.abs(audio).max() < 1.0
    edge = SAMPLE_RATE // 100  # 10 ms: no silent lead-in or tail (the word's times are its sound's)
    assert np.abs(audio[:edge]).max() > 0.002 and np.abs(audio[-edge:]).max() > 0.002
    spectrum = np.abs(np.fft.rfft(audio))
    frequencies = np.fft.rfftfreq(len(audio), 1 / SAMPLE_RATE)
    assert spectrum[(frequencies > 80) & (frequencies < 4000)].sum() > 0.8 * spectrum.sum()  # speech band


def test_words_and_voices_sound_different():
    so, bananas = synthesize_word("so", CORPUS_VOICES[0]), synthesize_word("bananas", CORPUS_VOICES[0])
    assert len(bananas) > 1.3 * len(so)
    male, female = synthesize_word("today", CORPUS_VOICES[0]), synthesize_word("today", CORPUS_VOICES[1])

    def pitch(audio):  # autocorrelation peak between 60 and 400 Hz over the loudest 0.1 s
        centre = int(np.argmax(np.convolve(audio**2, np.ones(800), "same")))
        frame = audio[max(centre - 800, 0) : centre + 800]
        correlation = np.correlate(frame, frame, "full")[len(frame) - 1 :]
        lags = np.arange(SAMPLE_RATE // 400, SAMPLE_RATE // 60)
        return SAMPLE_RATE / lags[np.argmax(correlation[lags])]

    assert pitch(female) > 1.3 * pitch(male)


def test_prosody_follows_emotion():
    voice = CORPUS_VOICES[2]
    neutral, sad, anger = (synthesize_word("terrible", voice, emotion) for emotion in (0, 2, 6))
    assert _rms(anger) > 2 * _rms(neutral) > 2 * _rms(sad)  # Anger loud, Sad quiet
    assert len(sad) > 1.15 * len(neutral) > 1.15 * len(anger)  # Sad slow, Anger fast


def test_synthesis_is_deterministic_and_cached_read_only():
    first = synthesize_word("wonderful", HELDOUT_VOICE, 1)
    np.testing.assert_array_equal(first, synthesize_word("wonderful", HELDOUT_VOICE, 1).copy())
    with pytest.raises(ValueError):
        first[0] = 0.0


def test_the_same_words_give_the_same_samples_in_every_process():
    """A breathy variant's noise is seeded: two fresh processes saying the same words get the same samples (unseeded,
    each process drew other noise, and the same corpus came out different from run to run)."""
    import subprocess
    import sys

    code = ("import hashlib; from mmlistener.data.speech_synthesis import CORPUS_VOICES, synthesize_word; "
            "voice = next(v for v in CORPUS_VOICES if v.name == 'en+f2'); "
            "print([hashlib.sha256(synthesize_word(w, voice, e).tobytes()).hexdigest()[:16] "
            "for w, e in (('then', 2), ('furious', 6), ('unbelievable', 3))])")
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
            for _ in range(2)]  # fmt: skip
    assert runs[0] == runs[1] and runs[0].count("'") == 6


def test_unknown_voice_and_emotion_are_named():
    with pytest.raises(ValueError, match="no voice 'xx-nonexistent'"):
        synthesize_word("so", Voice("xx-nonexistent"))
    with pytest.raises(ValueError, match="no prosody for emotion 4"):
        synthesize_word("so", CORPUS_VOICES[0], 4)
