"""Sliding-window SpeechTokenizer codes on a tiny random model: the codes depend on the audio alone (not on its
chunking), match the whole-clip extraction and offline's code count, follow the documented window schedule, and
reject bad settings and audio."""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tiny_speech import tiny_codec

from mmlistener.processing import SlidingWindowCodes, sliding_window_encode
from mmlistener.processing.streaming_codes import block_end

HOP = 320


CODEC = tiny_codec(n_q=2)  # module level: hypothesis tests cannot take function-scoped fixtures


def noise(samples: int, seed: int = 0) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal(samples)).astype(np.float32)


def stream_codes(stream: SlidingWindowCodes, audio: np.ndarray, sizes) -> tuple[list[int], list[int], list[int]]:
    """Push `audio` in chunks of `sizes` (cycled) then finish: `(content, acoustic, codes per push)`."""
    content, acoustic, counts = [], [], []
    position, index = 0, 0
    while position < len(audio):
        size = sizes[index % len(sizes)]
        codes = stream.push(audio[position : position + size])
        assert len(codes["content"]) == len(codes["acoustic"])
        content += codes["content"]
        acoustic += codes["acoustic"]
        counts.append(len(codes["content"]))
        position, index = position + size, index + 1
    codes = stream.finish()
    return content + codes["content"], acoustic + codes["acoustic"], counts


window_cases = st.tuples(
    st.sampled_from([1.0, 2.0, 2.5, 4.0, 40 / 3, 7.0]),  # hop codes (a fraction: blocks of uneven length)
    st.integers(0, 6),  # right context codes
    st.integers(0, 12),  # window codes beyond the longest block and the right context
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    case=window_cases,
    samples=st.integers(0, 12000),
    sizes=st.lists(st.integers(0, 2500), min_size=1, max_size=8).filter(any),
    seed=st.integers(0, 3),
)
def test_codes_do_not_depend_on_chunking(case, samples, sizes, seed):
    hop, right, extra = case
    window = math.ceil(hop) + 1 + right + extra
    audio = noise(samples, seed)
    stream = SlidingWindowCodes(CODEC, hop / 50, window / 50, right / 50)
    content, acoustic, counts = stream_codes(stream, audio, sizes)
    expected = sliding_window_encode(CODEC, audio, hop / 50, window / 50, right / 50)
    assert (content, acoustic) == expected
    assert len(content) == -(-samples // HOP)  # ceil(samples / 320), as offline encode
    ends = {block_end(block, hop) for block in range(len(content) + 1)}
    assert all(total in ends or total == 0 for total in np.cumsum(counts[:-1]))  # pushes give whole blocks only


def test_blocks_end_with_the_code_that_closes_each_group():
    """A hop of one group of 8 frames at 30 fps: block `b` ends with the first code (20 ms) that ends after group
    `b`, the code with which a listener stream closes the group."""
    assert [block_end(block, 8 / 30 * 50) for block in range(6)] == [14, 27, 41, 54, 67, 81]
    for block in range(30):
        codes = block_end(block, 8 / 30 * 50)
        assert codes * 30 > (block + 1) * 8 * 50 >= (codes - 1) * 30


@pytest.mark.parametrize("samples", [1, 319, 320, 321, 3199, 3200, 3201, 8000])
def test_code_count_matches_offline(samples):
    audio = noise(samples)
    offline = CODEC.encode(audio)
    content, acoustic = sliding_window_encode(CODEC, audio, 0.08, 0.3, 0.06)
    assert len(content) == len(acoustic) == len(offline[0]) == -(-samples // HOP)
    pushed = SlidingWindowCodes(CODEC, 0.08, 0.3, 0.06)
    assert stream_codes(pushed, audio, [samples])[:2] == (content, acoustic)


def test_blocks_are_final_once_their_right_context_is_known():
    stream = SlidingWindowCodes(CODEC, window_seconds=0.4, right_context_seconds=0.1, hop_seconds=0.1)
    audio = noise(16000)
    assert stream.push(audio[: 11 * HOP - 1]) == {"content": [], "acoustic": []}  # block 0 (codes 0..5) needs 0..10
    first = stream.push(audio[11 * HOP - 1 : 11 * HOP])
    assert len(first["content"]) == len(first["acoustic"]) == 6
    assert stream.push(audio[11 * HOP : 16 * HOP - 1])["content"] == []
    assert len(stream.push(audio[16 * HOP - 1 : 16 * HOP])["acoustic"]) == 5
    # a push that completes several blocks returns them all
    assert len(stream.push(audio[16 * HOP : 31 * HOP])["content"]) == 15


def test_blocks_come_from_the_documented_windows():
    """Block `b` = codes `[e_(b-1), e_b)`, `e_b = 5b + 6`, of the window of codes `[max(0, e - 20), e)`,
    `e = e_b + 5`; the tail from the window ending at the clip's end."""
    audio = noise(50 * HOP + 100, seed=1)
    content, acoustic = sliding_window_encode(CODEC, audio, window_seconds=0.4, right_context_seconds=0.1,
                                              hop_seconds=0.1)  # fmt: skip
    for block in (0, 1, 3, 7):
        first, stop = (5 * block + 1 if block else 0), 5 * block + 6
        end = stop + 5
        start = max(0, end - 20)
        window_content, window_acoustic = CODEC.encode(audio[start * HOP : end * HOP])
        codes = slice(first - start, stop - start)
        assert content[first:stop] == window_content[codes]
        assert acoustic[first:stop] == window_acoustic[codes]
    total = 51  # 16100 samples; blocks final up to e_7 = 41 (it needs 46 <= 50 codes of audio), then the tail
    tail_content, tail_acoustic = CODEC.encode(audio[(total - 20) * HOP :])
    assert (content[41:], acoustic[41:]) == (tail_content[-10:], tail_acoustic[-10:])


def test_right_context_decides_agreement_with_offline():
    """What holds for this architecture: the bidirectional LSTM makes each code depend on the whole window, but in
    this tiny random model that dependence fades within a few codes, so with 2 s windows and 0.4 s of right
    context every code equals offline's; with no right context, codes at the window's right edge often differ,
    and acoustic (residual level 2) codes far more often than content codes."""
    audio = noise(4 * 16000, seed=2)
    offline_content, offline_acoustic = CODEC.encode(audio)
    assert sliding_window_encode(CODEC, audio, 0.2, 2.0, 0.4) == (offline_content, offline_acoustic)
    content, acoustic = sliding_window_encode(CODEC, audio, 0.2, 2.0, 0.0)
    acoustic_changed = np.mean(np.array(acoustic) != np.array(offline_acoustic))
    content_changed = np.mean(np.array(content) != np.array(offline_content))
    assert acoustic_changed > 0.25 and content_changed > 0.05
    assert acoustic_changed > content_changed


def test_finish_and_reset_start_a_new_clip():
    audio = noise(5000, seed=3)
    expected = sliding_window_encode(CODEC, audio, 0.08, 0.3, 0.06)
    stream = SlidingWindowCodes(CODEC, 0.08, 0.3, 0.06)
    assert stream.finish() == {"content": [], "acoustic": []}  # nothing pushed: no codes
    assert stream_codes(stream, audio, [700])[:2] == expected
    assert stream_codes(stream, audio, [1234])[:2] == expected  # finish started over
    stream.push(noise(3000, seed=4))
    stream.reset()
    assert stream_codes(stream, audio, [5000])[:2] == expected


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"window_seconds": 0.2, "right_context_seconds": 0.1, "hop_seconds": 0.12}, "must hold a block"),
        ({"window_seconds": 0.0}, "window_seconds must be a positive"),
        ({"window_seconds": -1.0}, "window_seconds must be a positive"),
        ({"window_seconds": 1.01}, "multiple of 0.02 s"),
        ({"window_seconds": float("nan")}, "window_seconds"),
        ({"right_context_seconds": -0.02}, "right_context_seconds must be a non-negative"),
        ({"hop_seconds": 0}, "hop_seconds must be at least one code"),
        ({"hop_seconds": 0.01}, "hop_seconds must be at least one code"),
        ({"hop_seconds": float("inf")}, "hop_seconds must be at least one code"),
    ],
)
def test_bad_settings_raise(kwargs, match):
    kwargs = {"hop_seconds": 8 / 30, **kwargs}  # one group of 8 frames at 30 fps unless the case sets it
    with pytest.raises(ValueError, match=match):
        SlidingWindowCodes(CODEC, **kwargs)
    with pytest.raises(ValueError, match=match):
        sliding_window_encode(CODEC, noise(3200), **kwargs)


@pytest.mark.parametrize(
    ("audio", "match"),
    [
        (np.zeros((2, 320), dtype=np.float32), r"shape \(samples,\)"),
        (np.float32(0.5), r"shape \(samples,\)"),
        (np.array([0.0, np.nan, 0.1], dtype=np.float32), "NaN"),
        (np.array([0.0, np.inf], dtype=np.float32), "infinite"),
    ],
)
def test_bad_audio_raises(audio, match):
    stream = SlidingWindowCodes(CODEC, hop_seconds=0.1)
    stream.push(noise(1000))
    with pytest.raises(ValueError, match=match):
        stream.push(audio)
    assert stream.samples == 1000  # the bad chunk was not kept
    with pytest.raises(ValueError, match=match):
        sliding_window_encode(CODEC, audio, hop_seconds=0.1)


@pytest.mark.parametrize("codes", [1, 3, 7, 10, 14])
def test_a_hop_of_whole_codes_in_seconds_is_whole(codes):
    """`hop_seconds = codes / 50` is `codes` codes, though `codes / 50 * 50` may not be exactly `codes` in floats:
    a window of `codes + 1` codes holds its blocks."""
    stream = SlidingWindowCodes(CODEC, codes / 50, (codes + 1) / 50, 0.0)
    assert stream.hop == codes and [block_end(block, stream.hop) for block in range(3)] == [
        codes + 1, 2 * codes + 1, 3 * codes + 1
    ]
