"""The synthetic dyadic corpus: seeded, audio-free, and following its documented response rules."""

import subprocess
import sys

import numpy as np
import pytest
import torch

from mmlistener.data.synthetic import (
    CONTAGION_LAG,
    HEAD_PITCH,
    JAW_OPEN,
    JOKE_WORDS,
    LAUGH_FRAMES,
    LAUGH_LAG,
    NOD_FRAMES,
    NOD_LAG,
    SILENCE_CODES,
    emotion_prototypes,
    sample_dyadic_clip,
    write_synthetic_corpus,
)

FPS = 30
NEUTRAL_BETA = np.zeros(100)  # apply_style with beta = 0 is the identity: motion == content


@pytest.fixture(scope="module")
def clips():
    rng = np.random.default_rng(0)
    return [sample_dyadic_clip(900, NEUTRAL_BETA, NEUTRAL_BETA, rng) for _ in range(6)]


def test_corpus_is_seeded(tmp_path):
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        write_synthetic_corpus(str(tmp_path / name), num_train=2, num_val=1, num_test=1, seed=seed)
    first, again, other = (torch.load(tmp_path / n / "segments_val.pth", weights_only=True) for n in "abc")
    assert (
        torch.equal(first[0]["p0_exp"], again[0]["p0_exp"])
        and first[0]["during_words"] == again[0]["during_words"]
    )
    assert not torch.equal(first[0]["p0_exp"][:100], other[0]["p0_exp"][:100])
    np.testing.assert_array_equal(np.load(tmp_path / "a" / "std.npy"), np.load(tmp_path / "b" / "std.npy"))


def test_release_format(tmp_path):
    write_synthetic_corpus(str(tmp_path), num_train=1, num_val=1, num_test=1, min_frames=240, max_frames=300)
    segment = torch.load(tmp_path / "segments_test.pth", weights_only=True)[0]
    frames = segment["split_end_frame"] - segment["split_start_frame"]
    shapes = {
        "p0_exp": 50,
        "p0_pose": 6,
        "p0_shape": 100,
        "p0_detail": 128,
        "p1_exp": 50,
        "p1_pose": 6,
        "p1_shape": 100,
    }
    for key, width in shapes.items():
        assert tuple(segment[key].shape) == (frames, width) and segment[key].dtype == torch.float32
    start = segment["split_start_frame"] / FPS
    assert all(w["end"] < start for w in segment["before_words"])
    assert all(start <= w["end"] <= start + frames / FPS for w in segment["during_words"])
    assert len(segment["p1_acoustic_codes"]) == round(frames * 50 / FPS)
    assert np.load(tmp_path / "mean.npy").shape == (56,)


def test_audio_free_path_imports_no_speech_front_end(tmp_path):
    code = (
        "import sys\n"
        "from mmlistener.data import L2LTrevor, build_dataset, write_synthetic_corpus\n"
        f"write_synthetic_corpus({str(tmp_path / 'c')!r}, num_train=1, num_val=1, num_test=1)\n"
        f"build_dataset(L2LTrevor, {str(tmp_path / 'c')!r}, 'lm_listener', cache_dir={str(tmp_path / 'cache')!r})\n"
        "loaded = [m for m in ('whisper', 'speechtokenizer', 'faster_whisper') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def test_acoustic_codes_mark_silence_and_follow_emotion(clips):
    for clip in clips:
        times = np.arange(len(clip.acoustic_codes)) / 50
        speaking = np.zeros(len(times), dtype=bool)
        for word in clip.words:
            speaking |= (times >= word["start"]) & (times < word["end"])
        assert ((clip.acoustic_codes < SILENCE_CODES) == ~speaking).all()
        assert ((clip.content_codes < SILENCE_CODES) == ~speaking).all()
        assert clip.acoustic_codes.max() < 1024
        frames = np.minimum((times * FPS).astype(int), len(clip.speaker_emotion) - 1)
        band = (clip.acoustic_codes[speaking] - 16) // 160
        emotion = clip.speaker_emotion[frames][speaking]
        assert len({(int(b), int(e)) for b, e in zip(band, emotion)}) == len(set(emotion.tolist()))


def test_listener_expression_follows_the_lagged_speaker_emotion(clips):
    prototypes = emotion_prototypes()
    hits, total = 0, 0
    for clip in clips:
        lagged = clip.speaker_emotion[: -CONTAGION_LAG - 15]
        expression = clip.listener_motion[CONTAGION_LAG + 15 :, :50]  # 0.5 s after the lag, once eased
        distances = ((expression[:, None, :] - 0.7 * prototypes[None, :, :50]) ** 2).sum(-1)
        hits += int((distances.argmin(1) == lagged).sum())
        total += len(lagged)
    assert hits / total > 0.7


def _response(clips, events_of, lag, frames, channel):
    """Mean absolute velocity of `channel` in the response windows after events, and elsewhere (velocity
    sees nods and laughter, which oscillate, rather than the slow drift of emotion contagion)."""
    inside, outside = [], []
    for clip in clips:
        mask = np.zeros(len(clip.listener_motion), dtype=bool)
        for event in events_of(clip):
            start = int(round(event * FPS)) + lag
            mask[max(start, 0) : start + frames] = True
        activity = np.abs(np.diff(clip.listener_motion[:, channel]))
        inside.append(activity[mask[1:]])
        outside.append(activity[~mask[1:]])
    return np.concatenate(inside).mean(), np.concatenate(outside).mean()


def test_listener_nods_after_pauses_and_laughs_after_jokes(clips):
    def pauses(clip):
        ends = [w["end"] for w, nxt in zip(clip.words, clip.words[1:]) if nxt["start"] - w["end"] > 0.4]
        return [end for end in ends if end >= 0]

    def jokes(clip):
        return [w["end"] for w in clip.words if w["text"] in JOKE_WORDS and w["end"] >= 0]

    assert sum(len(jokes(clip)) for clip in clips) >= 3
    nod_inside, nod_outside = _response(clips, pauses, NOD_LAG, NOD_FRAMES, HEAD_PITCH)
    laugh_inside, laugh_outside = _response(clips, jokes, LAUGH_LAG, LAUGH_FRAMES, JAW_OPEN)
    assert nod_inside > 2 * nod_outside
    assert laugh_inside > 2 * laugh_outside


def test_styles_differ_between_listeners_but_content_rules_do_not():
    betas = np.random.default_rng(1).standard_normal((2, 100))
    a = sample_dyadic_clip(300, NEUTRAL_BETA, betas[0], np.random.default_rng(7))
    b = sample_dyadic_clip(300, NEUTRAL_BETA, betas[1], np.random.default_rng(7))
    np.testing.assert_array_equal(a.speaker_motion, b.speaker_motion)
    assert a.words == b.words
    assert np.abs(a.listener_motion.mean(0) - b.listener_motion.mean(0)).mean() > 0.1
    with pytest.raises(ValueError, match="num_frames must be positive"):
        sample_dyadic_clip(0, NEUTRAL_BETA, NEUTRAL_BETA, np.random.default_rng(0))
