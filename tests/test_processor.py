import warnings

import numpy as np
import pytest
import torch
from transformers import GPT2Config

from mmlistener import EmotionRecognizer, EmotionRecognizerConfig, ListenerConfig, ListenerProcessor
from mmlistener.modeling.token_layout import SPECIAL_TOKENS
from mmlistener.processing import gpt2_tokenizer_from_tiktoken, group_emotion_ids, tiktoken_gpt2_encoding


@pytest.fixture(scope="module")
def tokenizer():
    return gpt2_tokenizer_from_tiktoken()


@pytest.fixture(scope="module")
def processor(tokenizer):
    return ListenerProcessor(tokenizer)


def special(processor, name):
    return processor.layout.token_id(name)


def test_offline_gpt2_tokenizer_encodes_like_tiktoken(tokenizer):
    reference = tiktoken_gpt2_encoding()
    assert len(tokenizer) == 50257 and tokenizer.eos_token_id == 50256
    for text in [
        " hello there",
        "It's 8 o'clock, isn't it?!",
        " naïve café 東京  spaces\n\nnew",
        " 12345 1.5e-3",
    ]:
        assert tokenizer(text, add_special_tokens=False)["input_ids"] == reference.encode(text)


def test_one_clip_follows_the_interleaved_order(processor):
    layout = processor.layout
    words = [
        {"text": "well", "start": 0.0, "end": 0.2},  # ceil(0.2 * 30) = frame 6 -> group 0
        {"text": "yes", "start": 0.3, "end": 0.5},  # frame 15 -> group 1
    ]
    # 0.8 s at 50 Hz; code k ends at (k + 1) / 50 s, frame ceil(0.6 (k + 1)): codes 0-10 -> group 0 (code 10
    # ends at 0.22 s, frame 7), 11-24 -> 1 (code 24 ends at 0.5 s, frame 15), 25-39 -> 2 (code 39: frame 24 -> 23)
    acoustic = list(range(40))
    out = processor(
        words=words, acoustic_codes=acoustic, emotion_ids=[3, 1, 0], num_frames=24, listener_codes=[5, 6, 7]
    )
    ids = out["input_ids"][0]
    well, yes = processor.tokenizer(" well")["input_ids"], processor.tokenizer(" yes")["input_ids"]
    sa, esa, emo, eemo, lr, elr = (
        special(processor, name) for name in ("<sa>", "</sa>", "<emo>", "</emo>", "<lr>", "</lr>")
    )
    expected = []
    for word_ids, codes, emotion, code in zip(
        [well, yes, []], [acoustic[0:11], acoustic[11:25], acoustic[25:40]], [3, 1, 0], [5, 6, 7]
    ):
        expected += word_ids + [sa] + [layout.acoustic_id(c) for c in codes] + [esa]
        expected += [emo, layout.emotion_id(emotion), eemo, lr, layout.listener_id(code), elr]
    assert ids == expected
    groups = out["group_ids"][0]
    assert groups == sorted(groups) and set(groups) == {0, 1, 2}
    slots = [i for i, flag in enumerate(out["listener_slot_mask"][0]) if flag]
    assert [ids[i - 1] for i in slots] == [lr] * 3  # each LR sits right after its <lr>
    assert [groups[i] for i in slots] == [0, 1, 2]
    labels = out["labels"][0]
    assert [i for i, label in enumerate(labels) if label != -100] == slots
    assert [labels[i] for i in slots] == [layout.listener_id(c) for c in (5, 6, 7)]
    assert out["attention_mask"][0] == [1] * len(ids)


def test_acoustic_codes_follow_their_timestamps(processor):
    num_frames = 240  # 8 s: 400 codes at 50 Hz over 30 groups, 13.3 per group
    out = processor(
        acoustic_codes=[1] * 400, emotion_ids=[0] * 30, num_frames=num_frames, return_tensors="pt"
    )
    ids, groups = out["input_ids"][0], out["group_ids"][0]
    is_acoustic = (ids >= processor.layout.acoustic_offset) & (ids < processor.layout.content_offset)
    per_group = torch.bincount(groups[is_acoustic], minlength=30)
    assert per_group.sum() == 400
    # Causal: code k ends at (k + 1) / 50 s, no later than the end of its group g, (g + 1) * 8 / 30 s, and after
    # the end of group g - 1's last frame but one (it was not complete when group g - 1's last frame began).
    code_groups = groups[is_acoustic].tolist()
    for k, g in enumerate(code_groups):
        end = (k + 1) / 50
        assert end <= (g + 1) * 8 / 30 + 1e-9, (k, g)
        assert g == 0 or end > (8 * g - 1) / 30, (k, g)
    assert per_group[0] == 11 and per_group[29] == 15  # the last one takes the code ending on the clip's end


def test_a_code_and_a_word_ending_together_share_their_group(processor):
    """Words and acoustic codes follow one rule (the group holding frame ceil(end * fps)): neither stream is
    ahead of the other at a group boundary."""
    def groups_of(out, first, last):
        ids, groups = out["input_ids"][0], out["group_ids"][0]
        return [g for i, g in zip(ids, groups) if first <= i < last]

    layout = processor.layout
    word_ids = processor.tokenizer(" hi")["input_ids"]
    for k in (10, 11, 12, 13, 24, 25, 26, 39):
        out = processor(words=[{"text": "hi", "start": k / 50, "end": (k + 1) / 50}],
                        acoustic_codes=[0] * k + [7] + [0] * (39 - k), emotion_ids=[0] * 3, num_frames=24)
        word_group = {g for i, g in zip(out["input_ids"][0], out["group_ids"][0]) if i in word_ids}
        code_group = groups_of(out, layout.acoustic_id(7), layout.acoustic_id(7) + 1)
        assert word_group == set(code_group) and len(code_group) == 1, k


def test_word_boundaries_and_words_outside_the_clip(processor):
    def group_of(end, start=None, num_frames=24):
        word = {"text": "hi", "end": end} if start is None else {"text": "hi", "start": start, "end": end}
        out = processor(words=[word], emotion_ids=[0] * 3, num_frames=num_frames)
        hi = processor.tokenizer(" hi")["input_ids"][0]
        ids, groups = out["input_ids"][0], out["group_ids"][0]
        return [groups[i] for i, token in enumerate(ids) if token == hi]

    assert group_of(0.0) == [0]
    assert group_of(7 / 30) == [0]  # frame 7, the last of group 0
    assert group_of(7.2 / 30) == [1]  # ceil -> frame 8, group 1
    assert group_of(0.8) == [2]  # ends exactly with the clip (frame 24 of 24): last group
    assert group_of(0.9, start=0.7) == []  # starts inside, ends after the clip: dropped
    with pytest.raises(ValueError, match="history_words"):
        processor(words=[{"text": "early", "end": -0.2}], emotion_ids=[0] * 3, num_frames=24)
    with pytest.raises(ValueError, match="starts after it ends"):
        processor(words=[{"text": "odd", "start": 0.5, "end": 0.3}], emotion_ids=[0] * 3, num_frames=24)
    with pytest.raises(ValueError, match="non-finite"):
        processor(words=[{"text": "nan", "end": float("nan")}], emotion_ids=[0] * 3, num_frames=24)


def test_words_after_the_clip_warn_and_all_of_them_are_an_error(processor):
    clip = {"emotion_ids": [0] * 30, "num_frames": 240}  # 8 s
    milliseconds = [{"text": "hello", "start": 100.0, "end": 400.0}, {"text": "you", "start": 450.0, "end": 800.0}]
    with pytest.raises(ValueError, match=r"words: every word starts after the clip's end \(8\.00 s.*'hello' at 100\.000"):
        processor(words=milliseconds, **clip)
    late = [{"text": "now", "start": 7.5, "end": 7.9}, {"text": "later", "start": 8.2, "end": 8.6}]
    with pytest.warns(UserWarning, match=r"words: 1 of 2 words start after the clip's end .*'later' at 8\.200") as caught:
        decoded = processor.decode(processor(words=late, **clip)["input_ids"][0])
    assert caught[0].filename == __file__  # the warning points at the caller
    assert decoded.startswith("<sa>") and "now" in decoded and "later" not in decoded
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the last word of a cut runs past the end: no warning
        processor(words=[{"text": "cut", "start": 7.8, "end": 8.4}], **clip)


def test_empty_transcript_gives_speaker_blocks_only(processor):
    out = processor(words=[], acoustic_codes=[], emotion_ids=[2, 2], num_frames=16)
    block = "<sa> </sa> <emo> <E:2> </emo> <lr> <L0> </lr>"
    assert processor.decode(out["input_ids"][0]) == f"{block} {block}"


def test_history_span_and_token_budget(tokenizer):
    processor = ListenerProcessor(tokenizer, history_seconds=3.0, max_history_tokens=3)
    history = [
        {"text": "ancient", "end": -5.0},  # outside the 3 s span
        {"text": "one", "end": -2.5},
        {"text": "two", "end": -1.0},
        {"text": "three", "end": -0.5},
        {"text": "four", "end": 0.0},
    ]
    out = processor(history_words=history, emotion_ids=[0], num_frames=8)
    ids, groups = out["input_ids"][0], out["group_ids"][0]
    history_ids = [token for token, group in zip(ids, groups) if group == -1]
    # each word is one token: the budget of 3 keeps the newest three, in spoken order
    assert history_ids == tokenizer(" two three four")["input_ids"]
    assert ids[: len(history_ids)] == history_ids
    with pytest.raises(ValueError, match="after the clip's first frame"):
        processor(history_words=[{"text": "late", "end": 0.3}], emotion_ids=[0], num_frames=8)


def test_speaker_stage_is_equation_two_with_stage_one_labels(processor):
    layout = processor.layout
    words = [{"text": "hello", "end": 0.1}]
    out = processor(
        words=words,
        history_words=[{"text": "so", "end": -0.4}],
        acoustic_codes=[9] * 20,
        emotion_ids=[4, 5],
        num_frames=16,
        listener_codes=[1, 2],  # ignored by the speaker stage
        stage="speaker",
    )
    ids, labels = out["input_ids"][0], out["labels"][0]
    assert not any(out["listener_slot_mask"][0])
    assert special(processor, "<lr>") not in ids and not any(layout.is_listener_id(t) for t in ids)
    wrappers = {special(processor, name) for name in SPECIAL_TOKENS}
    for token, label in zip(ids, labels):
        assert label == (-100 if token in wrappers else token)
    scored = [t for t, label in zip(ids, labels) if label != -100]
    assert len(scored) == 2 + 20 + 2  # "so", "hello", 20 acoustic, 2 emotion


def test_modalities_are_settings(tokenizer):
    clip = {
        "words": [{"text": "ok", "end": 0.1}],
        "acoustic_codes": [3] * 14,
        "content_codes": [8] * 14,
        "emotion_ids": [6],
        "num_frames": 8,
    }
    words_only = ListenerProcessor(tokenizer, modalities=["words"])
    assert words_only.decode(words_only(**clip)["input_ids"][0]) == "ok <lr> <L0> </lr>"
    everything = ListenerProcessor(tokenizer, modalities=["emotion", "content", "words", "acoustic"])
    decoded = everything.decode(everything(**clip)["input_ids"][0])
    assert decoded == (
        "ok <sa> " + "<A3> " * 13 + "</sa> <sc> " + "<C8> " * 13 + "</sc> <emo> <E:6> </emo> <lr> <L0> </lr>"
    )  # the 14th code ends at 0.28 s, after the clip's 8 frames (0.267 s): dropped
    no_emotion = ListenerProcessor(tokenizer, modalities=["words", "acoustic"])
    assert "<emo>" not in no_emotion.decode(no_emotion(words=clip["words"], num_frames=8)["input_ids"][0])
    with pytest.raises(ValueError, match="modalities"):
        ListenerProcessor(tokenizer, modalities=["video"])


def test_batch_pads_right_and_equals_single_encodings(processor):
    clips = [
        {
            "words": [{"text": "a long sentence here", "end": 0.5}],
            "acoustic_codes": [1] * 40,
            "emotion_ids": [1] * 3,
            "num_frames": 24,
            "listener_codes": [1, 2, 3],
        },
        {
            "words": [],
            "acoustic_codes": [],
            "emotion_ids": [0, 0],
            "num_frames": 16,
            "listener_codes": [4, 5],
        },
    ]
    batched = processor(**{key: [clip[key] for clip in clips] for key in clips[0]}, return_tensors="pt")
    pad = processor.layout.pad_token_id
    for row, clip in enumerate(clips):
        single = processor(**clip, return_tensors="pt")
        n = single["input_ids"].shape[1]
        for key in ("input_ids", "attention_mask", "group_ids", "listener_slot_mask", "labels"):
            assert torch.equal(batched[key][row, :n], single[key][0]), key
        assert (batched["input_ids"][row, n:] == pad).all() and (
            batched["attention_mask"][row, n:] == 0
        ).all()
        assert (batched["group_ids"][row, n:] == -1).all() and (batched["labels"][row, n:] == -100).all()
        assert not batched["listener_slot_mask"][row, n:].any()
    assert batched["group_ids"].dtype == torch.int64 and batched["listener_slot_mask"].dtype == torch.bool
    assert batched["listener_slot_mask"].sum(1).tolist() == [3, 2]


def test_emotion_derived_from_speaker_motion(tokenizer):
    torch.manual_seed(0)
    recognizer = EmotionRecognizer(EmotionRecognizerConfig(hidden_size=16)).eval()
    processor = ListenerProcessor(tokenizer, modalities=["emotion"], emotion_recognizer=recognizer)
    rng = np.random.default_rng(0)
    motion, shape = (
        rng.standard_normal((20, 56)).astype(np.float32) * 3,
        rng.standard_normal(100).astype(np.float32),
    )
    out = processor(speaker_motion=motion, speaker_shape=shape)
    probabilities = recognizer.predict_from_motion(
        torch.from_numpy(motion), torch.from_numpy(shape)
    ).probabilities
    expected = group_emotion_ids(probabilities.numpy(), 8)
    ids = out["input_ids"][0]
    emotions = [
        t - processor.layout.emotion_offset
        for t in ids
        if processor.layout.emotion_offset <= t < processor.layout.special_offset
    ]
    assert emotions == expected and len(expected) == 3  # 20 frames -> groups of 8, 8, 4
    # an empty emotion_ids list (dataset without emotion) is derived the same way
    assert (
        processor(speaker_motion=motion, speaker_shape=shape, emotion_ids=[])["input_ids"] == out["input_ids"]
    )
    # motion longer than the clip: the clip's frames decide
    assert processor(speaker_motion=motion, speaker_shape=shape, num_frames=16)["input_ids"][0] == ids[: 2 * 6]
    with pytest.raises(ValueError, match="too few"):
        processor(speaker_motion=motion, speaker_shape=shape, num_frames=40)
    with pytest.raises(ValueError, match="emotion recogniser"):
        ListenerProcessor(tokenizer, modalities=["emotion"])(speaker_motion=motion, speaker_shape=shape)
    motion[5, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        processor(speaker_motion=motion, speaker_shape=shape)
    with pytest.raises(ValueError, match="NaN"):  # even when the emotion ids are given
        processor(speaker_motion=motion, emotion_ids=[0, 0, 0])


def test_bad_inputs_get_clear_errors(processor):
    base = {"emotion_ids": [0, 0, 0], "num_frames": 24}
    with pytest.raises(ValueError, match="4 listener codes for 24 frames"):
        processor(**base, listener_codes=[1, 2, 3, 4])
    with pytest.raises(ValueError, match=r"listener_codes must lie in \[0, 256\)"):
        processor(**base, listener_codes=[1, 2, 256])
    with pytest.raises(ValueError, match=r"acoustic_codes must lie in \[0, 1024\)"):
        processor(**base, acoustic_codes=[5, 1024])
    with pytest.raises(ValueError, match="2 emotion ids for 3 groups"):
        processor(emotion_ids=[0, 0], num_frames=24)
    with pytest.raises(ValueError, match="emotion_ids: 5 emotion ids for 3 groups"):
        processor(emotion_ids=[0] * 5, num_frames=24)
    with pytest.raises(ValueError, match=r"acoustic_codes has 10 codes but the clip needs 400\.0 \(240 frames"):
        processor(acoustic_codes=[1] * 10, emotion_ids=[0] * 30, num_frames=240)  # 8 s at 50 Hz
    with pytest.raises(ValueError, match=r"content_codes has 100 codes but the clip needs 40\.0"):
        ListenerProcessor(processor.tokenizer, modalities=["content"])(content_codes=[1] * 100, num_frames=24)
    with pytest.raises(ValueError, match="acoustic_codes must be integers, got float64"):
        processor(**base, acoustic_codes=[1.5] * 40)
    with pytest.raises(ValueError, match=r"speaker_motion must have shape \(T, 56\).*got \(24, 55\)"):
        processor(speaker_motion=np.zeros((24, 55)), speaker_shape=np.zeros(100))  # before the recogniser
    with pytest.raises(ValueError, match="num_frames must be a whole number of frames, got 23.5"):
        processor(emotion_ids=[0] * 3, num_frames=23.5)
    with pytest.raises(ValueError, match="num_frames"):
        processor(words=[{"text": "hi", "end": 0.1}], emotion_ids=[])
    with pytest.raises(ValueError, match="mixed single and batched"):
        processor(acoustic_codes=[[1, 2], [3]], emotion_ids=[0, 0, 0], num_frames=24)
    with pytest.raises(ValueError, match="different lengths"):
        processor(acoustic_codes=[[1, 2], [3]], emotion_ids=[[0, 0, 0]], num_frames=[24, 24])
    with pytest.raises(ValueError, match="stage"):
        processor(**base, stage="both")
    with pytest.raises(ValueError, match="for every sample"):
        processor(emotion_ids=[[0], [0]], num_frames=[8, 8], listener_codes=[[1], None])


def test_too_long_training_sequences_and_the_context_report(tokenizer):
    processor = ListenerProcessor(tokenizer)
    clip = {"acoustic_codes": [1] * 400, "emotion_ids": [0] * 30, "num_frames": 240}
    inference = processor(**clip)
    length = len(inference["input_ids"][0])
    assert length == 400 + 30 * 8  # codes + (<sa></sa>, <emo> e </emo>, <lr> LR </lr>) per group
    processor(**clip, listener_codes=[0] * 30, max_length=length)
    with pytest.raises(ValueError, match=f"{length} tokens, more than max_length={length - 1}"):
        processor(**clip, listener_codes=[0] * 30, max_length=length - 1)
    processor(**clip, max_length=length - 1)  # inference: the model handles long windows
    config = ListenerConfig(backbone_config=GPT2Config(n_layer=1, n_embd=16, n_head=2, n_positions=512))
    report = processor.sequence_length_report(inference, config)
    assert report == {"longest": 640, "max_position_embeddings": 512, "fits": False, "overflow": 128}


def test_layout_matches_listener_config(tokenizer):
    config = ListenerConfig(
        backbone_config=GPT2Config(n_layer=1, n_embd=16, n_head=2), num_listener_tokens=64
    )
    processor = ListenerProcessor.from_listener_config(tokenizer, config)
    assert processor.layout == config.layout
    small = ListenerConfig(backbone_config=GPT2Config(n_layer=1, n_embd=16, n_head=2, vocab_size=1000))
    with pytest.raises(ValueError, match="vocab_size"):
        ListenerProcessor.from_listener_config(tokenizer, small)


def test_save_and_load_round_trip(tmp_path, tokenizer):
    recognizer_dir = tmp_path / "emotion"
    torch.manual_seed(0)
    EmotionRecognizer(EmotionRecognizerConfig(hidden_size=16)).save_pretrained(recognizer_dir)
    processor = ListenerProcessor(
        tokenizer,
        num_listener_tokens=64,
        modalities=["words", "content", "emotion"],
        history_seconds=2.0,
        max_history_tokens=7,
        asr_backend="faster-whisper",
        asr_checkpoint="/models/whisper-medium",
        acoustic_codec_config="/models/speechtokenizer/config.json",
        acoustic_codec_checkpoint="/models/speechtokenizer/SpeechTokenizer.pt",
        emotion_checkpoint=str(recognizer_dir),
    )
    processor.save_pretrained(tmp_path / "processor")
    loaded = ListenerProcessor.from_pretrained(tmp_path / "processor")
    assert loaded.to_dict() == processor.to_dict()
    assert loaded.layout == processor.layout and loaded.modalities == ("words", "content", "emotion")
    assert loaded.asr_checkpoint == "/models/whisper-medium" and loaded.asr_backend == "faster-whisper"
    rng = np.random.default_rng(1)
    clip = {
        "words": [{"text": "right", "end": 0.3}],
        "history_words": [{"text": "you know what I mean", "end": -0.2}],
        "content_codes": [2] * 30,
        "speaker_motion": rng.standard_normal((24, 56)),
        "speaker_shape": rng.standard_normal(100),
        "listener_codes": [1, 2, 63],
    }
    # the emotion recogniser is loaded lazily from its saved location, in both processors
    assert loaded(**clip, return_tensors="np")["input_ids"].tolist() == processor(**clip)["input_ids"]


def test_encode_examples_reads_dataset_rows(processor):
    rng = np.random.default_rng(0)
    examples = [
        {
            "speaker_motion": rng.standard_normal((32, 56)).astype(np.float32),
            "listener_motion": rng.standard_normal((32, 56)).astype(np.float32),
            "listener_identity": rng.standard_normal(100).astype(np.float32),
            "speaker_shape": rng.standard_normal(100).astype(np.float32),
            "words": [{"text": "fine", "start": 0.0, "end": 0.2}],
            "history_words": [],
            "acoustic_codes": [4] * 53,
            "emotion_ids": [1, 2, 3, 4],
            "listener_codes": [9, 9, 9, 9],
            "source": "clip.mp4",
            "start_frame": 96,
            "listener_id": "trevor",
            "fps": 30,
        }
    ]
    batch = processor.encode_examples(examples)
    direct = processor(
        speaker_motion=examples[0]["speaker_motion"],
        words=examples[0]["words"],
        acoustic_codes=examples[0]["acoustic_codes"],
        emotion_ids=examples[0]["emotion_ids"],
        listener_codes=examples[0]["listener_codes"],
        return_tensors="pt",
    )
    for key in direct:
        assert torch.equal(batch[key], direct[key])
    with pytest.raises(ValueError, match="25 fps"):
        processor.encode_examples([{**examples[0], "fps": 25}])


def test_batch_decode_strips_padding(processor):
    out = processor(
        words=[[{"text": "hey", "end": 0.1}], []],
        emotion_ids=[[1], [2]],
        num_frames=[8, 8],
        return_tensors="pt",
    )
    assert processor.batch_decode(out["input_ids"]) == [
        "hey <sa> </sa> <emo> <E:1> </emo> <lr> <L0> </lr>",
        "<sa> </sa> <emo> <E:2> </emo> <lr> <L0> </lr>",
    ]


def test_columnar_words_from_datasets(processor):
    rows = [{"text": "so", "start": 0.0, "end": 0.1}, {"text": "yes", "start": 0.3, "end": 0.5}]
    columns = {"text": ["so", "yes"], "start": [0.0, 0.3], "end": [0.1, 0.5]}
    expected = processor(words=rows, emotion_ids=[0] * 3, num_frames=24)["input_ids"]
    assert processor(words=columns, emotion_ids=[0] * 3, num_frames=24)["input_ids"] == expected
    batched = processor(words=[columns, columns], emotion_ids=[[0] * 3] * 2, num_frames=[24, 24])["input_ids"]
    assert batched == expected * 2


def test_auto_processor_loads_a_saved_processor(tmp_path, processor):
    from transformers import AutoProcessor

    processor.save_pretrained(tmp_path)
    loaded = AutoProcessor.from_pretrained(tmp_path)
    assert isinstance(loaded, ListenerProcessor) and loaded.to_dict() == processor.to_dict()
