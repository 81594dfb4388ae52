"""Does the listener LM use the speaker? Code-only baselines and a shuffled-speaker control.

- `code_baselines`: next-code accuracy and NLL of predictors that see only past listener codes, the
  floor a model must beat before its speaker inputs can be said to help.
- `teacher_forced_scores`: the LM's own NLL and accuracy on the listener codes, batched as in training.
- `shuffled_speakers`, `speaker_shuffle_control`: the same scores (and, with a pipeline, the motion
  metrics) when every window gets another window's speaker; a model that reads the speaker does worse.
"""

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..data.collators import ListenerCollator
from ..data.synthetic import without_joke_words
from ..pipeline import SPEAKER_KEYS, ListenerPipeline
from ..processing.batching import without_streams
from ..processing.processing_listener import IGNORE_INDEX
from .events import RESPONSES, response_groups
from .scoring import score_predictions
from .tables import markdown_table


def _checked_codes(windows: Sequence, num_codes: int, name: str) -> list[np.ndarray]:
    """The non-empty windows of `windows` as int64 arrays, checked to lie in `[0, num_codes)`."""
    checked = [np.asarray(codes, dtype=np.int64).reshape(-1) for codes in windows]
    checked = [codes for codes in checked if len(codes)]
    if not checked:
        raise ValueError(f"{name} holds no code")
    for codes in checked:
        if codes.min() < 0 or codes.max() >= num_codes:
            raise ValueError(f"{name} must lie in [0, {num_codes}), got [{codes.min()}, {codes.max()}]")
    return checked


def _predictor_scores(windows, unigram, guesses, table) -> dict[str, float]:
    """NLL and accuracy of a predictor that reads only the previous code.

    The first code of a window gets probability `unigram[code]` and the guess `argmax(unigram)`; a later
    code gets `table[previous, code]` and the guess `guesses[previous]`.
    """
    probabilities, hits = [], []
    for codes in windows:
        previous, following = codes[:-1], codes[1:]
        probabilities.append(np.concatenate([[unigram[codes[0]]], table[previous, following]]))
        hits.append(np.concatenate([[np.argmax(unigram)], guesses[previous]]) == codes)
    return {
        "nll": float(-np.log(np.concatenate(probabilities)).mean()),
        "accuracy": float(np.concatenate(hits).mean()),
    }


def code_baselines(
    train_codes: Sequence, eval_codes: Sequence, num_codes: int
) -> dict[str, dict[str, float]]:
    """Teacher-forced next-code scores of three code-only predictors fitted on `train_codes`.

    Every predictor scores the first code of a window with the train unigram (add-one smoothed) and
    guesses the most frequent train code there (the smallest code on ties). Later codes:

    - `majority`: the unigram again; guesses the most frequent train code.
    - `copy_previous`: guesses the previous code. Its NLL comes from a "stay" distribution: the code
      repeats with probability `p = (stays + 1) / (transitions + 2)` (train counts, add-one smoothed)
      and moves to each of the other `num_codes - 1` codes with probability `(1 - p) / (num_codes - 1)`.
    - `bigram`: `P(c_t | c_{t-1}) = (n(c_{t-1}, c_t) + 1) / (n(c_{t-1}) + num_codes)` from the train
      transitions; guesses its most likely next code.

    Args:
        train_codes (`list` of `list[int]`): the train windows' `listener_codes`, `(num_groups_i,)` each.
        eval_codes (`list` of `list[int]`): the evaluated windows' `listener_codes`.
        num_codes (`int`): size of the code vocabulary (at least 2).

    Returns:
        `dict`: `{"majority": {"nll", "accuracy"}, "copy_previous": {...}, "bigram": {...}}`, the NLL in nats
        per eval code and the accuracy over eval codes (empty windows are left out).
    """
    if num_codes < 2:
        raise ValueError(f"num_codes must be at least 2, got {num_codes}")
    train = _checked_codes(train_codes, num_codes, "train_codes")
    windows = _checked_codes(eval_codes, num_codes, "eval_codes")
    counts = np.bincount(np.concatenate(train), minlength=num_codes)
    unigram = (counts + 1) / (counts.sum() + num_codes)
    pairs = np.zeros((num_codes, num_codes))
    for codes in train:
        np.add.at(pairs, (codes[:-1], codes[1:]), 1)
    bigram = (pairs + 1) / (pairs.sum(axis=1, keepdims=True) + num_codes)
    stay = (np.trace(pairs) + 1) / (pairs.sum() + 2)
    stay_table = np.full((num_codes, num_codes), (1 - stay) / (num_codes - 1))
    np.fill_diagonal(stay_table, stay)
    codes = np.arange(num_codes)
    return {
        "majority": _predictor_scores(
            windows, unigram, np.full(num_codes, np.argmax(unigram)), np.tile(unigram, (num_codes, 1))
        ),
        "copy_previous": _predictor_scores(windows, unigram, codes, stay_table),
        "bigram": _predictor_scores(windows, unigram, np.argmax(bigram, axis=1), bigram),
    }


def _mean_scores(losses: np.ndarray, hits: np.ndarray) -> dict:
    """`nll`, `accuracy` and `num_codes` of per-code losses and hits (NaN rates when there is no code)."""
    if not len(losses):
        return {"nll": float("nan"), "accuracy": float("nan"), "num_codes": 0}
    return {"nll": float(losses.mean()), "accuracy": float(hits.mean()), "num_codes": len(losses)}


@torch.no_grad()
def teacher_forced_scores(
    model, processor, examples: Sequence[dict], batch_size: int = 8, without: Sequence[str] = ()
) -> dict:
    """NLL and accuracy of the listener head on the true listener codes, batched as stage-2 training does.

    Windows go through `ListenerCollator(processor, stage="listener")`; the listener logits at position
    `t` score the listener label at `t + 1`, as in the model's `_losses`. Puts `model` in eval mode.

    Args:
        model (`ListenerForCausalLM`): the listener LM.
        processor (`ListenerProcessor`): its processor.
        examples (`list` of `dict`): windows with speaker inputs and `listener_codes` `(num_groups_i,)`.
        batch_size (`int`, defaults to 8): windows per forward pass.
        without (`list[str]`, *optional*): speaker streams taken out of every window (`without_streams`): what the
            model makes of the codes without its words, say (the contrast of guided generation).

    Returns:
        `dict`: `nll` (nats, mean over all listener codes), `accuracy` (argmax, over all listener codes),
        `num_codes` (how many codes were scored) and, when the windows carry the corpus's `events`, `responses`:
        the same three per kind of group of `events.response_groups` (`"other"`, `"nod"`, `"laugh"`): how well
        the codes of the rare responses are predicted, which the mean over all codes hides.
    """
    if not examples:
        raise ValueError("no windows to score")
    model.eval()
    collate = ListenerCollator(processor, stage="listener")
    layout = model.config.layout
    losses, hits, kinds = [], [], []
    with_events = all(example.get("events") is not None for example in examples)
    for start in range(0, len(examples), batch_size):
        windows = [examples[index] for index in range(start, min(start + batch_size, len(examples)))]
        batch = collate(windows)
        if without:
            batch = without_streams(batch, layout, without)
        batch = {key: value.to(model.device) for key, value in batch.items()}
        logits = model(**batch).listener_logits[:, :-1]
        targets = batch["labels"][:, 1:]
        listener = (targets != IGNORE_INDEX) & layout.is_listener_id(targets)
        for row, window in enumerate(windows):
            scores, codes = logits[row][listener[row]].float(), targets[row][listener[row]] - layout.listener_offset
            losses.append(F.cross_entropy(scores, codes, reduction="none").cpu().numpy())
            hits.append((scores.argmax(-1) == codes).cpu().numpy())
            if with_events:  # a window's scored codes are its last ones (all of them unless cut)
                groups = response_groups(window, len(window["listener_codes"]), processor.group_size, processor.fps)
                kinds.append(groups[len(groups) - len(codes) :])
    losses, hits = np.concatenate(losses), np.concatenate(hits)
    scores = _mean_scores(losses, hits)
    if with_events:
        kinds = np.concatenate(kinds)
        scores["responses"] = {name: _mean_scores(losses[kinds == k], hits[kinds == k]) for k, name in enumerate(RESPONSES)}
    return scores


def shuffled_speakers(examples: Sequence[dict], seed: int = 0) -> tuple[list[dict], int]:
    """The windows with their speaker taken from another window of the same length.

    Windows are grouped by length (`ListenerPipeline.num_frames`: `num_frames`, else the frames of the
    listener or speaker motion). In each group of two or more, a seeded random cycle through the group
    gives every window the speaker of the next one, so no window keeps its own. The speaker keys are the
    ones the pipeline feeds the processor (`words`, `history_words`, `acoustic_codes`, `content_codes`,
    `emotion_ids`, `speaker_motion`, `speaker_shape`, `audio`, ...): a window gets exactly its donor's
    (a key the donor lacks is dropped). Every other key (`listener_motion`, `listener_identity`,
    `listener_codes`, `source`, ...) stays. A window alone with its length keeps its own speaker.

    Args:
        examples (`list` of `dict`): the windows (not modified; values are shared, not copied).
        seed (`int`): seeds the `numpy` Generator drawing the cycles.

    Returns:
        `tuple`: the shuffled windows (new dicts, in the order of `examples`) and the number of windows left
        with their own speaker.

    Raises:
        ValueError: when no two windows have the same length (no window can be shuffled).
    """
    groups: dict[int, list[int]] = {}
    for index, example in enumerate(examples):
        groups.setdefault(ListenerPipeline.num_frames(example), []).append(index)
    unshuffled = sum(len(indices) == 1 for indices in groups.values())
    if unshuffled == len(examples):
        raise ValueError(f"none of the {unshuffled} windows can be shuffled: no two have the same length")
    rng = np.random.default_rng(seed)
    donors = list(range(len(examples)))
    for indices in groups.values():
        order = rng.permutation(indices)
        for index, donor in zip(order, np.roll(order, -1)):
            donors[index] = int(donor)
    shuffled = []
    for example, donor in zip(examples, donors):
        window = {key: value for key, value in example.items() if key not in SPEAKER_KEYS}
        window.update({key: examples[donor][key] for key in SPEAKER_KEYS if key in examples[donor]})
        shuffled.append(window)
    return shuffled, unshuffled


def speaker_shuffle_control(
    model,
    processor,
    examples: Sequence[dict],
    pipeline: ListenerPipeline | None = None,
    seed: int = 0,
    true_scores: dict | None = None,
) -> dict:
    """Teacher-forced scores (and, with a pipeline, motion metrics) with the true and shuffled speakers.

    Args:
        model (`ListenerForCausalLM`), processor (`ListenerProcessor`): scored by `teacher_forced_scores`.
        examples (`list` of `dict`): windows with speaker inputs, `listener_codes` and, with a pipeline,
            `listener_motion (T, 56)`, `listener_identity (100,)` and `speaker_motion (T, 56)`.
        pipeline (`ListenerPipeline`, *optional*): generates motion for both versions of the windows; each
            is scored by `score_predictions` against the ground truth, P-FD with the TRUE speaker motion.
        seed (`int`): seed of `shuffled_speakers`.
        true_scores (`dict`, *optional*): `score_predictions` of the pipeline's motion for `examples` when it
            was scored already (as `evaluate_systems` does): its metrics are taken instead of generating the
            same motion again.

    Returns:
        `dict`: `true` and `shuffled` (each `teacher_forced_scores`, plus the `score_predictions` metrics
        with a pipeline), `nll_gap` (shuffled NLL - true NLL; > 0 when the model uses the speaker) and
        `num_unshuffled` (windows alone with their length, kept with their own speaker).
    """
    shuffled, num_unshuffled = shuffled_speakers(examples, seed=seed)
    results = {
        "true": teacher_forced_scores(model, processor, examples),
        "shuffled": teacher_forced_scores(model, processor, shuffled),
    }
    if pipeline is not None:
        shuffled_scores = score_predictions(pipeline.predict(shuffled), examples)
        if true_scores is None:
            true_scores = score_predictions(pipeline.predict(examples), examples)
        results["shuffled"].update(shuffled_scores)
        results["true"].update({key: true_scores[key] for key in shuffled_scores})
    results["nll_gap"] = results["shuffled"]["nll"] - results["true"]["nll"]
    results["num_unshuffled"] = num_unshuffled
    return results


def joke_word_control(model, processor, examples: Sequence[dict], batch_size: int = 8) -> dict:
    """Does the model read the joke in the words? Teacher-forced scores with the windows' words and with each joke
    word's text replaced by a neutral word (`synthetic.without_joke_words`; history words too), the speech codes
    and emotion unchanged.

    The laughter groups (`events.response_groups`) are predicted as well either way when the model hears the joke
    only in the sound (a joke word's acoustic codes) or not at all; their NLL rises without the joke words when it
    reads them.

    Args:
        model (`ListenerForCausalLM`), processor (`ListenerProcessor`): scored by `teacher_forced_scores`.
        examples (`list` of `dict`): windows with `words`, `listener_codes` and the corpus's `events`.

    Returns:
        `dict`: `with_jokes` and `without_jokes` (each `teacher_forced_scores`) and `laugh_nll_gap` (the laughter
        groups' NLL without the joke words minus with them: 0 when the words tell the model nothing of the joke).
    """
    replaced = [{**example, **{key: without_joke_words(example[key]) for key in ("words", "history_words")
                               if example.get(key) is not None}} for example in examples]  # fmt: skip
    results = {
        "with_jokes": teacher_forced_scores(model, processor, examples, batch_size),
        "without_jokes": teacher_forced_scores(model, processor, replaced, batch_size),
    }
    if "responses" not in results["with_jokes"]:
        raise ValueError("the windows carry no corpus `events`: there are no laughter groups to score")
    nll = {name: scores["responses"]["laugh"]["nll"] for name, scores in results.items()}
    results["laugh_nll_gap"] = nll["without_jokes"] - nll["with_jokes"]
    return results


def format_listening_table(control: dict, baselines: dict | None = None) -> str:
    """Markdown table of a `speaker_shuffle_control` result, with `code_baselines` rows when given.

    Rows: the model with each window's own speaker streams, with shuffled ones, and the code-only predictors;
    columns: teacher-forced NLL and accuracy, and the motion metrics when the control generated motion.
    """
    motion = [key for key in ("l2", "fd", "p_fd") if key in control["true"]]
    headers = {"l2": "L2 ↓", "fd": "FD ↓", "p_fd": "P-FD ↓"}
    rows = {"model, own speaker": control["true"], "model, shuffled speaker": control["shuffled"]}
    rows.update({f"code-only: {name.replace('_', ' ')}": scores for name, scores in (baselines or {}).items()})
    return markdown_table(
        "Listener codes from",
        ["NLL ↓", "Accuracy ↑", *(headers[key] for key in motion)],
        {
            name: [f"{scores['nll']:.3f}", f"{scores['accuracy']:.3f}"]
            + [f"{scores[key]:.4f}" if key in scores else "–" for key in motion]
            for name, scores in rows.items()
        },
    )


__all__ = [
    "code_baselines",
    "format_listening_table",
    "shuffled_speakers",
    "speaker_shuffle_control",
    "teacher_forced_scores",
]
