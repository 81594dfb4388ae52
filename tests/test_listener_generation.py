"""ListenerForCausalLM.generate: cached chunks, batching, causality, sampling, sliding window."""

import pytest
import torch
from test_listener_model import listener_config, make_batch
from transformers import LogitsProcessor, LogitsProcessorList

from mmlistener import ListenerForCausalLM

# three clips of 6 groups with different history and different word counts per group
SAMPLES = [
    {"history": 4, "words": [2, 0, 1, 3, 0, 2]},
    {"history": 0, "words": [0, 3, 0, 1, 2, 0]},
    {"history": 7, "words": [1, 1, 4, 0, 1, 0]},
]


def inputs(batch):
    return {key: value for key, value in batch.items() if key != "labels"}


def rows(batch, index):
    return {key: value[index : index + 1] for key, value in inputs(batch).items()}


# every test runs on both backbone families: learned absolute positions (GPT-2) and rotary ones (LLaMA, the demo's)
BACKBONES = ["gpt2", "llama"]


@pytest.fixture(scope="module", params=BACKBONES)
def model(request):
    torch.manual_seed(0)
    return ListenerForCausalLM(listener_config(initializer_range=0.3, backbone=request.param)).eval()


@pytest.fixture(scope="module")
def batch(model):
    return make_batch(model.config.layout, SAMPLES, seed=5)


def test_cached_generation_equals_full_recompute(model, batch):
    cached = model.generate(**inputs(batch))
    assert cached.shape == (3, 6) and cached.dtype == torch.long
    assert 0 <= int(cached.min()) and int(cached.max()) < model.config.num_listener_tokens
    assert len(set(cached.flatten().tolist())) > 3  # not a constant output
    assert torch.equal(cached, model.generate(**inputs(batch), use_cache=False))


def test_a_batch_gives_the_codes_of_one_by_one_generation(model, batch):
    together = model.generate(**inputs(batch))
    for index in range(3):
        alone = model.generate(**rows(batch, index))
        assert torch.equal(alone[0], together[index])


def test_codes_equal_teacher_forced_argmax_at_each_lr(model, batch):
    codes = model.generate(**inputs(batch))
    forced = make_batch(model.config.layout, SAMPLES, seed=5, codes=codes.tolist())
    logits = model(**inputs(forced)).listener_logits
    before_slot = forced["listener_slot_mask"][:, 1:]
    picked = logits[:, :-1][before_slot].argmax(-1).view(3, 6)
    assert torch.equal(picked, codes)


def perturbed(batch, layout, where):
    """`inputs(batch)` with the text and acoustic tokens at `where` moved to other ids of their block."""
    changed = inputs(batch)
    ids = batch["input_ids"].clone()
    text = where & (ids < layout.text_vocab_size)
    acoustic = where & (ids >= layout.acoustic_offset) & (ids < layout.content_offset)
    ids[text] = (ids[text] + 17) % layout.text_vocab_size
    ids[acoustic] = layout.acoustic_offset + (ids[acoustic] - layout.acoustic_offset + 11) % layout.num_acoustic_tokens
    changed["input_ids"] = ids
    return changed


def test_causality_later_speaker_input_never_changes_earlier_codes(model, batch):
    codes = model.generate(**inputs(batch))
    for k in (1, 3):
        new = model.generate(**perturbed(batch, model.config.layout, batch["group_ids"] > k))
        assert torch.equal(new[:, : k + 1], codes[:, : k + 1])
        assert not torch.equal(new[:, k + 1 :], codes[:, k + 1 :])


def test_slots_and_groups_can_be_inferred_from_the_lr_tokens(model, batch):
    without = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
    assert torch.equal(model.generate(**without), model.generate(**inputs(batch)))


def test_samples_with_fewer_groups_are_padded_with_their_last_code(model):
    samples = [SAMPLES[0], {"history": 2, "words": SAMPLES[1]["words"][:4]}]
    batch = make_batch(model.config.layout, samples, seed=5)
    codes = model.generate(**inputs(batch))
    assert torch.equal(codes[1, :4], model.generate(**rows(batch, 1))[0])
    assert codes[1, 4] == codes[1, 3] == codes[1, 5]
    assert torch.equal(codes[0], model.generate(**rows(batch, 0))[0])


def test_generate_steps_yields_each_group_as_it_comes(model, batch):
    steps = list(model.generate_steps(**inputs(batch)))
    assert len(steps) == 6 and all(step.shape == (3,) for step in steps)
    assert torch.equal(torch.stack(steps, 1), model.generate(**inputs(batch)))


def test_sampling_is_seeded_and_uses_the_warpers(model, batch):
    first = model.generate(**inputs(batch), do_sample=True, temperature=3.0, seed=1)
    assert torch.equal(first, model.generate(**inputs(batch), do_sample=True, temperature=3.0, seed=1))
    others = [model.generate(**inputs(batch), do_sample=True, temperature=3.0, seed=s) for s in (2, 3)]
    assert any(not torch.equal(first, other) for other in others)
    greedy = model.generate(**inputs(batch))
    assert torch.equal(model.generate(**inputs(batch), do_sample=True, top_k=1, seed=4), greedy)


class BanCode(LogitsProcessor):
    """Forbids one code and records the codes picked so far that it was shown."""

    def __init__(self, code):
        self.code, self.seen = code, []

    def __call__(self, input_ids, scores):
        self.seen.append(input_ids.clone())
        scores = scores.clone()
        scores[:, self.code] = -float("inf")
        return scores


class Recorder(LogitsProcessor):
    """Keeps the listener scores of every step, unchanged."""

    def __init__(self):
        self.scores = []

    def __call__(self, input_ids, scores):
        self.scores.append(scores.clone())
        return scores


def test_caller_logits_processors_see_the_codes_picked_so_far(model, batch):
    greedy = model.generate(**inputs(batch))
    ban = BanCode(int(greedy[0, 0]))
    codes = model.generate(**inputs(batch), logits_processor=LogitsProcessorList([ban]))
    assert not bool((codes == ban.code).any())
    assert [seen.shape for seen in ban.seen] == [(3, g) for g in range(6)]
    assert torch.equal(ban.seen[-1], codes[:, :5])


def without_stream(batch, layout, stream):
    """`inputs(batch)` with one speaker stream's tokens removed from each row, right-padded again."""
    kept = []
    for b in range(batch["input_ids"].shape[0]):
        keep = batch["attention_mask"][b].bool() & ~layout.stream_mask(batch["input_ids"][b], stream)
        kept.append({key: inputs(batch)[key][b][keep] for key in ("input_ids", "listener_slot_mask", "group_ids")})
    width = max(len(row["input_ids"]) for row in kept)
    out = {
        "input_ids": torch.full((len(kept), width), layout.pad_token_id),
        "attention_mask": torch.zeros((len(kept), width), dtype=torch.long),
        "listener_slot_mask": torch.zeros((len(kept), width), dtype=torch.bool),
        "group_ids": torch.full((len(kept), width), -1),
    }
    for b, row in enumerate(kept):
        n = len(row["input_ids"])
        out["input_ids"][b, :n], out["attention_mask"][b, :n] = row["input_ids"], 1
        out["listener_slot_mask"][b, :n], out["group_ids"][b, :n] = row["listener_slot_mask"], row["group_ids"]
    return out


@pytest.mark.parametrize("stream", ["words", "acoustic", "emotion"])
def test_guidance_scale_zero_reads_only_the_contrast(model, batch, stream):
    layout = model.config.layout
    contrast = without_stream(batch, layout, stream)
    assert contrast["input_ids"].shape[1] < batch["input_ids"].shape[1]
    alone = model.generate(**contrast)
    assert torch.equal(model.generate(**inputs(batch), guidance_scale=0.0, guidance_streams=[stream]), alone)
    assert not torch.equal(model.generate(**inputs(batch)), alone)  # the stream matters to this model


def test_guided_codes_follow_the_contrast_of_the_teacher_forced_scores(model, batch):
    layout, scale = model.config.layout, 3.0
    codes = model.generate(**inputs(batch), guidance_scale=scale)
    assert torch.equal(model.generate(**inputs(batch), guidance_scale=1.0), model.generate(**inputs(batch)))
    assert not torch.equal(codes, model.generate(**inputs(batch)))
    assert torch.equal(codes, model.generate(**inputs(batch), guidance_scale=scale, use_cache=False))
    forced = make_batch(layout, SAMPLES, seed=5, codes=codes.tolist())
    per_input = []
    for tokens in (inputs(forced), without_stream(forced, layout, "words")):
        logits = model(**tokens).listener_logits.log_softmax(-1)
        per_input.append(logits[:, :-1][tokens["listener_slot_mask"][:, 1:]].view(3, 6, -1))
    with_words, without = per_input
    assert torch.equal((without + scale * (with_words - without)).argmax(-1), codes)


def test_bad_generation_inputs_are_refused(model, batch):
    speaker = make_batch(model.config.layout, SAMPLES[:1], stage="speaker")
    with pytest.raises(ValueError, match="no listener slot"):
        model.generate(**inputs(speaker))
    with pytest.raises(ValueError, match="unknown arguments"):
        model.generate(**inputs(batch), temprature=0.5)
    with pytest.raises(ValueError, match="shape"):
        model.generate(batch["input_ids"][0])
    with pytest.raises(ValueError, match="guidance_scale must be at least 0"):
        model.generate(**inputs(batch), guidance_scale=-1.0)
    with pytest.raises(ValueError, match="unknown speaker stream 'voice'"):
        model.generate(**inputs(batch), guidance_scale=2.0, guidance_streams=["voice"])


# -- sliding window: a backbone with 64 positions reading ~170-token sequences --------------------------

LONG = [  # 10 groups of 8 or 9 acoustic codes (at 32 codes/s), words, emotion and listener blocks each
    {"history": 5, "words": [1, 0, 2, 0, 1, 0, 2, 1, 0, 1]},
    {"history": 3, "words": [0, 2, 1, 0, 0, 3, 0, 1, 2, 0]},
]
LONG_RATE = 32


@pytest.fixture(scope="module", params=BACKBONES)
def short_model(request):
    torch.manual_seed(2)
    return ListenerForCausalLM(listener_config(n_positions=64, initializer_range=0.3, backbone=request.param)).eval()


def test_sequences_longer_than_the_positions_slide_a_window(short_model):
    batch = make_batch(short_model.config.layout, LONG, seed=7, acoustic_rate=LONG_RATE)
    assert int(batch["attention_mask"].sum(1).min()) > 2 * 64
    codes = short_model.generate(**inputs(batch))
    assert codes.shape == (2, 10)
    assert torch.equal(codes, short_model.generate(**inputs(batch), use_cache=False))
    for index in range(2):
        assert torch.equal(short_model.generate(**rows(batch, index))[0], codes[index])


def test_the_window_keeps_the_history_and_drops_the_oldest_groups(short_model):
    layout = short_model.config.layout
    batch = make_batch(layout, LONG[:1], seed=7, acoustic_rate=LONG_RATE)
    recorder = Recorder()
    codes = short_model.generate(**inputs(batch), logits_processor=LogitsProcessorList([recorder]))
    forced = make_batch(layout, LONG[:1], seed=7, codes=codes.tolist(), acoustic_rate=LONG_RATE)
    ids, groups = forced["input_ids"][0], forced["group_ids"][0]
    slots = torch.nonzero(forced["listener_slot_mask"][0]).flatten()
    history = ids[groups == -1]
    kept = [ids[groups == g] for g in range(len(slots))]
    prefixes = [ids[(groups == g) & (torch.arange(len(ids)) < slots[g])] for g in range(len(slots))]
    # the documented rule: when history + groups start..g-1 + prefix g exceed the 64 positions, drop the
    # oldest groups until it all fills at most half of them (window_keep_fraction = 0.5)
    start, slides = 0, 0
    for g in range(len(slots)):
        if len(history) + sum(len(group) for group in kept[start:g]) + len(prefixes[g]) > 64:
            slides += 1
            while len(history) + sum(len(group) for group in kept[start:g]) + len(prefixes[g]) > 32:
                start += 1
    last, prefix = len(slots) - 1, prefixes[-1]
    assert slides >= 2 and start > 0
    window = torch.cat([history, *kept[start:last], prefix])[None]
    logits = short_model(input_ids=window).listener_logits[0, -1]
    torch.testing.assert_close(recorder.scores[-1][0], logits, rtol=1e-4, atol=1e-4)
    # without the history the window reads differently: it is really kept
    no_history = short_model(input_ids=torch.cat([*kept[start:last], prefix])[None]).listener_logits[0, -1]
    assert not torch.allclose(no_history, logits, atol=1e-3)


def test_a_group_that_cannot_fit_at_all_is_named(short_model):
    # 40 history words, then one group of 2 words and 32 acoustic codes (120 codes/s)
    batch = make_batch(short_model.config.layout, [{"history": 40, "words": [2]}], acoustic_rate=120)
    with pytest.raises(ValueError, match="exceed the backbone's 64 positions"):
        short_model.generate(**inputs(batch))
