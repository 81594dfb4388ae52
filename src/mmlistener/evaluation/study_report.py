"""The report of `make reproduce`: its tables in markdown and its targets, met or missed and by how much.

Everything here reads the report's data (`report.json` of `mmlistener.reproduce`):
`seeds[seed] = {"results", "control", "code_baselines", "codes", "vqvae"}` for Table 1,
`modalities[set] = {"results", "control"}` for Table 3 and `norms[variant] = {"results", "control"[, "codes",
"vqvae"]}` for Table 5 (the Table 1 entries of the first seed are the rows `words,acoustic,emotion` and
`instance/adain`).
"""

import json
from collections.abc import Mapping

import numpy as np

from .events import EVENT_COLUMNS
from .results import GROUND_TRUTH, TABLE_COLUMNS
from .seeds import aggregate_seeds, format_mean_std, mean_std, seed_table
from .tables import markdown_table
from .vqvae_metrics import VQVAE_COLUMNS

SYSTEM = "ours"
CEILING = "oracle"  # a row of Table 1 that is not a baseline
BEAT_METRICS = ("l2", "fd", "p_fd")
SHUFFLE_L2_RISE = 0.20  # shuffled speakers must make L2 at least 20 % worse
NLL_GAP_SPREADS = 5.0  # the NLL gap must exceed 5 seed standard deviations
ABLATION_NOISE_STDS = 2.0  # a one-seed ablation row must win by more than 2 seed standard deviations of ours' L2
EVENT_TARGETS = {"nod": (0.8, 0.3), "laugh": (0.7, 0.3)}  # event -> (ours' hit rate >=, its false-alarm rate <=)
ORACLE_RATIO = 1.5  # ours' L2, FD and P-FD within this factor of the oracle's (the codebook's ceiling)
ORACLE_LAUGH_HIT = 0.9  # the codebook must carry laughs before an LM can
WORDS_ONLY = "words"  # Table 3's row of the LM that reads the words alone
WORDS_NLL_GAP, WORDS_LAUGH_HIT = 1.0, 0.5  # ... must lose 1 nat with shuffled speakers and laugh after half the jokes
CONTROL_COLUMNS = (("nll", "NLL ↓"), ("accuracy", "Accuracy ↑"), ("l2", "L2 ↓"), ("fd", "FD ↓"), ("p_fd", "P-FD ↓"))


def _control_rows(entry: Mapping) -> dict:
    rows = {"model, own speaker": entry["control"]["true"], "model, shuffled speaker": entry["control"]["shuffled"]}
    rows.update({f"code-only: {name.replace('_', ' ')}": scores for name, scores in entry.get("code_baselines", {}).items()})
    return rows


def shuffle_summary(seeds: Mapping[str, Mapping]) -> dict:
    """Over the seeds: the relative L2 rise with shuffled speakers and the NLL gap, each `mean_std`."""
    controls = [entry["control"] for entry in seeds.values()]
    return {
        "l2_rise": mean_std([c["shuffled"]["l2"] / c["true"]["l2"] - 1.0 for c in controls]),
        "nll_gap": mean_std([c["nll_gap"] for c in controls]),
    }


def _target(name: str, measured: str, required: str, met: bool | None, by: str = "") -> dict:
    return {"target": name, "measured": measured, "required": required, "met": met, "by": by}


def check_targets(report: Mapping) -> list[dict]:
    """The study's targets, each `{"target", "measured", "required", "met", "by"}` (`met` is None when the run
    cannot tell, e.g. a spread from one seed).

    - ours beats every baseline on L2, FD and P-FD by more than the seed spread (margin > std(ours) +
      std(baseline));
    - shuffled speakers make ours' L2 at least 20 % worse; the NLL gap exceeds 5 standard deviations of itself;
    - Table 3: all streams better (lower L2) than words only; Table 5: instance/AdaIN better than none/none; each
      row is one seed's run, so by more than the seed noise (`ABLATION_NOISE_STDS` x ours' L2 std over the seeds
      of Table 1; not measurable with one seed);
    - ours' L2, FD and P-FD at most 1.5 x the oracle's (the true codes through the same VQ-VAE);
    - nods: ours' hit rate >= 0.8 with false-alarm rate <= 0.3; laughs: >= 0.7 and <= 0.3; the oracle's laugh hit
      rate >= 0.9;
    - Table 3's words-only LM: NLL gap with shuffled speakers >= 1 nat and laugh hit rate >= 0.5;
    - ours' teacher-forced NLL below the code bigram's (means over the seeds).
    """
    table = aggregate_seeds([entry["results"] for entry in report["seeds"].values()])
    multi_seed = len(report["seeds"]) > 1
    ours, targets = table[SYSTEM], []
    for baseline in (name for name in report["settings"]["systems"] if name != CEILING):
        for metric in BEAT_METRICS:
            theirs = table[baseline][metric]
            margin = theirs["mean"] - ours[metric]["mean"]
            spread = theirs["std"] + ours[metric]["std"]
            targets.append(_target(
                f"ours beats {baseline} on {metric.upper().replace('_', '-')}",
                f"{ours[metric]['mean']:.4f} vs {theirs['mean']:.4f}",
                f"margin > seed spread ({spread:.4f})",
                margin > spread if multi_seed else None,
                f"margin {margin:+.4f}",
            ))
    shuffle = shuffle_summary(report["seeds"])
    rise = shuffle["l2_rise"]["mean"]
    targets.append(_target("shuffled speakers: L2 rise", f"{100 * rise:+.1f} %", f">= {100 * SHUFFLE_L2_RISE:.0f} %",
                           rise >= SHUFFLE_L2_RISE, f"{100 * (rise - SHUFFLE_L2_RISE):+.1f} points"))
    gap = shuffle["nll_gap"]
    targets.append(_target(
        "shuffled speakers: NLL gap", f"{gap['mean']:.3f} ± {gap['std']:.3f} nats",
        f">= {NLL_GAP_SPREADS:.0f} x its seed std", gap["mean"] > NLL_GAP_SPREADS * gap["std"] if multi_seed else None,
        f"{gap['mean'] / gap['std']:.1f} std" if gap["std"] > 0 else "one seed",
    ))
    # Tables 3 and 5 train one seed per row: two such runs differ by about 2 x ours' L2 std over Table 1's seeds
    # (the same settings, other seeds) from the seed alone, so a row wins only by more than that noise
    noise = ABLATION_NOISE_STDS * ours["l2"]["std"]
    for name, rows, better, worse in (
        ("Table 3: all streams better than words only", report["modalities"], "words,acoustic,emotion", "words"),
        ("Table 5: instance/AdaIN better than none/none", report["norms"], "instance/adain", "none/none"),
    ):
        if better in rows and worse in rows:
            low, high = rows[better]["results"][SYSTEM]["l2"], rows[worse]["results"][SYSTEM]["l2"]
            targets.append(_target(
                name, f"L2 {low:.4f} vs {high:.4f} (one seed each)",
                f"lower by more than the seed noise ({noise:.3f}: {ABLATION_NOISE_STDS:g} x ours' L2 std over seeds)",
                high - low > noise if multi_seed else None, f"{high - low:+.4f}",
            ))  # fmt: skip
    oracle = table.get(CEILING)
    for metric in BEAT_METRICS if oracle else ():
        ratio = ours[metric]["mean"] / oracle[metric]["mean"]
        targets.append(_target(
            f"ours' {metric.upper().replace('_', '-')} near the oracle's", f"{ratio:.2f} x ({ours[metric]['mean']:.4f} "
            f"vs {oracle[metric]['mean']:.4f})", f"<= {ORACLE_RATIO} x", bool(ratio <= ORACLE_RATIO),
            f"{ratio - ORACLE_RATIO:+.2f} x",
        ))  # fmt: skip
    for event, (least, most) in EVENT_TARGETS.items():
        hit, alarm = ours[f"{event}_hit_rate"]["mean"], ours[f"{event}_false_alarm_rate"]["mean"]
        alarm_ok = np.isnan(alarm) or alarm <= most  # no detection at all: no false alarm
        targets.append(_target(
            f"{event}s on cue", f"hit {hit:.2f}, false alarm {'–' if np.isnan(alarm) else f'{alarm:.2f}'}",
            f"hit >= {least}, false alarm <= {most}", bool(hit >= least and alarm_ok),
            f"hit {hit - least:+.2f}" + ("" if np.isnan(alarm) else f", false alarm {alarm - most:+.2f}"),
        ))
    if oracle and "laugh_hit_rate" in oracle:
        laughs = oracle["laugh_hit_rate"]["mean"]
        targets.append(_target("the codebook carries laughs (oracle)", f"hit {laughs:.2f}", f">= {ORACLE_LAUGH_HIT}",
                               bool(laughs >= ORACLE_LAUGH_HIT), f"{laughs - ORACLE_LAUGH_HIT:+.2f}"))
    if WORDS_ONLY in report["modalities"]:
        words = report["modalities"][WORDS_ONLY]
        gap, hit = words["control"]["nll_gap"], words["results"][SYSTEM]["laugh_hit_rate"]
        targets.append(_target(
            "Table 3: the words-only LM reads the words", f"NLL gap {gap:.3f} nats, laugh hit {hit:.2f}",
            f"gap >= {WORDS_NLL_GAP:g}, laugh hit >= {WORDS_LAUGH_HIT}",
            bool(gap >= WORDS_NLL_GAP and hit >= WORDS_LAUGH_HIT),
            f"gap {gap - WORDS_NLL_GAP:+.3f}, laugh hit {hit - WORDS_LAUGH_HIT:+.2f}",
        ))  # fmt: skip
    runs = [entry for entry in report["seeds"].values() if "bigram" in entry.get("code_baselines", {})]
    if runs:
        nll = float(np.mean([entry["control"]["true"]["nll"] for entry in runs]))
        bigram = float(np.mean([entry["code_baselines"]["bigram"]["nll"] for entry in runs]))
        targets.append(_target("teacher-forced NLL below the code bigram's", f"{nll:.3f} vs {bigram:.3f}",
                               "below", bool(nll < bigram), f"{nll - bigram:+.3f} nats"))
    return targets


def _ablation_table(rows: Mapping[str, Mapping], corner: str, with_vqvae: bool) -> str:
    """Table 3 / Table 5: one row per setting, ours' motion and listening figures (and the VQ-VAE's)."""
    headers, lines = [], {}
    for name, entry in rows.items():
        ours, control = entry["results"][SYSTEM], entry["control"]
        cells = {
            "L2 ↓": f"{ours['l2']:.4f}", "FD ↓": f"{ours['fd']:.2f}", "P-FD ↓": f"{ours['p_fd']:.2f}",
            "NLL ↓": f"{control['true']['nll']:.3f}", "NLL gap ↑": f"{control['nll_gap']:.3f}",
            "shuffled L2": f"{control['shuffled']['l2']:.4f}", "Contagion ↑": f"{ours['emotion_contagion']:.3f}",
            "Nod hit ↑": f"{ours['nod_hit_rate']:.2f}", "Laugh hit ↑": f"{ours['laugh_hit_rate']:.2f}",
        }
        if with_vqvae:
            cells = {
                **{header: f"{entry['vqvae'][key]:.4f}" for key, header in VQVAE_COLUMNS},
                "prefix agr.": f"{entry['codes']['prefix']['agreement']:.3f}",
                "identity agr.": f"{entry['codes']['identity']['agreement']:.3f}",
                "oracle L2": f"{entry['results']['oracle']['l2']:.4f}",
                **cells,
            }
        headers = list(cells)
        lines[name] = list(cells.values())
    return markdown_table(corner, headers, lines)


def format_report(report: Mapping) -> str:
    """The whole report in markdown: how it ran, Table 1 (mean ± std over seeds), event rates, the shuffle
    control, Tables 3 and 5, the targets and the curves."""
    seeds, settings, machine = report["seeds"], report["settings"], report["machine"]
    runs = list(seeds.values())
    n, first = len(runs), next(iter(seeds))
    table = aggregate_seeds([entry["results"] for entry in runs])
    columns = [(key, header) for key, header, _ in TABLE_COLUMNS if key in table[SYSTEM] or key in table[GROUND_TRUTH]]
    shuffle = shuffle_summary(seeds)
    targets = check_targets(report)
    met = sum(target["met"] is True for target in targets)
    verdict = {True: "met", False: "**missed**", None: "not measurable"}
    lines = [
        "# The study on the synthetic corpus (`make reproduce`)",
        "",
        f"Seeds {', '.join(seeds)}; {report['seconds']['total'] / 60:.1f} min on {machine['cpu_count']} CPU cores "
        f"({machine['processor']}, torch {machine['torch']} on {machine['torch_threads']} threads, transformers "
        f"{machine['transformers']}; load average {machine['load_average_at_end']:.2f} at the end). "
        f"Corpus: {settings['num_train']} train / {settings['num_val']} validation / {settings['num_test']} test "
        f"segments; VQ-VAE {settings['vqvae_steps']} steps ({settings['vqvae_config_overrides']}); LM "
        f"{settings['lm_stage1_steps']} + {settings['lm_stage2_steps']} steps ({settings['backbone_config_overrides']}).",
        "",
        f"## Table 1: every system on the test split (mean ± std over {n} seed{'s' * (n > 1)})",
        "",
        seed_table(table, columns),
        "## The listener's responses to the corpus's events",
        "",
        "Nods after utterance ends and laughs after jokes, within 0.2 s of the rule's lag; emotion contagion.",
        "",
        seed_table({name: m for name, m in table.items() if "nod_hit_rate" in m}, EVENT_COLUMNS, digits=3),
        "## Does it listen? The same windows with another window's speaker streams",
        "",
        seed_table(aggregate_seeds([_control_rows(entry) for entry in runs]), CONTROL_COLUMNS,
                   corner="Listener codes from", digits=3),
        f"Shuffled speakers raise ours' L2 by {100 * shuffle['l2_rise']['mean']:.1f} % "
        f"(± {100 * shuffle['l2_rise']['std']:.1f}) and its NLL by {format_mean_std(shuffle['nll_gap'], 3)} nats.",
        "",
        f"## Table 3: speaker streams (seed {first}; each LM trained with these streams only)",
        "",
        _ablation_table(report["modalities"], "Streams", with_vqvae=False),
        f"## Table 5: the VQ-VAE's norms through the whole pipeline (seed {first})",
        "",
        "VQ-VAE columns on the test windows' listener motion; `oracle L2` decodes the true codes; the rest is "
        "the LM trained on that VQ-VAE's codes.",
        "",
        _ablation_table(report["norms"], "encoder / decoder norm", with_vqvae=True),
        f"## Targets: {met} of {len(targets)} met",
        "",
        markdown_table("Target", ["Measured", "Required", "Result", "By"], {
            target["target"]: [target["measured"], target["required"], verdict[target["met"]], target["by"]]
            for target in targets
        }),
        "## Training curves",
        "",
        "![training curves](curves.png)",
        "",
        "Time per part (s): " + json.dumps({name: round(value) for name, value in report["seconds"].items()}),
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """`python -m mmlistener.evaluation.study_report outputs/reproduce/report.json`: print the report of a finished
    study again (the current tables and targets over its figures) and rewrite `report.md` beside the file."""
    import argparse
    from pathlib import Path

    parser = argparse.ArgumentParser(description=main.__doc__.splitlines()[0])
    parser.add_argument("report", help="report.json of a finished `make reproduce`")
    path = Path(parser.parse_args(argv).report)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: run `make reproduce` first (it writes report.json)")
    markdown = format_report(json.loads(path.read_text()))
    (path.parent / "report.md").write_text(markdown)
    print(markdown)


__all__ = ["check_targets", "format_report", "main", "shuffle_summary"]


if __name__ == "__main__":
    main()
