"""Metrics against values computed by hand on small arrays (formulas in mmlistener/evaluation/metrics.py)."""

import math

import numpy as np
import pytest
import torch

from mmlistener import IdentityVQVAE, IdentityVQVAEConfig
from mmlistener.evaluation import (
    RecognizerValence,
    code_perplexity,
    diversity,
    frechet_distance,
    frechet_distance_from_statistics,
    l2,
    l2_affect,
    paired_frechet_distance,
    score_ground_truth,
    score_predictions,
    score_vqvae,
    variation,
    vqvae_table,
)
from mmlistener.modeling.configuration_emotion import EmotionRecognizerConfig
from mmlistener.modeling.modeling_emotion import EmotionRecognizer


def test_l2_is_the_mean_squared_error():
    pred = np.array([[0.0, 0.0], [1.0, 1.0]])
    gt = np.array([[1.0, 0.0], [1.0, 3.0]])
    assert l2(pred, gt) == pytest.approx((1 + 0 + 0 + 4) / 4)


def test_l2_rejects_mismatched_windows():
    with pytest.raises(ValueError, match="same"):
        l2(np.zeros((4, 2)), np.zeros((5, 2)))
    with pytest.raises(ValueError, match="frames, dims"):
        l2(np.zeros(4), np.zeros(4))


def test_variation_is_the_mean_per_dim_variance():
    x = np.array([[0.0, 0.0], [2.0, 4.0]])  # variances (ddof=0): 1 and 4
    assert variation(x) == pytest.approx(2.5)


def test_frechet_distance_one_dim():
    # pred: mean 1, unbiased variance 2; gt: mean 2, unbiased variance 3
    pred = np.array([[0.0], [2.0]])
    gt = np.array([[1.0], [1.0], [4.0]])
    assert frechet_distance(pred, gt) == pytest.approx(1 + 2 + 3 - 2 * math.sqrt(6))


def test_frechet_distance_two_dims():
    pred = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [2.0, 2.0]])  # mean (1, 1), cov diag(4/3)
    gt = 3 * pred + 1  # mean (4, 4), cov diag(12)
    expected = 18 + 8 / 3 + 24 - 2 * 2 * math.sqrt(4 / 3 * 12)
    assert frechet_distance(pred, gt) == pytest.approx(expected)
    assert frechet_distance(pred, pred) == pytest.approx(0.0, abs=1e-9)


def test_paired_frechet_distance_sees_the_speaker_coupling():
    speaker = np.array([[0.0], [0.0], [2.0], [2.0]])
    pred = speaker.copy()  # copies the speaker
    gt = np.array([[0.0], [2.0], [0.0], [2.0]])  # same marginal, uncorrelated with the speaker
    assert frechet_distance(pred, gt) == pytest.approx(0.0, abs=1e-12)
    # joint covariances: S1 = 4/3 [[1, 1], [1, 1]], S2 = 4/3 I; sqrtm(S1 S2) has trace sqrt(32) / 3
    expected = 8 / 3 + 8 / 3 - 2 * math.sqrt(32) / 3
    assert paired_frechet_distance(pred, gt, speaker) == pytest.approx(expected, rel=1e-6)


def test_paired_frechet_distance_checks_speaker_frames():
    with pytest.raises(ValueError, match="speaker has 3 frames"):
        paired_frechet_distance(np.zeros((4, 1)), np.zeros((4, 1)), np.zeros((3, 1)))


def test_frechet_fallback_adds_epsilon_when_sqrtm_is_not_finite():
    # sigma1 @ sigma2 = [[0, 1], [0, 0]] has no square root: scipy returns inf, so the FD is
    # recomputed with sqrtm((sigma1 + eps I)(sigma2 + eps I)) = sqrtm((1 + eps) [[eps, 1], [0, eps]]),
    # whose trace is 2 sqrt(eps (1 + eps)); the traces keep the unperturbed matrices (0 and 2).
    eps = 1e-6
    mu = np.zeros(2)
    sigma1 = np.array([[0.0, 1.0], [0.0, 0.0]])
    expected = 0 + 0 + 2 - 2 * 2 * math.sqrt(eps * (1 + eps))
    assert frechet_distance_from_statistics(mu, sigma1, mu, np.eye(2)) == pytest.approx(expected, rel=1e-9)


def test_frechet_raises_when_sqrtm_is_complex():
    # sqrtm(diag(-1, 1)) = diag(i, 1): an imaginary part of 1 on the diagonal
    with pytest.raises(ValueError, match="imaginary part"):
        frechet_distance_from_statistics(np.zeros(2), np.diag([-1.0, 1.0]), np.zeros(2), np.eye(2))


def test_frechet_keeps_the_real_part_of_a_tiny_imaginary_residue():
    # diag(-1e-8, 1): sqrtm has imaginary part 1e-4 < 1e-3 on its diagonal, the real part is kept
    value = frechet_distance_from_statistics(np.zeros(2), np.diag([-1e-8, 1.0]), np.zeros(2), np.eye(2))
    assert value == pytest.approx(-1e-8 + 1 + 2 - 2 * 1.0)


def test_frechet_rejects_mismatched_statistics():
    with pytest.raises(ValueError, match="do not match"):
        frechet_distance_from_statistics(np.zeros(2), np.eye(2), np.zeros(3), np.eye(3))


def test_diversity_follows_the_documented_seeded_draws():
    x = np.random.default_rng(5).standard_normal((40, 3))
    rng = np.random.default_rng(7)
    first, second = rng.choice(40, 30, replace=False), rng.choice(40, 30, replace=False)
    expected = np.linalg.norm(x[first] - x[second], axis=1).mean()
    assert diversity(x, seed=7) == pytest.approx(expected)
    np.random.seed(0)
    untouched = np.random.random()
    np.random.seed(0)
    value = diversity(x, seed=7)
    assert np.random.random() == untouched  # draws nothing from numpy's global generator
    np.random.seed(1)
    diversity(x, seed=8)
    assert diversity(x, seed=7) == value  # neither the global state nor earlier calls change a seeded value
    assert diversity(x, seed=7) != diversity(x, seed=8)


def test_diversity_draws_ten_frames_in_short_windows():
    x = np.random.default_rng(5).standard_normal((30, 2))
    rng = np.random.default_rng(0)
    first, second = rng.choice(30, 10, replace=False), rng.choice(30, 10, replace=False)
    assert diversity(x, seed=0) == pytest.approx(np.linalg.norm(x[first] - x[second], axis=1).mean())
    assert diversity(np.ones((50, 4)), seed=3) == 0.0
    with pytest.raises(ValueError, match="more than 10 frames"):
        diversity(np.zeros((10, 2)))


def test_l2_affect_averages_full_windows_only():
    pred = np.concatenate([np.ones(30), np.full(30, 3.0), np.full(5, 100.0)])  # last 5 frames dropped
    gt = np.zeros(65)
    assert l2_affect(pred, gt) == pytest.approx((1 + 9) / 2)
    assert l2_affect(pred[:20], gt[:20], window=10) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="at least 30 frames"):
        l2_affect(np.zeros(29), np.zeros(29))
    with pytest.raises(ValueError, match="differ in length"):
        l2_affect(np.zeros(60), np.zeros(61))


def _window(seed: int, frames: int = 64) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "speaker_motion": rng.standard_normal((frames, 56)).astype(np.float32),
        "listener_motion": rng.standard_normal((frames, 56)).astype(np.float32).tolist(),  # as datasets rows
        "listener_identity": rng.standard_normal(100).astype(np.float32),
    }


def test_score_predictions_averages_the_per_window_metrics():
    examples = [_window(0), _window(1, frames=40)]
    predictions = [np.zeros((64, 56)), np.ones((40, 56))]
    scores = score_predictions(predictions, examples, seed=3)
    gts = [np.asarray(e["listener_motion"]) for e in examples]
    assert scores["l2"] == pytest.approx(np.mean([l2(p, g) for p, g in zip(predictions, gts)]))
    assert scores["fd"] == pytest.approx(np.mean([frechet_distance(p, g) for p, g in zip(predictions, gts)]))
    assert scores["variation"] == 0.0 and scores["diversity"] == 0.0
    assert "l2_affect" not in scores
    gt_scores = score_ground_truth(examples, seed=3)
    assert gt_scores["diversity"] == pytest.approx(
        (diversity(gts[0], seed=3) + diversity(gts[1], seed=4)) / 2
    )
    assert gt_scores["variation"] == pytest.approx((variation(gts[0]) + variation(gts[1])) / 2)


def test_score_predictions_rejects_bad_inputs():
    with pytest.raises(ValueError, match="1 predictions for 2 windows"):
        score_predictions([np.zeros((64, 56))], [_window(0), _window(1)])
    with pytest.raises(ValueError, match="prediction 0 has shape"):
        score_predictions([np.zeros((63, 56))], [_window(0)])


def test_l2_affect_with_a_valence_function_uses_the_gt_shape():
    seen_shapes = []

    def valence(motion, shape):
        seen_shapes.append(shape)
        return motion[:, 0]

    examples = [_window(0), _window(1, frames=20)]  # the 20-frame window has no full affect window
    predictions = [np.zeros((64, 56)), np.zeros((20, 56))]
    scores = score_predictions(predictions, examples, valence=valence)
    gt = np.asarray(examples[0]["listener_motion"])[:, 0]
    assert scores["l2_affect"] == pytest.approx(l2_affect(np.zeros(64), gt))
    assert all(np.array_equal(shape, examples[0]["listener_identity"]) for shape in seen_shapes)


def test_recognizer_valence_feeds_expression_jaw_and_the_given_shape():
    recognizer = EmotionRecognizer(EmotionRecognizerConfig(hidden_size=8, num_hidden_layers=1))
    rng = np.random.default_rng(0)
    motion = rng.standard_normal((12, 56)).astype(np.float32)
    shape = rng.standard_normal(100).astype(np.float32)
    valence = RecognizerValence(recognizer)(motion, shape)
    assert not recognizer.training
    with torch.no_grad():
        expected = recognizer(
            shape=torch.from_numpy(shape).expand(12, -1),
            expression=torch.from_numpy(motion[:, :50]),
            jaw_pose=torch.from_numpy(motion[:, 53:56]),
        ).valence
    np.testing.assert_allclose(valence, expected.numpy(), rtol=1e-5, atol=1e-6)
    scores = score_predictions(
        [motion],
        [{"listener_motion": motion, "speaker_motion": motion, "listener_identity": shape}],
        valence=recognizer,
        affect_window=4,
    )
    assert scores["l2_affect"] == pytest.approx(0.0, abs=1e-10)


def test_evaluate_module_loads_offline_and_matches_score_predictions():
    import evaluate

    from mmlistener.evaluation import listener_metrics_path

    metric = evaluate.load(listener_metrics_path())
    examples = [_window(0), _window(1, frames=40)]
    rng = np.random.default_rng(9)
    predictions = [rng.standard_normal((64, 56)), rng.standard_normal((40, 56))]
    result = metric.compute(
        predictions=predictions,
        references=[e["listener_motion"] for e in examples],
        speaker_motion=[e["speaker_motion"] for e in examples],
        seed=2,
    )
    expected = score_predictions(predictions, examples, seed=2)
    expected.update({f"gt_{k}": v for k, v in score_ground_truth(examples, seed=2).items()})
    assert result == pytest.approx(expected, rel=1e-5)
    assert "p_fd" not in metric.compute(predictions=predictions[:1], references=[predictions[0]])


def test_code_perplexity_by_hand():
    assert code_perplexity([1, 1, 0, 2]) == pytest.approx(2**1.5)  # p = 1/4, 1/4, 1/2: entropy 1.5 bits
    assert code_perplexity([3, 3, 3, 3]) == pytest.approx(4.0)
    assert code_perplexity([0, 5, 0]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="no code"):
        code_perplexity([0, 0])


def test_score_vqvae_averages_model_losses_and_pools_codes():
    torch.manual_seed(0)
    config = IdentityVQVAEConfig(hidden_size=16, codebook_size=16, codebook_dim=8, num_residual_layers=1)
    vqvae = IdentityVQVAE(config)
    codebook = vqvae.codebook_vectors().clone()
    examples = [_window(0, frames=48), _window(1, frames=48), _window(2, frames=41)]
    scores = score_vqvae(vqvae, examples, batch_size=1)
    assert not vqvae.training and torch.equal(vqvae.codebook_vectors(), codebook)  # eval: no EMA update
    with torch.no_grad():
        outputs = [
            vqvae(
                torch.as_tensor(np.asarray(e["listener_motion"]))[None],
                identity=torch.from_numpy(e["listener_identity"])[None],
            )
            for e in examples
        ]
    assert scores["reconstruction"] == pytest.approx(
        np.mean([float(o.reconstruction_loss) for o in outputs]), rel=1e-5
    )
    assert scores["commitment"] == pytest.approx(np.mean([float(o.commit_loss) for o in outputs]), rel=1e-5)
    codes = torch.cat([o.codes.reshape(-1) for o in outputs]).numpy()
    assert scores["perplexity"] == pytest.approx(code_perplexity(np.bincount(codes, minlength=16)))
    expected_l2 = np.mean(
        [l2(o.reconstruction[0].detach().numpy(), e["listener_motion"]) for o, e in zip(outputs, examples)]
    )
    assert scores["l2"] == pytest.approx(expected_l2, rel=1e-5)
    assert score_vqvae(vqvae, examples, batch_size=8) == pytest.approx(
        scores, rel=1e-5
    )  # batching does not matter
    table = vqvae_table({"instance/adain": scores})
    assert table.splitlines()[0] == "| VQ-VAE | Reconstruction ↓ | Commitment ↓ | Perplexity ↑ | L2 ↓ |"
