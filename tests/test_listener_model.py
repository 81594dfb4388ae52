"""ListenerForCausalLM: extended vocabulary, listener head, stage-1/2 losses, save/load, remote code.

`listener_config` and `make_batch` are shared with the generation and LoRA tests.
"""

import functools
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import (
    AutoModelForCausalLM,
    GPT2Config,
    GPT2LMHeadModel,
    LlamaConfig,
    PreTrainedTokenizerFast,
)

from mmlistener import ListenerConfig, ListenerForCausalLM, ListenerGenerationConfig, ListenerProcessor

TEXT_VOCAB = 100
TOKEN_COUNTS = {"num_listener_tokens": 16, "num_acoustic_tokens": 32, "num_content_tokens": 8, "num_emotion_tokens": 4}


def listener_config(n_positions: int = 256, initializer_range: float = 0.02, backbone: str = "gpt2") -> ListenerConfig:
    """A tiny backbone (2 layers, 32 hidden, 100 text tokens) and small token blocks.

    `backbone` is the family: `"gpt2"` (learned absolute positions) or `"llama"` (rotary positions, tied
    embeddings, as the demo's). A large `initializer_range` (e.g. 0.3) makes a random model's codes depend strongly
    on its inputs.
    """
    shared = {"vocab_size": TEXT_VOCAB, "bos_token_id": 0, "eos_token_id": 0, "initializer_range": initializer_range}
    if backbone == "gpt2":
        config = GPT2Config(n_layer=2, n_embd=32, n_head=2, n_positions=n_positions, **shared)
    elif backbone == "llama":
        config = LlamaConfig(
            num_hidden_layers=2, hidden_size=32, num_attention_heads=2, intermediate_size=64,
            max_position_embeddings=n_positions, tie_word_embeddings=True, **shared,
        )  # fmt: skip
    else:
        raise ValueError(f"unknown backbone {backbone!r}")
    return ListenerConfig(backbone_config=config, initializer_range=initializer_range, **TOKEN_COUNTS)


@functools.cache
def text_tokenizer() -> PreTrainedTokenizerFast:
    """A word-level tokenizer of the backbone's `TEXT_VOCAB` words `w0` ... `w99`, one token per word."""
    vocabulary = Tokenizer(models.WordLevel({f"w{i}": i for i in range(TEXT_VOCAB)}, unk_token="w0"))
    vocabulary.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=vocabulary)


def make_batch(layout, samples, seed: int = 0, stage: str = "listener", codes=None, acoustic_rate: int = 50):
    """A batch made by the real [`ListenerProcessor`] from random features of clips of known shape.

    Args:
        layout (`TokenLayout`): the model's token layout (its block sizes configure the processor).
        samples (`list[dict]`): per clip `history` (number of history words) and `words`, the number of words
            ending in each group of 8 frames (its length is the clip's number of groups).
        codes (`list[list[int]]`, *optional*): listener codes filling the slots and giving stage-2 labels; the
            slots hold code 0 and the batch has no labels when absent (stage "listener").
        acoustic_rate (`int`, defaults to 50): acoustic codes per second; a group of 8 frames at 30 fps holds
            `8 / 30 * acoustic_rate` of them (13 or 14 at 50).

    Returns:
        `dict` of tensors `(batch, seq)`: `input_ids`, `attention_mask`, `group_ids`, `listener_slot_mask` and,
        with codes or stage "speaker", `labels`.
    """
    processor = ListenerProcessor(
        text_tokenizer(), num_listener_tokens=layout.num_listener_tokens, num_acoustic_tokens=layout.num_acoustic_tokens,
        num_content_tokens=layout.num_content_tokens, num_emotion_tokens=layout.num_emotion_tokens,
        acoustic_rate=acoustic_rate,
    )  # fmt: skip
    rng = np.random.default_rng(seed)
    clips = {"words": [], "history_words": [], "acoustic_codes": [], "emotion_ids": [], "num_frames": []}
    for sample in samples:
        counts, history = sample["words"], sample.get("history", 0)
        num_frames = processor.group_size * len(counts)
        word_end = [(processor.group_size * g + 4) / processor.fps for g, count in enumerate(counts) for _ in range(count)]
        clips["words"].append([{"text": f"w{rng.integers(TEXT_VOCAB)}", "end": end} for end in word_end])
        history_ends = [-0.05 * (history - k) for k in range(history)]
        clips["history_words"].append([{"text": f"w{rng.integers(TEXT_VOCAB)}", "end": end} for end in history_ends])
        num_codes = round(num_frames / processor.fps * acoustic_rate)
        clips["acoustic_codes"].append(rng.integers(layout.num_acoustic_tokens, size=num_codes).tolist())
        clips["emotion_ids"].append(rng.integers(layout.num_emotion_tokens, size=len(counts)).tolist())
        clips["num_frames"].append(num_frames)
    return dict(processor(**clips, listener_codes=codes, stage=stage, return_tensors="pt"))


SAMPLES = [{"history": 3, "words": [2, 0, 1]}, {"history": 0, "words": [0, 3, 0]}]


@pytest.fixture(scope="module", params=["gpt2", "llama"])
def model(request):
    torch.manual_seed(0)
    return ListenerForCausalLM(listener_config(backbone=request.param)).eval()


def test_vocabulary_is_extended_and_both_heads_score_their_spaces(model):
    layout = model.config.layout
    batch = make_batch(layout, SAMPLES)
    out = model(**batch)
    length = batch["input_ids"].shape[1]
    assert model.get_input_embeddings().num_embeddings == layout.vocab_size
    assert out.logits.shape == (2, length, layout.vocab_size)  # stage 1 scores the full extended vocabulary
    assert out.listener_logits.shape == (2, length, layout.num_listener_tokens)
    # the config keeps the text vocabulary: it defines the layout the processor shares
    assert model.config.backbone_config.vocab_size == TEXT_VOCAB
    assert model(**batch, logits_to_keep=1).logits.shape == (2, 1, layout.vocab_size)


def test_from_backbone_keeps_the_text_rows_and_draws_new_ones():
    torch.manual_seed(1)
    backbone = GPT2LMHeadModel(listener_config().backbone_config)
    text_rows = backbone.get_input_embeddings().weight.detach().clone()
    block = backbone.transformer.h[0].attn.c_attn.weight.detach().clone()
    model = ListenerForCausalLM.from_backbone(backbone, **TOKEN_COUNTS)
    rows = model.get_input_embeddings().weight
    assert torch.equal(rows[:TEXT_VOCAB], text_rows)
    assert torch.equal(model.backbone.transformer.h[0].attn.c_attn.weight, block)
    new = rows[TEXT_VOCAB:]
    assert new.shape[0] == model.config.layout.num_new_tokens
    assert 0.01 < float(new.detach().std()) < 0.03 and not torch.equal(new[0], new[1])
    assert model.config.backbone_config.vocab_size == TEXT_VOCAB
    with pytest.raises(ValueError, match="backbone_config"):
        ListenerForCausalLM.from_backbone(backbone, backbone_config=backbone.config)


def test_from_backbone_reads_a_local_directory(tmp_path):
    torch.manual_seed(2)
    backbone = GPT2LMHeadModel(listener_config().backbone_config)
    backbone.save_pretrained(tmp_path)
    model = ListenerForCausalLM.from_backbone(str(tmp_path), group_size=4)
    assert model.config.group_size == 4
    torch.testing.assert_close(
        model.get_input_embeddings().weight[:TEXT_VOCAB], backbone.get_input_embeddings().weight, rtol=0, atol=0
    )
    with pytest.raises(ValueError, match="name, a path or a PreTrainedModel"):
        ListenerForCausalLM.from_backbone(3)


def test_stage_two_labels_train_the_listener_head_only(model):
    layout = model.config.layout
    codes = [[3, 15, 0], [7, 7, 1]]
    batch = make_batch(layout, SAMPLES, codes=codes)
    out = model(**batch)
    assert out.lm_loss is None and out.logits is None
    # reference: listener head at the token before each slot (<lr>), targets = the codes
    before = batch["listener_slot_mask"][:, 1:]
    expected = F.cross_entropy(out.listener_logits[:, :-1][before], torch.tensor(codes).flatten())
    torch.testing.assert_close(out.listener_loss, expected)
    assert out.loss is out.listener_loss


def test_future_heads_predict_the_codes_groups_ahead_in_the_same_row(tmp_path):
    torch.manual_seed(0)
    plain = ListenerForCausalLM(listener_config()).eval()
    plain.save_pretrained(tmp_path)
    model = ListenerForCausalLM.from_pretrained(tmp_path, future_codes=2, future_code_loss_weight=0.25)
    assert len(model.future_heads) == 2 and len(plain.future_heads) == 0
    layout = model.config.layout
    codes = [[3, 15, 0], [7, 7, 1]]
    batch = make_batch(layout, SAMPLES, codes=codes)
    seen = []
    model.listener_head.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0]))
    out = model(**batch)
    hidden = seen[0][:, :-1][batch["listener_slot_mask"][:, 1:]].view(2, 3, -1)  # at each <lr>, rows kept apart
    targets = torch.tensor(codes)
    expected = torch.stack([
        F.cross_entropy(head(hidden[:, :-k].reshape(-1, hidden.shape[-1])), targets[:, k:].reshape(-1))
        for k, head in enumerate(model.future_heads, start=1)
    ]).mean()  # fmt: skip
    torch.testing.assert_close(out.future_code_loss, expected)
    torch.testing.assert_close(out.loss, out.listener_loss + 0.25 * out.future_code_loss)
    out.loss.backward()
    assert all(head.weight.grad.abs().sum() > 0 for head in model.future_heads)
    # a training signal only: the backbone and the next-code head are the saved model's, and so are their logits
    assert plain(**batch).future_code_loss is None
    torch.testing.assert_close(model(**batch).listener_logits, plain(**batch).listener_logits)
    with pytest.raises(ValueError, match="future_codes"):
        ListenerConfig(backbone_config=plain.config.backbone_config, future_codes=-1)


def test_stage_one_labels_score_the_full_vocabulary(model):
    layout = model.config.layout
    batch = make_batch(layout, SAMPLES, stage="speaker")
    out = model(**batch)
    assert out.listener_loss is None
    full = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    targets = batch["labels"][:, 1:]
    expected = F.cross_entropy(full[:, :-1].reshape(-1, layout.vocab_size), targets.reshape(-1), ignore_index=-100)
    torch.testing.assert_close(out.lm_loss, expected)


def test_mixed_labels_sum_both_losses_and_reach_the_new_rows():
    torch.manual_seed(0)
    model = ListenerForCausalLM(listener_config())
    layout = model.config.layout
    batch = make_batch(layout, SAMPLES, codes=[[1, 2, 3], [4, 5, 6]])
    acoustic = (batch["input_ids"] >= layout.acoustic_offset) & (batch["input_ids"] < layout.content_offset)
    batch["labels"][acoustic] = batch["input_ids"][acoustic]
    out = model(**batch)
    torch.testing.assert_close(out.loss, out.lm_loss + out.listener_loss)
    out.loss.backward()
    grad = model.get_input_embeddings().weight.grad
    assert grad[layout.acoustic_offset : layout.content_offset].abs().sum() > 0
    assert model.listener_head.weight.grad.abs().sum() > 0


def test_labels_that_score_nothing_or_have_the_wrong_shape_are_refused(model):
    batch = make_batch(model.config.layout, SAMPLES)
    batch["labels"] = torch.full_like(batch["input_ids"], -100)
    with pytest.raises(ValueError, match="score no position"):
        model(**batch)
    batch["labels"] = batch["labels"][:, :-1]
    with pytest.raises(ValueError, match="labels have shape"):
        model(**batch)


def test_save_and_load_needs_no_backbone_files(model, tmp_path):
    model.generation_config.seed = 11
    model.save_pretrained(tmp_path)
    model.generation_config.seed = None
    names = sorted(path.name for path in tmp_path.iterdir())
    assert "model.safetensors" in names and "configuration_listener.py" in names and "modeling_listener.py" in names
    assert json.loads((tmp_path / "config.json").read_text())["auto_map"]["AutoModelForCausalLM"].endswith(
        "ListenerForCausalLM"
    )
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path).eval()
    assert type(loaded) is ListenerForCausalLM
    assert loaded.generation_config.seed == 11
    batch = make_batch(model.config.layout, SAMPLES)
    torch.testing.assert_close(loaded(**batch).listener_logits, model(**batch).listener_logits, rtol=0, atol=0)


def test_a_folder_saved_before_guidance_generates_with_it(model, tmp_path):
    model.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "generation_config.json").read_text())
    del saved["guidance_streams"]  # the field came later
    (tmp_path / "generation_config.json").write_text(json.dumps(saved))
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path).eval()
    batch = make_batch(model.config.layout, SAMPLES)
    for settings in ({"guidance_scale": 2.0}, {"guidance_scale": 0.0, "guidance_streams": ["emotion"]}):
        assert torch.equal(loaded.generate(**batch, **settings), model.generate(**batch, **settings))


def test_a_saved_model_loads_in_a_fresh_process_without_mmlistener(model, tmp_path, run_python):
    model.save_pretrained(tmp_path / "model")
    batch = make_batch(model.config.layout, SAMPLES)
    torch.save(batch, tmp_path / "batch.pt")
    expected = model.generate(**batch).tolist()
    result = run_python(
        """
        import sys, torch
        from transformers import AutoModelForCausalLM
        model = AutoModelForCausalLM.from_pretrained("model", trust_remote_code=True)
        batch = torch.load("batch.pt", weights_only=True)
        print("mmlistener" in sys.modules, model.generate(**batch).tolist())
        """,
        cwd=tmp_path,
    )
    assert result.stdout.strip().splitlines()[-1] == f"False {expected}"


def test_generation_config_checks_its_window_fraction():
    assert ListenerGenerationConfig().do_sample is False
    with pytest.raises(ValueError, match="window_keep_fraction"):
        ListenerGenerationConfig(window_keep_fraction=0.0)


def test_forward_with_the_cache_continues_the_sequence(model):
    batch = make_batch(model.config.layout, SAMPLES[:1])
    ids = batch["input_ids"]
    full = model(input_ids=ids).listener_logits
    first = model(input_ids=ids[:, :10], use_cache=True)
    assert first.cache is not None and first.cache.get_seq_length() == 10
    rest = model(input_ids=ids[:, 10:], cache=first.cache)
    torch.testing.assert_close(torch.cat([first.listener_logits, rest.listener_logits], 1), full, rtol=1e-5, atol=1e-5)
    trained = make_batch(model.config.layout, SAMPLES[:1], codes=[[1, 2, 3]])
    assert model(**trained).cache is None  # training builds no cache


def test_forward_still_reads_the_cache_under_its_old_name(model):
    ids = make_batch(model.config.layout, SAMPLES[:1])["input_ids"]
    full = model(input_ids=ids).listener_logits
    first = model(input_ids=ids[:, :10], use_cache=True)
    rest = model(input_ids=ids[:, 10:], past_key_values=first.cache)  # the name before transformers 5.24
    torch.testing.assert_close(rest.listener_logits, full[:, 10:], rtol=1e-5, atol=1e-5)
