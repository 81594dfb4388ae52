"""`make reproduce` on a tiny budget (two seeds, two stream sets, two VQ-VAE norm pairs), and its report's parts."""

import json
import math

import pytest
import torch
from safetensors.torch import load_file

from mmlistener.evaluation.seeds import aggregate_seeds, format_mean_std, mean_std
from mmlistener.evaluation.study_report import check_targets, shuffle_summary


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory):
    """`(arguments, report, output folder)` of a tiny reproduce run."""
    from mmlistener.reproduce import parse_and_run

    out = tmp_path_factory.mktemp("reproduce") / "study"
    config = out.parent / "tiny.yaml"
    config.write_text(
        "num_train: 10\nnum_val: 1\nnum_test: 3\nvqvae_steps: 40\nvqvae_batch_size: 8\n"
        "vqvae_config_overrides: hidden_size=32,codebook_dim=32,codebook_size=32,num_residual_layers=1\n"
        "lm_stage1_steps: 2\nlm_stage2_steps: 12\nlm_batch_size: 4\n"
        "backbone_config_overrides: n_layer=1,n_embd=32,n_head=2,n_positions=1024\n"
        "seeds: [0, 1]\nmodality_sets: [words, 'words,acoustic,emotion']\nnorm_variants: [none/none, instance/adain]\n"
        "systems: [random, naive_random_walk, ours_random_walk, oracle]\n"
    )
    # A flag after the config file overrides it, as for every entry point.
    return parse_and_run([str(config), "--output_dir", str(out)]), out


def test_tiny_study_trains_every_row_as_asked(tiny_study):
    from mmlistener import IdentityVQVAEConfig, ListenerProcessor

    report, out = tiny_study
    assert set(report["seeds"]) == {"0", "1"}
    assert set(report["modalities"]) == {"words", "words,acoustic,emotion"}
    assert set(report["norms"]) == {"none/none", "instance/adain"}
    # Table 3's rows are trained with their streams, not only scored without the others.
    assert ListenerProcessor.from_pretrained(out / "modalities_words" / "lm_stage2").modalities == ("words",)
    assert ListenerProcessor.from_pretrained(out / "seed_0" / "lm_stage2").modalities == ("words", "acoustic", "emotion")
    # Table 5's none/none row is a VQ-VAE without the norms, through the whole pipeline.
    config = IdentityVQVAEConfig.from_pretrained(out / "norms_none_none" / "vqvae")
    assert (config.encoder_norm, config.decoder_norm) == ("none", "none")
    assert (out / "norms_none_none" / "lm_stage2" / "model.safetensors").is_file()
    # The seeds train different models: their weights, not only float noise in a score, differ.
    lms = [load_file(out / f"seed_{seed}" / "lm_stage2" / "model.safetensors") for seed in (0, 1)]
    changed = [not torch.allclose(lms[0][name], lms[1][name], atol=1e-3) for name in lms[0]]
    assert sum(changed) > len(changed) // 2
    # Beside greedy decoding, the same LM sampling: another row whose motion differs by more than float noise.
    ours = report["seeds"]["0"]["results"]["ours"]["l2"]
    assert abs(report["seeds"]["0"]["results"]["ours_sampled"]["l2"] - ours) > 1e-3 * ours


def test_tiny_study_report_has_every_table_with_seed_means(tiny_study):
    report, out = tiny_study
    markdown = (out / "report.md").read_text()
    for title in ("## Table 1", "## The listener's responses", "## Does it listen?", "## Table 3", "## Table 5",
                  "## Targets", "## Training curves"):
        assert title in markdown, title
    ours = [report["seeds"][seed]["results"]["ours"]["l2"] for seed in ("0", "1")]
    assert f"{sum(ours) / 2:.4f} ± {abs(ours[0] - ours[1]) / math.sqrt(2):.4f}" in markdown
    assert json.loads((out / "report.json").read_text())["seeds"]["1"]["results"]["ours"]["l2"] == ours[1]
    assert (out / "curves.png").stat().st_size > 0
    assert "| ours beats random on L2 |" in markdown


def test_training_curves_are_recorded_and_the_vqvae_loss_falls(tiny_study):
    _, out = tiny_study
    history = json.loads((out / "seed_0" / "vqvae" / "train_results.json").read_text())["log_history"]
    train = [record for record in history if "train/loss" in record]
    assert [record["step"] for record in train] == sorted(record["step"] for record in train)
    assert len(train) == 10 and train[-1]["step"] == 40
    assert train[-1]["train/loss"] < train[0]["train/loss"]
    assert "eval/loss" in history[-1]


def test_mean_std_is_the_sample_spread_and_skips_nan():
    assert mean_std([1.0, 2.0, 3.0]) == {"mean": 2.0, "std": 1.0, "values": [1.0, 2.0, 3.0]}
    assert mean_std([4.0])["std"] == 0.0
    assert mean_std([1.0, float("nan"), 3.0])["mean"] == 2.0
    assert math.isnan(mean_std([float("nan")])["mean"])
    assert format_mean_std(mean_std([1.0, 3.0]), 2) == "2.00 ± 1.41"
    assert format_mean_std(mean_std([1.0]), 2) == "1.00"
    with pytest.raises(ValueError, match="at least one value"):
        mean_std([])


def test_aggregate_seeds_keeps_rows_and_metrics_every_seed_has():
    runs = [{"ours": {"l2": 1.0, "fd": 2.0}, "random": {"l2": 3.0}}, {"ours": {"l2": 2.0}, "oracle": {"l2": 0.5}}]
    assert aggregate_seeds(runs) == {"ours": {"l2": mean_std([1.0, 2.0])}}


def _report(ours_l2: list[float], random_l2: list[float], shuffled_l2: list[float], nll_gaps: list[float]) -> dict:
    """A report with the given per-seed figures (everything else constant)."""
    def results(ours, random):
        events = {"nod_hit_rate": 0.9, "nod_false_alarm_rate": 0.1, "laugh_hit_rate": 0.5,
                  "laugh_false_alarm_rate": float("nan")}
        return {"GT": {"variation": 0.1}, "ours": {"l2": ours, "fd": ours, "p_fd": ours, **events},
                "random": {"l2": random, "fd": random, "p_fd": random},
                "oracle": {"l2": 0.8, "fd": 0.8, "p_fd": 0.8, "laugh_hit_rate": 0.95}}

    seeds = {
        str(index): {
            "results": results(ours, random),
            "control": {"true": {"l2": ours, "nll": 3.0}, "shuffled": {"l2": shuffled, "nll": 3.0 + gap},
                        "nll_gap": gap},
            "code_baselines": {"bigram": {"nll": 3.2, "accuracy": 0.3}},
        }
        for index, (ours, random, shuffled, gap) in enumerate(zip(ours_l2, random_l2, shuffled_l2, nll_gaps))
    }
    return {"settings": {"systems": ["random", "oracle"]}, "seeds": seeds, "modalities": {}, "norms": {}}


def test_targets_are_met_or_missed_by_the_measurements():
    good = {t["target"]: t["met"] for t in check_targets(_report([1.0, 1.1], [2.0, 2.1], [1.5, 1.6], [1.0, 1.1]))}
    assert good["ours beats random on L2"] and good["ours beats random on P-FD"]
    assert good["shuffled speakers: L2 rise"] and good["shuffled speakers: NLL gap"]
    assert good["nods on cue"] and not good["laughs on cue"]
    # Within the seed spread, a shuffle that changes little, a noisy NLL gap: all missed.
    bad = {t["target"]: t["met"] for t in check_targets(_report([1.0, 1.6], [1.5, 2.0], [1.1, 1.7], [0.1, 0.5]))}
    assert not bad["ours beats random on L2"]
    assert not bad["shuffled speakers: L2 rise"] and not bad["shuffled speakers: NLL gap"]
    # One seed has no spread: the margin target cannot be judged.
    single = {t["target"]: t["met"] for t in check_targets(_report([1.0], [2.0], [1.5], [1.0]))}
    assert single["ours beats random on L2"] is None


def test_targets_against_the_oracle_the_words_only_lm_and_the_bigram():
    def targets(ours_l2: float, **change) -> dict:
        report = _report([ours_l2, ours_l2 + 0.01], [9.0, 9.0], [5.0, 5.0], [1.0, 1.1])
        for entry in report["seeds"].values():
            entry["results"]["ours"].update(change.get("ours", {}))
            entry["results"]["oracle"].update(change.get("oracle", {}))
            entry["code_baselines"]["bigram"]["nll"] = change.get("bigram", 3.2)
        words = change.get("words")
        if words is not None:
            report["modalities"] = {"words": {"results": {"ours": {"l2": 2.0, "laugh_hit_rate": words[1]}},
                                              "control": {"nll_gap": words[0]}}}  # fmt: skip
        return {t["target"]: t for t in check_targets(report)}

    near = targets(1.1)  # 1.1 / 0.8 = 1.38 x the oracle
    assert near["ours' L2 near the oracle's"]["met"] and near["ours' P-FD near the oracle's"]["met"]
    assert near["ours' L2 near the oracle's"]["measured"].startswith("1.38 x")
    far = targets(1.3)  # 1.63 x
    assert far["ours' FD near the oracle's"]["met"] is False and far["ours' FD near the oracle's"]["by"] == "+0.13 x"
    # laughs: hit >= 0.7 with false alarms <= 0.3; nods: false alarms up to 0.3 pass
    laughs = targets(1.1, ours={"laugh_hit_rate": 0.75, "laugh_false_alarm_rate": 0.25, "nod_false_alarm_rate": 0.3})
    assert laughs["laughs on cue"]["met"] and laughs["nods on cue"]["met"]
    noisy = targets(1.1, ours={"laugh_hit_rate": 0.75, "laugh_false_alarm_rate": 0.35})
    assert noisy["laughs on cue"]["met"] is False and "false alarm +0.05" in noisy["laughs on cue"]["by"]
    assert near["the codebook carries laughs (oracle)"]["met"]
    assert targets(1.1, oracle={"laugh_hit_rate": 0.85})["the codebook carries laughs (oracle)"]["met"] is False
    assert near["teacher-forced NLL below the code bigram's"]["met"]  # 3.0 against 3.2
    assert targets(1.1, bigram=2.9)["teacher-forced NLL below the code bigram's"]["met"] is False
    assert "Table 3: the words-only LM reads the words" not in near  # no words-only row, no target
    reads = targets(1.1, words=(1.2, 0.6))["Table 3: the words-only LM reads the words"]
    assert reads["met"] and reads["by"] == "gap +0.200, laugh hit +0.10"
    assert targets(1.1, words=(1.2, 0.4))["Table 3: the words-only LM reads the words"]["met"] is False
    assert targets(1.1, words=(0.9, 0.6))["Table 3: the words-only LM reads the words"]["met"] is False


def test_the_report_prints_again_from_its_json(tiny_study, capsys):
    from mmlistener.evaluation.study_report import main

    report, out = tiny_study
    (out / "report.md").write_text("stale")
    main([str(out / "report.json")])
    printed = capsys.readouterr().out
    assert printed.startswith("# The study on the synthetic corpus") and "## Targets:" in printed
    assert (out / "report.md").read_text() + "\n" == printed  # rewritten: the stale text is gone
    with pytest.raises(FileNotFoundError, match="run `make reproduce` first"):
        main([str(out / "missing.json")])


def test_one_seed_ablation_rows_must_beat_the_seed_noise():
    def table_3(words_l2: float, ours_l2: list[float]) -> dict:
        report = _report(ours_l2, [9.0] * len(ours_l2), [5.0] * len(ours_l2), [1.0] * len(ours_l2))
        report["modalities"] = {name: {"results": {"ours": {"l2": value, "laugh_hit_rate": 0.0}},
                                       "control": {"nll_gap": 0.5}}
                                for name, value in (("words,acoustic,emotion", 1.0), ("words", words_l2))}  # fmt: skip
        (target,) = [t for t in check_targets(report) if t["target"].startswith("Table 3: all streams")]
        return target

    # ours' L2 over seeds has std 0.1: the seed noise is 0.2
    assert table_3(1.3, [1.0, 1.1, 1.2])["met"] is True
    within = table_3(1.15, [1.0, 1.1, 1.2])
    assert within["met"] is False and "seed noise (0.200" in within["required"]
    assert table_3(1.3, [1.0])["met"] is None  # one seed: no noise to judge by


def test_shuffle_summary_is_the_relative_l2_rise():
    summary = shuffle_summary(_report([1.0, 2.0], [3.0, 3.0], [1.5, 2.0], [1.0, 1.0])["seeds"])
    assert summary["l2_rise"]["mean"] == pytest.approx(0.25)
    assert summary["nll_gap"] == mean_std([1.0, 1.0])


def test_finished_run_names_the_missing_folder(tmp_path):
    from mmlistener.runs import finished_run

    (tmp_path / "vqvae").mkdir()
    assert finished_run(str(tmp_path), "vqvae") == tmp_path
    with pytest.raises(FileNotFoundError, match="dataset_tokens is missing: run `make demo` first"):
        finished_run(tmp_path, "vqvae", "dataset_tokens")
