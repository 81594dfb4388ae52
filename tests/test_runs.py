"""`mmlistener.runs.train_lm` with a words-first phase: stage 2 starts from a phase on the words alone."""

import dataclasses

from transformers import AutoProcessor

from mmlistener.runs import PipelineBudget, budget_variants, train_lm, train_pipeline


def test_a_words_first_phase_starts_stage_two_from_the_words_alone(small_demo, tmp_path):
    args, _, out = small_demo
    budget = PipelineBudget(**{field.name: getattr(args, field.name) for field in dataclasses.fields(PipelineBudget)})
    budget = dataclasses.replace(budget, lm_stage2_steps=3, lm_stream_dropout=0.0)  # the phase is the only dropout
    plain = train_lm(tmp_path / "plain1", tmp_path / "plain2", out / "dataset_tokens", out / "vqvae", budget, seed=0)
    first = dataclasses.replace(budget, lm_words_first_steps=2)
    phased = train_lm(tmp_path / "s1", tmp_path / "s2", out / "dataset_tokens", out / "vqvae", first, seed=0)
    assert set(plain) == {"speaker", "listener"} and set(phased) == {"speaker", "words_first", "listener"}
    assert phased["words_first"].step == 2 and phased["listener"].step == 3
    # the phase takes the other streams out of every window (emotion among them: its processor would omit it) ...
    assert AutoProcessor.from_pretrained(tmp_path / "s2_words_first").emotion_without_face == "omit"
    # ... and stage 2 starts from its weights, with stage 1's processor
    losses = [[record["train/loss"] for record in run["listener"].log_history if "train/loss" in record]
              for run in (plain, phased)]  # fmt: skip
    assert losses[0][0] != losses[1][0]
    saved = AutoProcessor.from_pretrained(tmp_path / "s2")
    assert saved.modalities == AutoProcessor.from_pretrained(tmp_path / "s1").modalities
    assert saved.emotion_without_face == "neutral"


def test_train_pipeline_trains_both_stages_and_loads_the_listener(small_demo, tmp_path):
    args, _, out = small_demo
    budget = PipelineBudget(**{field.name: getattr(args, field.name) for field in dataclasses.fields(PipelineBudget)})
    budget = dataclasses.replace(budget, lm_stage2_steps=2)
    model, processor, pipeline = train_pipeline(tmp_path / "variant", out / "dataset_tokens", out / "vqvae", budget, 0)
    assert (tmp_path / "variant" / "stage1" / "config.json").is_file()
    assert model.config.num_listener_tokens == pipeline.vqvae.config.codebook_size
    assert processor.emotion_without_face == "omit"  # the budget's emotion dropout reached stage 2


def test_budget_variants_change_the_demo_budget_by_their_flags_only():
    variants = budget_variants(["lr 4e-3: --vqvae_learning_rate 0.004", " heads ahead : --lm_future_codes 2 "
                                "--lm_dropped_streams acoustic emotion", "demo:"])  # fmt: skip
    assert list(variants) == ["lr 4e-3", "heads ahead", "demo"]
    demo = PipelineBudget()
    assert variants["demo"] == demo
    assert variants["lr 4e-3"] == dataclasses.replace(demo, vqvae_learning_rate=0.004)
    assert variants["heads ahead"] == dataclasses.replace(demo, lm_future_codes=2,
                                                          lm_dropped_streams=["acoustic", "emotion"])

