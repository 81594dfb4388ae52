"""Diagnostics: code-only baselines, teacher-forced scores and the shuffled-speaker control.

The control is checked on a task where only the speaker tells the answer: the listener code of a group
is the speaker's emotion id of that group. A tiny LM trained on it must lose clearly when the speakers
are shuffled; a model that ignores its inputs must not.
"""

import math

import numpy as np
import pytest
import torch
from transformers import GPT2Config

from mmlistener import (
    IdentityVQVAE,
    IdentityVQVAEConfig,
    ListenerConfig,
    ListenerForCausalLM,
    ListenerPipeline,
    ListenerProcessor,
)
from mmlistener.evaluation import (
    code_baselines,
    joke_word_control,
    score_predictions,
    shuffled_speakers,
    speaker_shuffle_control,
    teacher_forced_scores,
)
from mmlistener.evaluation.events import RESPONSES, response_groups
from mmlistener.processing import gpt2_tokenizer_from_tiktoken

NUM_CODES = 4  # listener codes and emotion classes alike
SPEAKER = ("words", "history_words", "acoustic_codes", "emotion_ids", "speaker_motion", "speaker_shape")
LISTENER = ("listener_motion", "listener_identity", "listener_codes", "source")


def test_code_baselines_on_an_alternating_sequence():
    scores = code_baselines([[0, 1, 0, 1, 0, 1]], [[0, 1, 0, 1], []], num_codes=2)
    # train: 3 zeros and 3 ones (majority 0 on the tie), transitions 0->1 three times, 1->0 twice
    first = -math.log((3 + 1) / (6 + 2))  # every predictor scores a window's first code with the unigram
    assert scores["majority"] == pytest.approx({"nll": math.log(2), "accuracy": 0.5})
    change = -math.log(1 - (0 + 1) / (5 + 2))  # the code never stays in train
    assert scores["copy_previous"] == pytest.approx({"nll": (first + 3 * change) / 4, "accuracy": 0.25})
    bigram = [first, -math.log(4 / 5), -math.log(3 / 4), -math.log(4 / 5)]
    assert scores["bigram"] == pytest.approx({"nll": sum(bigram) / 4, "accuracy": 1.0})


def test_code_baselines_check_their_inputs():
    with pytest.raises(ValueError, match=r"eval_codes must lie in \[0, 2\)"):
        code_baselines([[0, 1]], [[0, 2]], num_codes=2)
    with pytest.raises(ValueError, match="eval_codes holds no code"):
        code_baselines([[0, 1]], [[]], num_codes=2)
    with pytest.raises(ValueError, match="at least 2"):
        code_baselines([[0, 0]], [[0]], num_codes=1)


def marked_windows(lengths: list[int]) -> list[dict]:
    """Windows whose every speaker stream says which window it comes from (its index i)."""
    windows = []
    for i, frames in enumerate(lengths):
        windows.append(
            {
                "words": [{"text": f"w{i}", "start": 0.0, "end": 0.1}],
                "history_words": [{"text": f"h{i}", "start": -0.5, "end": -0.2}],
                "acoustic_codes": [i],
                "emotion_ids": [i % NUM_CODES] * (frames // 8),
                "speaker_motion": np.full((frames, 56), i, dtype=np.float32),
                "speaker_shape": np.full(100, i, dtype=np.float32),
                "listener_motion": np.zeros((frames, 56), dtype=np.float32),
                "listener_identity": np.zeros(100, dtype=np.float32),
                "listener_codes": [0] * (frames // 8),
                "source": f"clip{i}",
            }
        )
    return windows


def test_shuffled_speakers_come_from_other_windows_of_the_same_length():
    windows = marked_windows([40, 40, 40, 48, 48, 56])
    windows[0]["content_codes"] = [1, 2]  # only window 0 has it: it must move with window 0's speaker
    shuffled, num_unshuffled = shuffled_speakers(windows, seed=3)
    assert num_unshuffled == 1
    donors = [int(window["speaker_motion"][0, 0]) for window in shuffled]
    assert donors[5] == 5  # alone with its length
    assert sorted(donors[:3]) == [0, 1, 2] and sorted(donors[3:5]) == [3, 4]
    for i, (window, donor) in enumerate(zip(shuffled, donors)):
        assert donor != i or i == 5
        assert all(window[key] is windows[donor][key] for key in SPEAKER)
        assert all(window[key] is windows[i][key] for key in LISTENER)
        assert ("content_codes" in window) == (donor == 0)
    assert "content_codes" in windows[0]  # the input is left alone
    again, _ = shuffled_speakers(windows, seed=3)
    assert [int(window["speaker_motion"][0, 0]) for window in again] == donors


def test_shuffled_speakers_need_two_windows_of_a_length():
    with pytest.raises(ValueError, match="none of the 2 windows can be shuffled"):
        shuffled_speakers(marked_windows([40, 48]))


@pytest.fixture(scope="module")
def config():
    backbone = GPT2Config(vocab_size=len(gpt2_tokenizer_from_tiktoken()), n_layer=1, n_embd=16, n_head=2)
    return ListenerConfig(
        backbone_config=backbone,
        num_listener_tokens=NUM_CODES,
        num_acoustic_tokens=8,
        num_content_tokens=8,
        num_emotion_tokens=NUM_CODES,
    )


@pytest.fixture(scope="module")
def processor(config):
    return ListenerProcessor.from_listener_config(gpt2_tokenizer_from_tiktoken(), config)


def emotion_windows(count: int, seed: int, lengths=(40, 48)) -> list[dict]:
    """Windows where the listener code of each group is the speaker's (random) emotion id of that group."""
    rng = np.random.default_rng(seed)
    windows = []
    for i in range(count):
        frames = lengths[i % len(lengths)]
        emotion = rng.integers(0, NUM_CODES, frames // 8).tolist()
        windows.append(
            {
                "words": [],
                "acoustic_codes": [],
                "emotion_ids": emotion,
                "listener_codes": emotion,
                "speaker_motion": rng.standard_normal((frames, 56)).astype(np.float32),
                "listener_motion": rng.standard_normal((frames, 56)).astype(np.float32),
                "listener_identity": np.zeros(100, dtype=np.float32),
            }
        )
    return windows


def untrained(config, head_std: float | None = None) -> ListenerForCausalLM:
    """A random model; `head_std` redraws the listener head larger, so its codes depend on the inputs."""
    torch.manual_seed(0)
    model = ListenerForCausalLM(config).eval()
    if head_std is not None:
        with torch.no_grad():
            model.listener_head.weight.normal_(0.0, head_std)
    return model


@pytest.fixture(scope="module")
def trained(config, processor):
    """A model trained for 60 steps on `emotion_windows` (under a second on one thread)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    model = untrained(config).train()
    train = emotion_windows(64, seed=0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for step in range(60):
        batch = processor.encode_examples(train[16 * (step % 4) : 16 * (step % 4 + 1)], return_tensors="pt")
        optimizer.zero_grad()
        model(**batch).loss.backward()
        optimizer.step()
    torch.set_num_threads(threads)
    return model.eval()


def test_teacher_forced_scores_match_the_model_listener_loss(config, processor):
    model = untrained(config, head_std=2.0)
    windows = emotion_windows(5, seed=1, lengths=(40, 48, 56))
    batch = processor.encode_examples(windows, return_tensors="pt")
    with torch.no_grad():
        out = model(**batch)
    slots = batch["listener_slot_mask"]
    # the code in a slot is predicted at the position before it (the `<lr>` token)
    predicted = out.listener_logits[:, :-1][slots[:, 1:]].argmax(-1)
    codes = torch.tensor([code for window in windows for code in window["listener_codes"]])
    for batch_size in (8, 2):
        scores = teacher_forced_scores(model, processor, windows, batch_size=batch_size)
        assert scores["num_codes"] == len(codes) == 5 + 6 + 7 + 5 + 6
        assert scores["nll"] == pytest.approx(out.listener_loss.item(), abs=1e-5)
        assert scores["accuracy"] == pytest.approx((predicted == codes).float().mean().item())


def test_response_groups_follow_the_corpus_lags():
    window = {"events": {"utterance_ends": [1.0, -3.0], "joke_ends": [2.0]}}
    labels = response_groups(window, num_groups=15)
    # a nod starts 6 frames after the end at frame 30 and lasts 24 frames: [36, 60) meets groups 4..7;
    # laughter starts 9 frames after frame 60 and lasts 36: [69, 105) meets groups 8..13; the end before the
    # window answers before it
    assert labels.tolist() == [0] * 4 + [1] * 4 + [2] * 6 + [0]
    assert RESPONSES[1] == "nod" and RESPONSES[2] == "laugh"
    assert response_groups({"events": None}, 3).tolist() == [0, 0, 0]


def test_teacher_forced_scores_split_by_response(config, processor):
    windows = emotion_windows(3, seed=4, lengths=(120,))  # 15 groups each
    for window in windows:  # code 1 in the nod groups, 2 in the laugh groups, 0 elsewhere
        window["events"] = {"utterance_ends": [1.0], "joke_ends": [2.0]}
        window["listener_codes"] = response_groups(window, 15).tolist()
    model = untrained(config)
    bias = torch.tensor([2.0, 0.0, -1.0, 0.5])
    with torch.no_grad():  # the same distribution at every slot: each code's NLL is known
        model.listener_head.weight.zero_()
        model.listener_head.bias.copy_(bias)
    nll = -torch.log_softmax(bias, 0)
    scores = teacher_forced_scores(model, processor, windows, batch_size=2)
    responses = scores["responses"]
    assert {name: part["num_codes"] for name, part in responses.items()} == {"other": 15, "nod": 12, "laugh": 18}
    for name, code in (("other", 0), ("nod", 1), ("laugh", 2)):
        assert responses[name]["nll"] == pytest.approx(nll[code].item(), abs=1e-5)
        assert responses[name]["accuracy"] == (1.0 if code == 0 else 0.0)
    assert "responses" not in teacher_forced_scores(model, processor, emotion_windows(2, seed=4))


def test_a_model_that_reads_the_speaker_loses_with_shuffled_speakers(config, processor, trained):
    test = emotion_windows(16, seed=2)
    control = speaker_shuffle_control(trained, processor, test)
    assert control["num_unshuffled"] == 0
    assert control["nll_gap"] > 0.3
    assert control["true"]["accuracy"] > control["shuffled"]["accuracy"] + 0.3
    assert control["nll_gap"] == control["shuffled"]["nll"] - control["true"]["nll"]
    assert abs(speaker_shuffle_control(untrained(config), processor, test)["nll_gap"]) < 0.05
    ignoring = untrained(config)
    with torch.no_grad():  # the listener head reads nothing: the same code distribution everywhere
        ignoring.listener_head.weight.zero_()
        ignoring.listener_head.bias.copy_(torch.tensor([2.0, 0.0, -1.0, 0.5]))
    assert speaker_shuffle_control(ignoring, processor, test)["nll_gap"] == pytest.approx(0.0, abs=1e-6)


def test_the_control_scores_generated_motion_against_the_true_speaker(processor, trained):
    torch.manual_seed(0)
    vqvae_config = IdentityVQVAEConfig(
        hidden_size=16, codebook_size=NUM_CODES, codebook_dim=8, num_residual_layers=1
    )
    pipeline = ListenerPipeline(trained, processor, IdentityVQVAE(vqvae_config))
    test = emotion_windows(6, seed=3)
    control = speaker_shuffle_control(trained, processor, test, pipeline=pipeline, seed=1)
    assert {"l2", "fd", "p_fd", "nll"} <= set(control["true"]) & set(control["shuffled"])
    shuffled, _ = shuffled_speakers(test, seed=1)
    predictions = pipeline.predict(shuffled)
    assert control["shuffled"] == pytest.approx(
        {**teacher_forced_scores(trained, processor, shuffled), **score_predictions(predictions, test)}
    )
    assert control["shuffled"]["p_fd"] != pytest.approx(score_predictions(predictions, shuffled)["p_fd"])
    assert control["true"]["l2"] == pytest.approx(score_predictions(pipeline.predict(test), test)["l2"])

    calls = []
    counting = ListenerPipeline(trained, processor, pipeline.vqvae)
    counting.predict = lambda windows: calls.append(windows) or pipeline.predict(windows)
    given = {**score_predictions(pipeline.predict(test), test), "l2_affect": 1.0}
    reused = speaker_shuffle_control(trained, processor, test, pipeline=counting, seed=1, true_scores=given)
    assert len(calls) == 1 and calls[0] is not test  # only the shuffled windows are generated
    assert {key: reused["true"][key] for key in ("l2", "fd", "p_fd")} == {key: given[key] for key in ("l2", "fd", "p_fd")}
    assert "l2_affect" not in reused["true"] and reused["shuffled"] == pytest.approx(control["shuffled"])


def test_listening_table_lists_the_model_beside_the_code_only_predictors():
    from mmlistener.evaluation import format_listening_table

    control = {"true": {"nll": 1.0, "accuracy": 0.5, "l2": 0.3, "fd": 9.0, "p_fd": 10.0},
               "shuffled": {"nll": 2.5, "accuracy": 0.2, "l2": 0.6, "fd": 19.0, "p_fd": 21.0}}
    table = format_listening_table(control, {"copy_previous": {"nll": 2.0, "accuracy": 0.3}})
    lines = table.splitlines()
    assert lines[0] == "| Listener codes from | NLL ↓ | Accuracy ↑ | L2 ↓ | FD ↓ | P-FD ↓ |"
    assert lines[2] == "| model, own speaker | 1.000 | 0.500 | 0.3000 | 9.0000 | 10.0000 |"
    assert lines[3] == "| model, shuffled speaker | 2.500 | 0.200 | 0.6000 | 19.0000 | 21.0000 |"
    assert lines[4] == "| code-only: copy previous | 2.000 | 0.300 | – | – | – |"


def test_joke_word_control_scores_the_windows_with_neutral_words_in_the_jokes_place(config, processor):
    windows = emotion_windows(4, seed=5, lengths=(120,))  # 15 groups each
    for window in windows:  # groups 1-3 nod, 4-9 laugh
        window["events"] = {"utterance_ends": [0.3, 1.0], "joke_ends": [1.0]}
        window["listener_codes"] = response_groups(window, 15).tolist()

    def said(last: str, first: str = "so") -> list[dict]:
        return [dict(window, words=[{"text": first, "start": 0.2, "end": 0.5}, {"text": last, "start": 0.5, "end": 1.0}],
                     history_words=[{"text": "bananas", "start": -0.8, "end": -0.3}]) for window in windows]  # fmt: skip

    model = untrained(config, head_std=2.0)  # its codes depend on its inputs
    control = joke_word_control(model, processor, said("kidding."))
    # the joke word and the history's joke become their control words ("the.", "we"); the other words stay
    expected = teacher_forced_scores(model, processor, [dict(w, history_words=[{"text": "we", "start": -0.8, "end": -0.3}])
                                                        for w in said("the.")])  # fmt: skip
    assert control["without_jokes"] == expected
    assert control["with_jokes"] == teacher_forced_scores(model, processor, said("kidding."))
    assert control["laugh_nll_gap"] == pytest.approx(
        expected["responses"]["laugh"]["nll"] - control["with_jokes"]["responses"]["laugh"]["nll"]
    )
    assert abs(control["laugh_nll_gap"]) > 1e-4  # the model reads its words
    no_jokes = [dict(window, history_words=[]) for window in said("to.", first="went")]
    assert joke_word_control(model, processor, no_jokes)["laugh_nll_gap"] == 0.0
    with pytest.raises(ValueError, match="no corpus `events`"):
        joke_word_control(model, processor, emotion_windows(2, seed=5))
