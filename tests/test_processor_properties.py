"""Property tests of the processor's inputs: valid clips always encode, without dropping or padding anything;
a clip with one bad argument either encodes the same way or raises a ValueError that names that argument."""

import math
import warnings

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mmlistener import ListenerProcessor
from mmlistener.processing import gpt2_tokenizer_from_tiktoken

FPS, GROUP, RATE = 30, 8, 50
WORDS = ("yes", "no", "well", "so", "okay", "right")
ARGUMENTS = ("words", "acoustic_codes", "emotion_ids", "listener_codes", "num_frames", "speaker_motion")
PROCESSOR = ListenerProcessor(gpt2_tokenizer_from_tiktoken())

property_settings = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def valid_clips(draw) -> dict:
    """A clip that must encode: words ending in the clip (ends on frame boundaries, so the group of each is
    known), acoustic codes within one group of the clip's count, one emotion id per group, and optionally
    listener codes (one per whole or started group) and longer speaker motion."""
    num_frames = draw(st.integers(1, 96))
    groups = math.ceil(num_frames / GROUP)
    words = []
    for _ in range(draw(st.integers(0, 5))):
        end_frame = draw(st.integers(0, num_frames))
        start = end_frame / FPS - draw(st.floats(0, 1))
        words.append({"text": draw(st.sampled_from(WORDS)), "start": start, "end": end_frame / FPS})
    codes = max(0, round(num_frames / FPS * RATE) + draw(st.integers(-12, 12)))
    clip = {
        "words": words,
        "acoustic_codes": draw(st.lists(st.integers(0, 1023), min_size=codes, max_size=codes)),
        "emotion_ids": draw(st.lists(st.integers(0, 7), min_size=groups, max_size=groups)),
        "num_frames": num_frames,
    }
    if draw(st.booleans()):
        count = draw(st.sampled_from(sorted({num_frames // GROUP, groups} - {0})))
        clip["listener_codes"] = draw(st.lists(st.integers(0, 255), min_size=count, max_size=count))
    if draw(st.booleans()):
        frames = num_frames + draw(st.integers(0, 8))
        clip["speaker_motion"] = np.random.default_rng(frames).standard_normal((frames, 56))
    return clip


def bad_values(name: str, clip: dict):
    """Wrong values for argument `name` of `clip`: other dtypes, shapes, lengths, ranges and units."""
    num_frames, codes = clip["num_frames"], clip["acoustic_codes"]
    if name == "num_frames":
        return st.sampled_from([0, -8, num_frames + 0.5, float("nan"), "24", [num_frames, num_frames]])
    if name == "words":
        text = st.sampled_from(WORDS)
        times = st.floats(allow_nan=True, allow_infinity=True, width=32)
        word = st.fixed_dictionaries({"text": text, "end": times}, optional={"start": times | st.none()})
        milliseconds = [{**word, "start": word["start"] * 1000, "end": word["end"] * 1000} for word in clip["words"]]
        return st.lists(word, max_size=4) | st.just(milliseconds) | st.sampled_from(
            [[{"text": "hi"}], [{"text": "hi", "end": "soon"}], ["hi"], [{"text": "hi", "end": None}]]
        )
    if name == "acoustic_codes":
        lengths = st.integers(0, 3 * len(codes) + 30)
        values = st.lists(st.integers(-3, 1030), max_size=300)
        return values | lengths.map(lambda n: [5] * n) | st.sampled_from(
            [np.asarray(codes, dtype=np.float64) + 0.5, np.asarray(codes, dtype=np.float32), [[1, 2]] * 3, ["a"] * 3]
        )
    if name == "emotion_ids":
        return st.lists(st.integers(-2, 9), max_size=20) | st.sampled_from(
            [np.asarray(clip["emotion_ids"], dtype=np.float64) + 0.25, np.asarray(clip["emotion_ids"], dtype=np.uint8)]
        )
    if name == "listener_codes":
        return st.lists(st.integers(-2, 260), max_size=20) | st.sampled_from([[0.5] * math.ceil(num_frames / GROUP)])
    shapes = st.tuples(st.integers(0, num_frames + 4), st.integers(54, 57))
    return shapes.map(np.zeros) | st.sampled_from(
        [np.zeros(56), np.zeros((1, num_frames, 56)), np.full((num_frames, 56), np.nan), [["x"] * 56] * num_frames]
    )


def encode(clip: dict):
    """`(output, warnings)` of the processor on `clip` (lists, not tensors)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = PROCESSOR(**clip)
    return out, [str(warning.message) for warning in caught if issubclass(warning.category, UserWarning)]


def check_nothing_dropped_or_padded(clip: dict, out, warned: list[str]) -> None:
    """Every listener slot, emotion id, acoustic code and word of the clip is in the sequence where it belongs."""
    layout = PROCESSOR.layout
    ids, groups = np.asarray(out["input_ids"][0]), np.asarray(out["group_ids"][0])
    num_frames = int(clip["num_frames"])
    listener_codes = clip.get("listener_codes")
    num_groups = math.ceil(num_frames / GROUP) if listener_codes is None else len(listener_codes)
    assert sum(out["listener_slot_mask"][0]) == num_groups
    emotion = ids[(ids >= layout.emotion_offset) & (ids < layout.emotion_offset + layout.num_emotion_tokens)]
    assert (emotion - layout.emotion_offset).tolist() == np.asarray(clip["emotion_ids"])[:num_groups].tolist()
    assert len(clip["emotion_ids"]) - num_groups in (0, 1)  # one more only when the codes skip a partial group
    acoustic = ids[(ids >= layout.acoustic_offset) & (ids < layout.acoustic_offset + layout.num_acoustic_tokens)]
    codes = np.asarray(clip["acoustic_codes"], dtype=np.int64)
    assert (acoustic - layout.acoustic_offset).tolist() == codes[: len(acoustic)].tolist()
    # kept: at least the codes that end a frame before the last group's end, at most those that start before it
    covered, k = min(num_frames, num_groups * GROUP) / FPS, np.arange(len(codes))
    assert np.sum((k + 1) / RATE <= covered - 1 / FPS) <= len(acoustic) <= np.sum(k / RATE < covered)
    assert not len(codes) or abs(len(codes) - num_frames / FPS * RATE) <= GROUP / FPS * RATE  # none: no stream
    window_text = (ids < layout.text_vocab_size) & (groups >= 0)
    frames = [math.ceil(word["end"] * FPS - 1e-6) for word in clip["words"]]
    frames = [num_frames - 1 if frame == num_frames else frame for frame in frames]  # ends with the clip
    kept = [frame for frame in frames if frame < min(num_frames, num_groups * GROUP)]
    assert int(window_text.sum()) == len(kept) or warned  # every single-token word that ends in a group is there


@property_settings
@given(valid_clips())
def test_valid_clips_encode_without_dropping_or_padding(clip):
    out, warned = encode(clip)
    assert not warned
    check_nothing_dropped_or_padded(clip, out, warned)


@property_settings
@given(st.data())
def test_one_bad_argument_is_named_or_harmless(data):
    clip = data.draw(valid_clips())
    name = data.draw(st.sampled_from(ARGUMENTS))
    clip[name] = data.draw(bad_values(name, clip))
    try:
        out, warned = encode(clip)
    except ValueError as error:
        assert name in str(error), f"{name} was changed; the error says: {error}"
        return
    check_nothing_dropped_or_padded(clip, out, warned)
