"""The preparation scripts on tiny corpora: front-end features through datasets.map, cache resume, outputs."""

import json
import runpy
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from datasets import load_from_disk
from tiny_speech import tiny_codec, tiny_speechtokenizer_config

from mmlistener import EmotionRecognizer, EmotionRecognizerConfig
from mmlistener.data import write_synthetic_corpus
from mmlistener.data.media import media_path
from mmlistener.processing import group_emotion_ids

SCRIPTS = Path(__file__).resolve().parents[1] / "datasets_scripts"


def script_main(name):
    return runpy.run_path(str(SCRIPTS / f"{name}.py"), run_name="under_test")["main"]


@pytest.fixture(scope="module")
def front_ends(tmp_path_factory):
    root = tmp_path_factory.mktemp("front_ends")
    codec = tiny_codec(n_q=2)
    (root / "config.json").write_text(json.dumps(tiny_speechtokenizer_config(n_q=2)))
    torch.save(codec.model.state_dict(), root / "SpeechTokenizer.pt")
    recognizer = EmotionRecognizer(EmotionRecognizerConfig(hidden_size=16)).eval()
    recognizer.save_pretrained(root / "emotion")
    return root, codec, recognizer


@pytest.fixture(scope="module")
def corpus_with_audio(tmp_path_factory):
    root = tmp_path_factory.mktemp("prepare")
    write_synthetic_corpus(
        str(root / "raw"), num_train=2, num_val=1, num_test=1, seed=2, min_frames=250, max_frames=340
    )
    rng = np.random.default_rng(0)
    for split in ("train", "val", "test"):
        for segment in torch.load(root / "raw" / f"segments_{split}.pth", weights_only=True):
            path = (root / "media" / segment["fname"]).with_suffix(".wav")  # found by stem, not the .mp4 name
            path.parent.mkdir(parents=True, exist_ok=True)
            seconds = segment["split_end_frame"] / 30 + 0.2
            soundfile.write(path, 0.1 * rng.standard_normal(int(seconds * 22050)).astype(np.float32), 22050)
    return root


def test_prepare_l2l_trevor_adds_features_saves_and_resumes(corpus_with_audio, front_ends, tmp_path):
    root = corpus_with_audio
    fe_root, codec, recognizer = front_ends
    argv = [
        *(
            "--data_dir",
            str(root / "raw"),
            "--output_dir",
            str(tmp_path / "out"),
            "--media_dir",
            str(root / "media"),
        ),
        *("--acoustic_codec_config", str(fe_root / "config.json")),
        *("--acoustic_codec_checkpoint", str(fe_root / "SpeechTokenizer.pt")),
        *(
            "--emotion_checkpoint",
            str(fe_root / "emotion"),
            "--recompute_emotion",
            "--parquet",
            "--synthetic",
        ),
        *("--cache_dir", str(tmp_path / "cache")),
    ]
    script_main("prepare_l2l_trevor")(argv)
    prepared = load_from_disk(str(tmp_path / "out"))
    assert set(prepared) == {"train", "validation", "test"}
    example = prepared["test"][0]
    frames = len(example["speaker_motion"])

    from mmlistener.processing import load_audio

    audio = load_audio(media_path(str(root / "media"), example["source"]))
    start = example["start_frame"] / 30
    window = audio[round(start * 16000) : round((start + frames / 30) * 16000)]
    content, acoustic = codec.encode(window)
    assert example["acoustic_codes"] == acoustic and example["content_codes"] == content
    assert abs(len(acoustic) - frames * 50 / 30) < 1  # 50 Hz over the window (the codec rounds up)
    probabilities = recognizer.predict_from_motion(
        torch.tensor(example["speaker_motion"]), torch.tensor(example["speaker_shape"])
    ).probabilities
    assert example["emotion_ids"] == group_emotion_ids(probabilities.detach().numpy(), 8)

    for split in ("train", "validation", "test"):
        assert (tmp_path / "out" / "parquet" / f"{split}.parquet").is_file()
    np.testing.assert_array_equal(np.load(tmp_path / "out" / "mean.npy"), np.load(root / "raw" / "mean.npy"))
    card = (tmp_path / "out" / "README.md").read_text()
    assert f"| test | {len(prepared['test'])} |" in card and "synthetic dyadic corpus" in card
    assert "SpeechTokenizer" in card

    # a rerun reads the cached map results: it succeeds even with the media gone
    shutil.move(str(root / "media"), str(root / "media_moved"))
    try:
        rerun = script_main("prepare_l2l_trevor")(
            [*argv[:2], "--output_dir", str(tmp_path / "again"), *argv[4:]]
        )
    finally:
        shutil.move(str(root / "media_moved"), str(root / "media"))
    assert rerun["test"][0]["acoustic_codes"] == acoustic


def test_prepare_with_streaming_codes(corpus_with_audio, front_ends, tmp_path):
    """--acoustic_codes_mode streaming: each window's codes as a SlidingWindowCodes running from one window
    before it gives them (sliding_window_encode of the window with 1 s of the audio before it, whole codes),
    offline's count, and the settings on the dataset card."""
    from mmlistener.processing import load_audio, sliding_window_encode

    root = corpus_with_audio
    fe_root, codec, _ = front_ends
    streaming = ("--streaming_window_seconds", "1.0", "--streaming_right_context_seconds", "0.0")
    script_main("prepare_l2l_trevor")(
        [
            *("--data_dir", str(root / "raw"), "--output_dir", str(tmp_path / "out"), "--synthetic"),
            *("--media_dir", str(root / "media"), "--cache_dir", str(tmp_path / "cache")),
            *("--acoustic_codec_config", str(fe_root / "config.json")),
            *("--acoustic_codec_checkpoint", str(fe_root / "SpeechTokenizer.pt")),
            *("--acoustic_codes_mode", "streaming", *streaming, "--streaming_hop_seconds", "0.1"),
        ]
    )
    example = load_from_disk(str(tmp_path / "out"))["test"][0]
    audio = load_audio(media_path(str(root / "media"), example["source"]))
    frames = len(example["speaker_motion"])
    start = example["start_frame"] / 30
    first, last = round(start * 16000), round((start + frames / 30) * 16000)
    assert first >= 50 * 320  # windows start at frame 96: a whole window of left context exists
    content, acoustic = sliding_window_encode(codec, audio[first - 50 * 320 : last], 0.1, 1.0, 0.0)
    assert example["content_codes"] == content[50:] and example["acoustic_codes"] == acoustic[50:]
    offline_content, offline_acoustic = codec.encode(audio[first:last])
    assert len(example["acoustic_codes"]) == len(offline_acoustic)
    assert example["acoustic_codes"] != offline_acoustic  # no right context: the window edges change codes
    without_left_context = sliding_window_encode(codec, audio[first:last], 0.1, 1.0, 0.0)
    assert (example["content_codes"], example["acoustic_codes"]) != without_left_context
    card = (tmp_path / "out" / "README.md").read_text()
    assert "streaming way" in card and "window 1.0 s, right context 0.0 s, blocks of 0.1 s" in card


@pytest.mark.parametrize(
    ("flags", "match"),
    [
        (("--acoustic_codes_mode", "live"), "acoustic_codes_mode must be one of"),
        (("--acoustic_codes_mode", "streaming", "--streaming_hop_seconds", "0"), "hop_seconds must be at least one code"),
        (("--acoustic_codes_mode", "streaming", "--streaming_window_seconds", "0.1"), "must hold a block"),
    ],
)
def test_bad_streaming_codes_settings(flags, match, tmp_path):
    with pytest.raises(ValueError, match=match):
        script_main("prepare_l2l_trevor")(["--data_dir", str(tmp_path), "--output_dir", str(tmp_path), *flags])


def test_the_scripts_read_a_settings_file_with_dashed_overrides_as_every_entry_point(tmp_path):
    """The dataset scripts parse with `mmlistener.arguments.parse_arguments`: flags after a settings file override
    it, in either spelling (the override's bad value is the error, not the file's good one)."""
    settings = tmp_path / "prepare.json"
    settings.write_text(json.dumps({"data_dir": str(tmp_path), "output_dir": str(tmp_path), "acoustic_codes_mode": "offline"}))
    with pytest.raises(ValueError, match="acoustic_codes_mode must be one of"):
        script_main("prepare_l2l_trevor")([str(settings), "--acoustic-codes-mode", "live"])


def test_prepare_realtalk_without_front_ends(tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / "realtalk"
    (root / "c0").mkdir(parents=True)
    row = {
        "clip_id": "c0",
        "words": [{"text": "hi", "start": 1.0, "end": 1.2}],
        "fps": 25,
        "listener_id": "host",
    }
    for person in ("speaker", "listener"):
        for part, width in (("exp", 50), ("pose", 6), ("shape", 100)):
            np.save(
                root / "c0" / f"{person}_{part}.npy", rng.standard_normal((100, width)).astype(np.float32)
            )
            row[f"{person}_{part}"] = f"c0/{person}_{part}.npy"
    (root / "train.jsonl").write_text(json.dumps(row) + "\n")
    dataset = script_main("prepare_realtalk")(
        [
            "--data_dir",
            str(root),
            "--output_dir",
            str(tmp_path / "out"),
            "--cache_dir",
            str(tmp_path / "cache"),
        ]
    )
    assert (
        len(dataset["train"]) == 1 and len(dataset["train"][0]["listener_motion"]) == 119
    )  # 4 s: 100 -> 119
    assert load_from_disk(str(tmp_path / "out"))["train"][0]["words"][0]["text"] == "hi"
    assert np.load(tmp_path / "out" / "std.npy").shape == (56,)
    assert "RealTalk" in (tmp_path / "out" / "README.md").read_text()


class ClockASR:
    """Stands in for Whisper: one word 0.5 s into the audio it is given and one 0.5 s before its end."""

    def __init__(self):
        self.lengths = []

    def transcribe(self, audio):
        seconds = len(audio) / 16000
        self.lengths.append(seconds)
        return [
            {"text": "first", "start": 0.3, "end": 0.5},
            {"text": "last", "start": seconds - 0.7, "end": seconds - 0.5},
        ]


def test_transcription_splits_window_and_history_words(corpus_with_audio):
    from mmlistener import ListenerProcessor
    from mmlistener.data import L2LTrevor, build_dataset
    from mmlistener.data.preparation import SpeakerFeatures
    from mmlistener.processing import gpt2_tokenizer_from_tiktoken

    root = corpus_with_audio
    dataset = build_dataset(L2LTrevor, str(root / "raw"), cache_dir=str(root / "cache_asr"), verbose=False)
    asr = ClockASR()
    processor = ListenerProcessor(gpt2_tokenizer_from_tiktoken(), asr=asr)
    extractor = SpeakerFeatures(processor=processor, media_dir=str(root / "media"), transcribe=True)
    example = dataset["train"][0]
    frames = len(example["speaker_motion"])
    updates = extractor(example)
    assert set(updates) == {"words", "history_words"}
    # the ASR heard the window and the 3 s before it (every window starts at frame >= 96, i.e. >= 3.2 s)
    assert asr.lengths[0] == pytest.approx(3.0 + frames / 30, abs=1e-3)
    assert [w["text"] for w in updates["history_words"]] == ["first"]
    assert updates["history_words"][0]["end"] == pytest.approx(-2.5, abs=1e-3)
    assert [w["text"] for w in updates["words"]] == ["last"]
    assert updates["words"][0]["end"] == pytest.approx(frames / 30 - 0.5, abs=1e-3)
    with pytest.raises(ValueError, match="need media_dir"):
        SpeakerFeatures(processor=processor, transcribe=True)
