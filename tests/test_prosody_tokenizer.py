"""The weight-free prosody tokenizer on synthesised audio: silence, loudness, pitch, pitch movement, voicing and
spectral shape land in their documented codes; the codes are deterministic, frame-local and as many as
SpeechTokenizer's; a stream gives the offline codes for any chunking; bad audio is refused by name."""

from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mmlistener.processing import ProsodyTokenizer, StreamingProsodyCodes
from mmlistener.processing import prosody_tokenizer as layout
from mmlistener.processing.streaming_codes import code_count

RATE, HOP = 16000, 320
TOKENIZER = ProsodyTokenizer()  # module level: hypothesis tests cannot take function-scoped fixtures


def harmonic(f0, seconds: float = 1.0, amplitude: float = 0.1, formants=None) -> np.ndarray:
    """A harmonic complex (20 partials, 1/h roll-off) of pitch `f0` (Hz: a number, or `(start, end)` for a
    log-linear glide), peak `amplitude`; `formants` (Hz) reshape its spectrum with 150 Hz wide resonances."""
    samples = int(seconds * RATE)
    start, end = (f0, f0) if np.isscalar(f0) else f0
    pitch = start * (end / start) ** (np.arange(samples) / samples)
    phase = 2 * np.pi * np.cumsum(pitch) / RATE
    audio = np.zeros(samples)
    for h in range(1, 21):
        gain = 1 / h if formants is None else sum(np.exp(-(((h * pitch - f) / 150) ** 2)) for f in formants)
        audio += gain * np.sin(h * phase) * (h * pitch < RATE / 2)
    return (amplitude * audio / np.abs(audio).max()).astype(np.float32)


def noise(seconds: float = 1.0, amplitude: float = 0.05, seed: int = 0, smooth: int = 1) -> np.ndarray:
    """White noise, low-passed by a moving average of `smooth` samples, of RMS `amplitude`."""
    audio = np.random.default_rng(seed).standard_normal(int(seconds * RATE))
    audio = np.convolve(audio, np.ones(smooth) / smooth, mode="same")
    return (amplitude * audio / audio.std()).astype(np.float32)


def middle(codes: list[int], margin: int = 5) -> np.ndarray:
    """The codes away from the clip's edges (where the windows see the zeros around it)."""
    return np.asarray(codes[margin:-margin])


def decode(code: int) -> dict:
    """The documented layout of one acoustic code, read back."""
    if code < layout.SILENCE_CODES:
        return {"kind": "silence", "level": code}
    if code < layout.VOICED_OFFSET:
        loudness, brightness = divmod(code - layout.UNVOICED_OFFSET, layout.BRIGHTNESS_BINS)
        return {"kind": "unvoiced", "loudness": loudness, "brightness": brightness}
    rest, movement = divmod(code - layout.VOICED_OFFSET, layout.MOVEMENTS)
    loudness, pitch = divmod(rest, layout.PITCH_BINS)
    return {"kind": "voiced", "loudness": loudness, "pitch": pitch, "movement": movement}


def decoded(codes, field: str) -> list:
    return [decode(int(code)).get(field) for code in codes]


def test_layout_fits_the_model_vocabulary():
    assert layout.VOICED_OFFSET == layout.SILENCE_CODES + layout.LOUDNESS_BINS * layout.BRIGHTNESS_BINS
    assert layout.ACOUSTIC_CODES == layout.VOICED_OFFSET + layout.LOUDNESS_BINS * layout.PITCH_BINS * 3 <= 1024
    assert layout.CONTENT_CODES <= 1024
    assert 60 * 2 ** (layout.PITCH_BINS * layout.PITCH_STEP_SEMITONES / 12) > layout.PITCH_MAX_HZ
    assert layout.LOOKAHEAD_SAMPLES == 560 and layout.LOOKAHEAD_MS == 35.0
    audio = np.concatenate([harmonic((80, 450), 2.0, 0.9), noise(1.0, 0.3), np.zeros(3000, np.float32)])
    content, acoustic = TOKENIZER.encode(audio)
    assert 0 <= min(acoustic) and max(acoustic) < layout.ACOUSTIC_CODES
    assert 0 <= min(content) and max(content) < layout.CONTENT_CODES


def test_silence_gives_silence_codes_by_level():
    for audio in (np.zeros(8000, np.float32), noise(0.5, 10 ** (-80 / 20)), noise(0.5, 10 ** (-60 / 20))):
        content, acoustic = TOKENIZER.encode(audio)
        assert max(acoustic) < 16 and max(content) < 16
    digital = TOKENIZER.encode(np.zeros(8000, np.float32))[1]
    quiet, hiss = TOKENIZER.encode(noise(0.5, 10 ** (-80 / 20)))[1], TOKENIZER.encode(noise(0.5, 10 ** (-60 / 20)))[1]
    assert set(digital) == {0}
    assert 0 < middle(quiet).min() and middle(quiet).max() < middle(hiss).min()  # 16 levels of low energy


@pytest.mark.parametrize("make", [lambda gain: harmonic(150, amplitude=gain), lambda gain: noise(amplitude=gain)])
def test_louder_copy_gives_higher_loudness_bins(make):
    quiet, loud = make(0.02), make(0.2)  # 20 dB apart: three bins of 6 dB
    quiet_bins = decoded(middle(TOKENIZER.encode(quiet)[1]), "loudness")
    loud_bins = decoded(middle(TOKENIZER.encode(loud)[1]), "loudness")
    assert None not in quiet_bins + loud_bins
    assert min(loud_bins) >= max(quiet_bins) + 3
    # absolute dBFS: a 0 dBFS-peak tone sits in the top bin
    assert set(decoded(middle(TOKENIZER.encode(make(0.9))[1]), "loudness")) <= {layout.LOUDNESS_BINS - 1}


def test_pitch_bins_follow_absolute_semitones():
    low = decoded(middle(TOKENIZER.encode(harmonic(120))[1]), "pitch")
    high = decoded(middle(TOKENIZER.encode(harmonic(240))[1]), "pitch")
    assert None not in low + high  # voiced
    assert min(high) > max(low) and 5 <= min(high) - max(low) <= 7  # an octave: 12 semitones, 6 bins
    for f0, expected in ((90, 3), (143, 7), (285, 13)):  # bin centres: 60 Hz * 2 ** ((2 b + 1) / 12)
        assert set(decoded(middle(TOKENIZER.encode(harmonic(f0))[1]), "pitch")) == {expected}, f0


@pytest.mark.parametrize(
    ("glide", "movement"),
    [((100, 200), layout.RISING), ((200, 100), layout.FALLING), ((150, 150), layout.FLAT)],
)
def test_glides_give_their_movement(glide, movement):
    codes = middle(TOKENIZER.encode(harmonic(glide, seconds=0.6))[1])  # 20 semitones per second
    movements = decoded(codes, "movement")
    assert None not in movements
    assert movements.count(movement) >= 0.9 * len(movements)
    if glide[0] != glide[1]:
        pitches = decoded(codes, "pitch")
        assert (np.diff(pitches) * (1 if movement == layout.RISING else -1) >= 0).all()


def test_noise_is_unvoiced_and_brightness_follows_the_spectrum():
    white, dark = TOKENIZER.encode(noise())[1], TOKENIZER.encode(noise(smooth=8))[1]
    assert set(decoded(middle(white), "kind")) == {"unvoiced"}
    assert set(decoded(middle(dark), "kind")) == {"unvoiced"}
    assert min(decoded(middle(white), "brightness")) > max(decoded(middle(dark), "brightness"))


def test_different_spectra_give_different_content_codes():
    ee = harmonic(150, formants=(300, 2300, 3000))  # vowel-like spectra on the same pitch and level
    ah = harmonic(150, formants=(750, 1150, 2500))
    content_ee, acoustic_ee = TOKENIZER.encode(ee)
    content_ah, acoustic_ah = TOKENIZER.encode(ah)
    assert not set(middle(content_ee)) & set(middle(content_ah))
    assert len(set(middle(content_ee))) <= 2  # a steady sound keeps its class
    assert len(set(middle(TOKENIZER.encode(noise())[0])) & set(middle(content_ee))) == 0
    # the content codes leave out the level (c0): copies 12 dB quieter to 18 dB louder have the same classes
    for sound, content in ((ee, content_ee), (ah, content_ah), (noise(), TOKENIZER.encode(noise())[0])):
        for gain in (0.25, 4, 8):
            assert TOKENIZER.encode(gain * sound)[0][5:-5] == content[5:-5], gain
    assert set(decoded(middle(acoustic_ee), "kind")) == set(decoded(middle(acoustic_ah), "kind")) == {"voiced"}


def test_codes_are_deterministic():
    audio = np.concatenate([harmonic((110, 180), 0.7), noise(0.3), np.zeros(2000, np.float32)])
    first = TOKENIZER.encode(audio)
    assert ProsodyTokenizer().encode(audio.copy()) == first
    assert TOKENIZER.encode(audio) == first


@pytest.mark.parametrize("samples", [1, 319, 320, 321, 880, 3201, 16000, 90000])
def test_code_count_matches_speech_tokenizer(samples):
    audio = (0.1 * np.random.default_rng(0).standard_normal(samples)).astype(np.float32)
    content, acoustic = TOKENIZER.encode(audio)
    assert len(content) == len(acoustic) == code_count(samples) == -(-samples // HOP)


def mixture(samples: int, seed: int) -> np.ndarray:
    """Speech-like test audio: glides, noise bursts and silences in a random order, cut to `samples`."""
    rng = np.random.default_rng(seed)
    pieces = []
    while sum(map(len, pieces)) < samples:
        kind, seconds = rng.integers(3), rng.uniform(0.05, 0.3)
        if kind == 0:
            pieces.append(harmonic(tuple(rng.uniform(70, 400, 2)), seconds, rng.uniform(0.01, 0.5)))
        elif kind == 1:
            pieces.append(noise(seconds, rng.uniform(0.003, 0.2), seed=int(rng.integers(100))))
        else:
            pieces.append(np.zeros(int(seconds * RATE), np.float32))
    return np.concatenate(pieces)[:samples] if pieces else np.zeros(0, np.float32)


def stream_codes(stream, audio: np.ndarray, sizes) -> tuple[list[int], list[int]]:
    """Push `audio` in chunks of `sizes` (cycled), checking each push's final codes, then finish."""
    content, acoustic = [], []
    position, index = 0, 0
    while position < len(audio):
        size = sizes[index % len(sizes)]
        codes = stream.push(audio[position : position + size])
        position, index = position + size, index + 1
        content += codes["content"]
        acoustic += codes["acoustic"]
        # code k is final once its look-ahead is in: samples >= 320 (k + 1) + LOOKAHEAD_SAMPLES
        assert len(acoustic) == len(content) == max(0, (min(position, len(audio)) - layout.LOOKAHEAD_SAMPLES) // HOP)
        assert stream.samples == min(position, len(audio))
    codes = stream.finish()
    assert stream.samples == 0
    return content + codes["content"], acoustic + codes["acoustic"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    samples=st.integers(0, 12000),
    sizes=st.lists(st.integers(0, 2500), min_size=1, max_size=8).filter(any),
    seed=st.integers(0, 5),
)
def test_streamed_codes_equal_offline_for_any_chunking(samples, sizes, seed):
    audio = mixture(samples, seed)
    content, acoustic = stream_codes(TOKENIZER.streaming(), audio, sizes)
    if samples == 0:
        assert content == acoustic == []
    else:
        assert (content, acoustic) == TOKENIZER.encode(audio)


@pytest.mark.parametrize("size", [1, 320, 4267, 16000])
def test_streaming_by_fixed_chunks_and_reset(size):
    audio = mixture(100000, seed=7)  # 313 codes: across the offline blocks of 256 frames
    stream = StreamingProsodyCodes(TOKENIZER)
    stream.push(mixture(5000, seed=8))  # a turn abandoned midway: reset forgets it
    stream.reset()
    assert stream.samples == 0
    assert stream_codes(stream, audio, [size]) == TOKENIZER.encode(audio)
    assert stream_codes(stream, audio, [size]) == TOKENIZER.encode(audio)  # finish() starts over too


def test_audio_inputs_stream_the_codes():
    """The live front end takes the streamer where it takes SpeechTokenizer's sliding window."""
    from mmlistener.streaming.audio_inputs import AudioInputs

    processor = SimpleNamespace(fps=30, group_size=8, modalities=("acoustic", "content"))
    inputs = AudioInputs(processor, codes=TOKENIZER.streaming(), neutral_emotion=False)
    audio = mixture(20000, seed=9)
    pushed = [inputs.push(chunk, RATE) for chunk in np.array_split(audio, 7)] + [inputs.finish()]
    content = [code for features in pushed for code in features["content_codes"]]
    acoustic = [code for features in pushed for code in features["acoustic_codes"]]
    assert (content, acoustic) == TOKENIZER.encode(audio)


def test_stream_memory_is_bounded():
    stream = ProsodyTokenizer().streaming()
    sizes = []
    for seed in range(200):  # 20 s in chunks of 0.1 s
        stream.push(mixture(1600, seed))
        sizes.append(stream._buffer.nbytes)
    assert max(sizes[100:]) <= max(sizes[:20])  # does not grow with the stream
    assert max(sizes) <= 8 * (1600 + 2 * HOP + layout.PITCH_WINDOW)


def test_a_code_depends_only_on_its_neighbourhood():
    """Code k sees samples [320 k - 560, 320 (k + 1) + 560): changing every sample outside leaves it as it was,
    and changing the samples inside changes it."""
    audio = mixture(32000, seed=3)
    other = mixture(32000, seed=4) * 3
    content, acoustic = TOKENIZER.encode(audio)
    changed_inside = 0
    for k in (0, 7, 30, 55, 80, 99):
        start = max(0, HOP * k - layout.LOOKBEHIND_SAMPLES)
        stop = HOP * (k + 1) + layout.LOOKAHEAD_SAMPLES
        outside = other.copy()
        outside[start:stop] = audio[start:stop]
        changed_content, changed_acoustic = TOKENIZER.encode(outside)
        assert (changed_content[k], changed_acoustic[k]) == (content[k], acoustic[k]), k
        inside = audio.copy()
        inside[start:stop] = other[start:stop]
        changed_content, changed_acoustic = TOKENIZER.encode(inside)
        changed_inside += (changed_content[k], changed_acoustic[k]) != (content[k], acoustic[k])
    assert changed_inside >= 4


def test_the_last_codes_see_zeros_after_the_end():
    """A clip's last code is the stream's finished one: zeros stand for the samples after the end, as in a
    longer clip that goes on in silence."""
    audio = harmonic(150, 0.5)
    longer = np.concatenate([audio, np.zeros(2000, np.float32)])
    assert TOKENIZER.encode(audio)[1][:-1] == TOKENIZER.encode(longer)[1][: code_count(len(audio)) - 1]


@pytest.mark.parametrize(
    ("audio", "match"),
    [
        (np.zeros((1600, 2), np.float32), r"mono audio of shape \(samples,\).*stereo"),
        (np.array([0.0, np.nan, 0.1], np.float32), "NaN"),
        (np.array([0.0, np.inf], np.float32), "NaN or infinite"),
        (np.zeros(0, np.float32), "empty"),
    ],
)
def test_bad_audio_is_refused_by_name(audio, match):
    with pytest.raises(ValueError, match=match):
        TOKENIZER.encode(audio)
    if len(audio):  # an empty chunk is a valid push
        stream = TOKENIZER.streaming()
        with pytest.raises(ValueError, match=match):
            stream.push(audio)
        assert stream.samples == 0
