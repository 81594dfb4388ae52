"""The synthetic dyadic corpus: seeded, spoken, and following its documented response rules."""

import subprocess
import sys

import numpy as np
import pytest
import soundfile
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
    NOISE_FLOOR,
    SENTENCE_END,
    content_motion,
    emotion_prototypes,
    sample_dyadic_clip,
    without_joke_words,
    write_synthetic_corpus,
)
from mmlistener.processing.prosody_tokenizer import SILENCE_CODES, ProsodyTokenizer

FPS = 30
NEUTRAL_BETA = np.zeros(100)  # apply_style with beta = 0 is the identity: motion == content


@pytest.fixture(scope="module")
def clips():
    rng = np.random.default_rng(0)
    return [sample_dyadic_clip(900, NEUTRAL_BETA, NEUTRAL_BETA, rng) for _ in range(6)]


def bare(word: dict) -> str:
    """A word's text without the full stop of an utterance's last word."""
    return word["text"].removesuffix(SENTENCE_END)


def test_each_utterance_ends_on_a_word_with_a_full_stop(clips):
    for clip in clips:
        marked = [word["end"] for word in clip.words if word["text"].endswith(SENTENCE_END)]
        assert marked == list(clip.utterance_ends) and len(marked) >= 3  # each utterance's last word, no other
        assert all(bare(word).isalpha() for word in clip.words)


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
    audio, rate = soundfile.read(tmp_path / "media" / "synthetic" / "test" / "conversation_0000.flac")
    assert rate == 16000 and abs(len(audio) / rate - segment["split_end_frame"] / FPS) < 0.01  # on the source clock


def test_a_windows_audio_is_recovered_from_the_corpus_media(tmp_path):
    from mmlistener.data import L2LTrevor, build_dataset, window_audio

    write_synthetic_corpus(str(tmp_path / "c"), num_train=1, num_val=1, num_test=1, seed=2)
    window = build_dataset(L2LTrevor, str(tmp_path / "c"), cache_dir=str(tmp_path / "cache"), verbose=False)["test"][0]
    audio = window_audio(window, str(tmp_path / "c" / "media"))
    assert len(audio) == round(len(window["speaker_motion"]) / FPS * 16000)
    _, acoustic = ProsodyTokenizer().encode(audio)
    same = np.asarray(acoustic[2:-2]) == np.asarray(window["acoustic_codes"][2:-2])  # edges lack their context
    assert same.all()
    for word in window["words"]:
        if word["start"] >= 0:
            first, last = round(word["start"] * 16000), round(word["end"] * 16000)
            assert np.sqrt(np.mean(audio[first:last] ** 2)) > 10 * NOISE_FLOOR


def test_corpus_path_imports_no_model_front_end(tmp_path):
    code = (
        "import sys\n"
        "from mmlistener.data import L2LTrevor, build_dataset, write_synthetic_corpus\n"
        f"write_synthetic_corpus({str(tmp_path / 'c')!r}, num_train=1, num_val=1, num_test=1)\n"
        f"build_dataset(L2LTrevor, {str(tmp_path / 'c')!r}, 'lm_listener', cache_dir={str(tmp_path / 'cache')!r})\n"
        "loaded = [m for m in ('whisper', 'speechtokenizer', 'faster_whisper') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def _samples(clip, seconds: float) -> int:
    return round((seconds - clip.audio_start) * 16000)


def test_words_are_spoken_where_their_times_say_and_pauses_are_silent(clips):
    for clip in clips:
        for word in clip.words:
            first, last = _samples(clip, word["start"]), _samples(clip, word["end"])
            if last <= len(clip.audio):
                assert np.sqrt(np.mean(clip.audio[first:last] ** 2)) > 10 * NOISE_FLOOR, word
        for word, following in zip(clip.words, clip.words[1:]):
            if following["start"] - word["end"] > 0.3:  # a pause between utterances: the noise floor only
                gap = clip.audio[_samples(clip, word["end"]) + 80 : _samples(clip, following["start"]) - 80]
                assert np.sqrt(np.mean(gap**2)) < 2 * NOISE_FLOOR


def test_codes_are_the_tokenizers_codes_of_the_speech(clips):
    for clip in clips[:2]:
        content, acoustic = ProsodyTokenizer().encode(clip.audio)
        first = round(-clip.audio_start * 50)
        np.testing.assert_array_equal(clip.acoustic_codes, acoustic[first : first + len(clip.acoustic_codes)])
        np.testing.assert_array_equal(clip.content_codes, content[first : first + len(clip.content_codes)])
        times = (np.arange(len(clip.acoustic_codes)) + 0.5) / 50
        speaking = np.zeros(len(times), dtype=bool)
        near = np.zeros(len(times), dtype=bool)
        for word in clip.words:
            speaking |= (times >= word["start"] + 0.05) & (times < word["end"] - 0.05)
            near |= (times >= word["start"] - 0.08) & (times < word["end"] + 0.08)
        assert (clip.acoustic_codes[~near] < SILENCE_CODES).all()  # pauses are silence codes
        assert (clip.acoustic_codes[speaking] >= SILENCE_CODES).mean() > 0.9


def test_speech_prosody_follows_the_speaker_emotion(clips):
    loudness = {}
    for clip in clips:
        for word in clip.words:
            first, last = _samples(clip, word["start"]), _samples(clip, word["end"])
            frame = int(word["start"] * FPS)
            if 0 <= frame < len(clip.speaker_emotion) and last <= len(clip.audio):
                emotion = int(clip.speaker_emotion[frame])
                loudness.setdefault(emotion, []).append(np.sqrt(np.mean(clip.audio[first:last] ** 2)))
    level = {emotion: np.median(values) for emotion, values in loudness.items()}
    assert level[6] > 1.5 * level[0] > 1.5 * level[2]  # Anger loud, Sad quiet
    assert level[3] > level[0]  # Surprise loud


def test_control_clip_replaces_the_joke_words_only():
    beta = np.zeros(100)
    real = sample_dyadic_clip(1200, beta, beta, np.random.default_rng(3))
    control = sample_dyadic_clip(1200, beta, beta, np.random.default_rng(3), jokes_spoken=False)
    assert real.joke_ends and not control.joke_ends
    assert len(real.words) == len(control.words)
    assert not any(bare(word) in JOKE_WORDS for word in control.words)
    differ = [a["text"] != b["text"] for a, b in zip(real.words, control.words)]
    assert sum(differ) == sum(bare(word) in JOKE_WORDS for word in real.words)
    np.testing.assert_array_equal(real.speaker_emotion, control.speaker_emotion)
    still = [c for c in range(56) if c >= 4 and c != JAW_OPEN]  # only the mouth follows the shorter words
    np.testing.assert_array_equal(real.speaker_motion[:, still], control.speaker_motion[:, still])
    assert [w["start"] for w in real.words] == [w["start"] for w in control.words]
    # the words of the control, on the real recording's times: what `joke_word_control` feeds a model
    replaced = without_joke_words(real.words)
    assert [w["text"] for w in replaced] == [w["text"] for w in control.words]
    assert [(w["start"], w["end"]) for w in replaced] == [(w["start"], w["end"]) for w in real.words]


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
        return [w["end"] for w in clip.words if bare(w) in JOKE_WORDS and w["end"] >= 0]

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


def _group_features(example, lags=6):
    """What the listener LM reads per group (emotion id, share of silent acoustic codes, a joke word ending in
    it), for the group and the `lags - 1` before it, plus a bias."""
    frames = len(example["listener_motion"])
    num_groups = -(-frames // 8)
    emotion = np.eye(8)[np.asarray(example["emotion_ids"][:num_groups])]
    codes = np.asarray(example["acoustic_codes"])
    code_group = np.arange(len(codes)) * FPS // (50 * 8)
    silence = np.array([np.mean(codes[code_group == g] < SILENCE_CODES) for g in range(num_groups)])
    joke = np.zeros(num_groups)
    for word in example["words"]:
        if bare(word) in JOKE_WORDS:
            joke[min(int(np.ceil(word["end"] * FPS - 1e-6)), frames - 1) // 8] = 1
    base = np.concatenate([emotion, silence[:, None], joke[:, None]], axis=1)
    lagged = [
        np.concatenate([np.zeros((min(lag, num_groups), base.shape[1])), base[: max(num_groups - lag, 0)]])
        for lag in range(lags)
    ]
    return np.concatenate([*lagged, np.ones((num_groups, 1))], axis=1)


def test_listener_is_predictable_from_the_speaker_streams_unlike_retrieval(tmp_path):
    """A linear map from the per-group speaker streams (+ the listener's own statistics, i.e. its identity)
    beats a random train window and the nearest neighbour by speaker motion by a wide margin on L2."""
    from mmlistener.data import L2LTrevor, build_dataset

    write_synthetic_corpus(str(tmp_path / "c"), num_train=16, num_val=1, num_test=4, seed=0)
    dataset = build_dataset(L2LTrevor, str(tmp_path / "c"), cache_dir=str(tmp_path / "cache"), verbose=False)
    train, test = dataset["train"].with_format("numpy"), dataset["test"].with_format("numpy")
    per_listener = {}
    for example in train:
        per_listener.setdefault(example["listener_id"], []).append(example["listener_motion"])
    stats = {key: (np.concatenate(v).mean(0), np.concatenate(v).std(0)) for key, v in per_listener.items()}
    inputs, targets = [], []
    for example in train:
        mean, std = stats[example["listener_id"]]
        normalised = (example["listener_motion"] - mean) / std
        inputs.append(_group_features(example))
        targets.append(np.stack([normalised[g : g + 8].mean(0) for g in range(0, len(normalised), 8)]))
    inputs, targets = np.concatenate(inputs), np.concatenate(targets)
    weights = np.linalg.solve(inputs.T @ inputs + np.eye(inputs.shape[1]), inputs.T @ targets)

    full = [(e["listener_motion"], e["speaker_motion"]) for e in train if len(e["listener_motion"]) == 240]
    rng = np.random.default_rng(0)
    errors = {"linear": [], "random": [], "nearest_speaker": []}
    for example in test:
        truth, speaker = example["listener_motion"], example["speaker_motion"]
        frames = len(truth)
        mean, std = stats[example["listener_id"]]
        predicted = np.repeat(_group_features(example) @ weights, 8, axis=0)[:frames] * std + mean
        errors["linear"].append(((predicted - truth) ** 2).mean())
        errors["random"].append(((full[rng.integers(len(full))][0][:frames] - truth) ** 2).mean())
        similarity = [
            s[:frames].ravel() @ speaker.ravel() / np.linalg.norm(s[:frames]) / np.linalg.norm(speaker)
            for _, s in full
        ]
        errors["nearest_speaker"].append(((full[int(np.argmax(similarity))][0][:frames] - truth) ** 2).mean())
    l2 = {name: float(np.mean(values)) for name, values in errors.items()}
    assert l2["linear"] < 0.25 * min(l2["random"], l2["nearest_speaker"]), l2


@pytest.mark.parametrize("num_frames", [1, 5, 8, 9, 40])
def test_content_motion_has_the_asked_number_of_frames(num_frames):
    assert content_motion(num_frames, np.random.default_rng(0)).shape == (num_frames, 56)
