"""Event diagnostics: the corpus records its events, the datasets carry them, and the detectors find the
listener's responses to them only in motion that follows the speaker."""

import json
import math

import numpy as np
import pytest
import torch

from mmlistener.data import (
    L2LTrevor,
    RealTalk,
    build_dataset,
    no_events,
    sample_dyadic_clip,
    window_events,
    write_synthetic_corpus,
)
from mmlistener.data.synthetic import JOKE_WORDS, SENTENCE_END, identity_betas
from mmlistener.data.windowing import group_labels
from mmlistener.evaluation import detect_laughs, detect_nods, event_rates, false_laugh_sites

FPS, WINDOW, CLIP_FRAMES = 30, 240, 720
KINDS = ("utterance_ends", "joke_ends", "emotion_changes")


@pytest.fixture(scope="module")
def clips():
    """Eight clips pairing four listeners with four speakers, each identity in its own style."""
    betas = identity_betas(8, seed=3)
    rng = np.random.default_rng(0)
    return [sample_dyadic_clip(CLIP_FRAMES, betas[4 + i % 4], betas[i % 4], rng) for i in range(8)]


def windows(clips, listener_motions):
    """`(motions, examples)`: 240-frame windows of the clips, with `listener_motions[i]` standing for clip i's."""
    motions, examples = [], []
    for clip, listener in zip(clips, listener_motions):
        events = {kind: getattr(clip, kind) for kind in KINDS}
        for start in range(0, CLIP_FRAMES, WINDOW):
            motions.append(listener[start : start + WINDOW])
            examples.append(
                {
                    "events": window_events(events, start / FPS, WINDOW, FPS),
                    "emotion_ids": group_labels(clip.speaker_emotion[start : start + WINDOW], 8, 8),
                }
            )
    return motions, examples


@pytest.fixture(scope="module")
def gt_rates(clips):
    return event_rates(*windows(clips, [clip.listener_motion for clip in clips]))


def test_ground_truth_listener_answers_the_events(gt_rates):
    assert gt_rates["num_utterance_ends"] >= 30 and gt_rates["num_joke_ends"] >= 8
    assert gt_rates["nod_hit_rate"] >= 0.8 and gt_rates["nod_false_alarm_rate"] <= 0.2
    assert gt_rates["laugh_hit_rate"] >= 0.8 and gt_rates["laugh_false_alarm_rate"] <= 0.2
    assert gt_rates["emotion_contagion"] >= 0.3 and gt_rates["num_contagion_windows"] >= 10


def test_listener_motion_that_ignores_the_speaker_fails(clips, gt_rates):
    late = event_rates(*windows(clips, [np.roll(clip.listener_motion, 2 * FPS, axis=0) for clip in clips]))
    other = event_rates(*windows(clips, [clips[(i + 1) % 8].listener_motion for i in range(8)]))
    for rates in (late, other):
        # real nods and laughs, at the wrong times
        assert rates["num_nods"] >= 20 and rates["num_laughs"] >= 5
        assert rates["nod_hit_rate"] < 0.4 and rates["laugh_hit_rate"] < 0.4
        assert rates["nod_false_alarm_rate"] > 0.6 and rates["laugh_false_alarm_rate"] > 0.6
        assert rates["emotion_contagion"] < min(0.2, gt_rates["emotion_contagion"] - 0.2)
    means = [np.broadcast_to(clip.listener_motion.mean(0), (CLIP_FRAMES, 56)) for clip in clips]
    still = event_rates(*windows(clips, means))
    assert still["num_nods"] == still["num_laughs"] == 0 and still["nod_hit_rate"] == 0.0
    assert math.isnan(still["nod_false_alarm_rate"]) and math.isnan(still["emotion_contagion"])


def with_events(examples, change):
    return [{**example, "events": change(dict(example["events"]))} for example in examples]


def test_false_laughs_are_placed_by_where_they_start(clips, gt_rates):
    motions, examples = windows(clips, [clip.listener_motion for clip in clips])
    assert false_laugh_sites(motions, examples)["unexplained"] == 0
    laughs = gt_rates["num_laughs"]
    # the jokes forgotten: every laugh starts 3 frames after the nod of the utterance the joke ended
    no_jokes = false_laugh_sites(motions, with_events(examples, lambda events: {**events, "joke_ends": []}))
    assert no_jokes == {"unexplained": laughs, "mistimed": 0, "at_nods": laughs, "elsewhere": 0}
    # the jokes 0.6 s later than they were: the same laughs, too early
    late = with_events(examples, lambda events: {**events, "joke_ends": [t + 0.6 for t in events["joke_ends"]]})
    assert false_laugh_sites(motions, late) == {"unexplained": laughs, "mistimed": laughs, "at_nods": 0,
                                                "elsewhere": 0}  # fmt: skip
    rolled, _ = windows(clips, [np.roll(clip.listener_motion, 2 * FPS, axis=0) for clip in clips])
    sites = false_laugh_sites(rolled, examples)
    assert sites["elsewhere"] > sites["at_nods"] + sites["mistimed"]
    assert sites["unexplained"] == sum(sites[key] for key in ("mistimed", "at_nods", "elsewhere"))


def test_detectors_ignore_the_listener_style(clips):
    rng = np.random.default_rng(1)
    motion = clips[0].listener_motion.astype(np.float64)
    styled = motion * rng.uniform(0.3, 3.0, 56) + rng.normal(0, 2.0, 56)
    assert len(detect_nods(motion)) >= 3 and len(detect_laughs(motion)) >= 1
    np.testing.assert_array_equal(detect_nods(styled), detect_nods(motion))
    np.testing.assert_array_equal(detect_laughs(styled), detect_laughs(motion))


def test_window_events_keep_the_history_and_check_their_input():
    events = {"utterance_ends": [9.0, 12.5, 14.0, 30.0], "joke_ends": [12.5]}
    windowed = window_events(events, 10.0, 120, FPS, history_seconds=3.0)
    assert windowed == {"utterance_ends": [-1.0, 2.5, 4.0], "joke_ends": [2.5], "emotion_changes": []}
    assert window_events(None, 10.0, 120, FPS) == no_events() == {kind: [] for kind in KINDS}
    with pytest.raises(ValueError, match="keys among"):
        window_events({"nods": [1.0]}, 0.0, 120, FPS)
    with pytest.raises(ValueError, match="NaN or infinite"):
        window_events({"joke_ends": [float("nan")]}, 0.0, 120, FPS)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("events_corpus")
    write_synthetic_corpus(
        str(root / "corpus"), num_train=2, num_val=1, num_test=2, min_frames=480, max_frames=600
    )
    return root


def test_corpus_segments_record_their_events(corpus):
    segments = torch.load(corpus / "corpus" / "segments_test.pth", weights_only=True)
    for segment in segments:
        events = segment["events"]
        assert set(events) == set(KINDS) and all(isinstance(t, float) for kind in KINDS for t in events[kind])
        words = segment["before_words"] + segment["during_words"]
        ends = {word["end"] for word in words}
        assert events["utterance_ends"] and set(events["utterance_ends"]) <= ends
        assert set(events["joke_ends"]) <= {word["end"] for word in words if word["text"].rstrip(SENTENCE_END) in JOKE_WORDS}
        start, end = segment["split_start_frame"] / FPS, segment["split_end_frame"] / FPS
        assert all(start <= t < end for t in events["emotion_changes"])
        frames = np.round((np.asarray(events["emotion_changes"]) - start) * FPS).astype(int)
        changed = np.flatnonzero(np.diff(segment["p1_emotion"].numpy())) + 1  # frame 0 may change too
        assert [k for k in frames.tolist() if k > 0] == changed.tolist()


def test_dataset_windows_carry_events_relative_to_their_first_frame(corpus):
    dataset = build_dataset(
        L2LTrevor, str(corpus / "corpus"), "lm_listener", cache_dir=str(corpus / "cache"), verbose=False
    )
    segments = torch.load(corpus / "corpus" / "segments_test.pth", weights_only=True)
    test = list(dataset["test"])
    checked = 0
    for example in test:
        segment = next(s for s in segments if s["fname"] == example["source"])
        window_start = int(example["start_frame"]) / FPS
        duration = len(example["listener_motion"]) / FPS
        for kind in KINDS:
            times = np.asarray(segment["events"][kind]) - window_start
            expected = times[(times >= -3.0) & (times <= duration)]
            np.testing.assert_allclose(example["events"][kind], expected, atol=1e-4)
        word_ends = {w["end"] for w in [*example["words"], *example["history_words"]]}
        checked += sum(t in word_ends for t in example["events"]["utterance_ends"])
    assert checked >= len(test)  # each utterance end is the end of a word of the window or its history
    rates = event_rates([example["listener_motion"] for example in test], test)
    assert rates["nod_hit_rate"] >= 0.8 and rates["nod_false_alarm_rate"] <= 0.2


def test_data_without_events_has_empty_lists(corpus, tmp_path):
    (tmp_path / "bare").mkdir()
    segments = torch.load(corpus / "corpus" / "segments_val.pth", weights_only=True)
    bare_segments = [{key: value for key, value in s.items() if key != "events"} for s in segments]
    torch.save(bare_segments, tmp_path / "bare" / "segments_val.pth")
    bare = build_dataset(L2LTrevor, str(tmp_path / "bare"), cache_dir=str(tmp_path / "c1"), verbose=False)

    rng = np.random.default_rng(0)
    folder = tmp_path / "l2l" / "trevor" / "test"
    folder.mkdir(parents=True)
    for name in ("p0_list_faces", "p1_speak_faces"):
        np.save(folder / f"{name}_clean_deca.npy", rng.standard_normal((2, 64, 184)).astype(np.float32))
    original = build_dataset(
        L2LTrevor, str(tmp_path / "l2l"), "l2l_original", cache_dir=str(tmp_path / "c2"), verbose=False
    )

    realtalk = tmp_path / "realtalk"
    realtalk.mkdir()
    row = {"clip_id": "c", "words": [{"text": "hi", "start": 0.1, "end": 0.4}], "fps": 30, "listener_id": "x"}
    for person in ("speaker", "listener"):
        for part, shape in (("exp", (90, 50)), ("pose", (90, 6)), ("shape", (100,))):
            np.save(realtalk / f"{person}_{part}.npy", rng.standard_normal(shape).astype(np.float32))
            row[f"{person}_{part}"] = f"{person}_{part}.npy"
    (realtalk / "train.jsonl").write_text(json.dumps(row) + "\n")
    manifest = build_dataset(RealTalk, str(realtalk), cache_dir=str(tmp_path / "c3"), verbose=False)

    for split in (bare["validation"], original["test"], manifest["train"]):
        assert len(split) and all(example["events"] == no_events() for example in split)
    rates = event_rates([e["listener_motion"] for e in bare["validation"]], list(bare["validation"]))
    assert rates["num_utterance_ends"] == rates["num_joke_ends"] == 0 and math.isnan(rates["nod_hit_rate"])


def test_results_rows_carry_the_event_rates_and_the_events_table_lists_them(clips):
    from mmlistener.evaluation import evaluate_systems, format_events_table

    motions, examples = windows(clips, [clip.listener_motion for clip in clips])
    for motion, example in zip(motions, examples):
        example.update(listener_motion=motion, speaker_motion=motion, listener_identity=np.zeros(100, np.float32))

    class Shifted:  # each window gets the listener motion of the next window: right style, wrong moments
        def predict(self, windows):
            return [w["listener_motion"] for w in windows[1:] + windows[:1]]

    results = evaluate_systems({"shifted": Shifted()}, examples, progress=False, events=True)
    assert results["GT"]["nod_hit_rate"] >= 0.8 and results["shifted"]["nod_hit_rate"] < 0.4
    lines = format_events_table(results).splitlines()
    assert lines[0].startswith("| System | Nod hit ↑ | Nod false alarm ↓")
    assert [line.split(" | ")[0] for line in lines[2:]] == ["| GT", "| shifted"]
    assert "nod_hit_rate" not in evaluate_systems({"shifted": Shifted()}, examples, progress=False)["shifted"]
