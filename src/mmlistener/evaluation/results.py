"""The results table (the paper's Table 1 layout): generate with every system, score, save.

`evaluate_systems` is the core of `python -m mmlistener.evaluation`; call it directly with
fitted systems (baselines, `ListenerPipeline`) and the test windows.
"""

import json
import math
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from .baselines import ListenerSystem
from .events import event_rates
from .plots import plot_motion_comparison
from .scoring import ValenceFn, as_motion, ground_truth_valence, score_ground_truth, score_predictions
from .tables import markdown_table

GROUND_TRUTH = "GT"
# (metric key, column header, display scale) in the paper's Table 1 order. JSON keeps raw values;
# the markdown table prints L2 Affect x 10^2 like the paper.
TABLE_COLUMNS = (
    ("l2", "L2 ↓", 1.0),
    ("fd", "FD ↓", 1.0),
    ("variation", "Variation", 1.0),
    ("diversity", "Diversity", 1.0),
    ("p_fd", "P-FD ↓", 1.0),
    ("l2_affect", "L2 Affect (×10²) ↓", 100.0),
)
MOTION_KEYS = ("speaker_motion", "listener_motion", "listener_identity", "speaker_shape")


def as_examples(data) -> list[dict]:
    """Windows as a list of dicts with numpy motion, from a 🤗 `Dataset` or any sequence of dicts."""
    examples = []
    for example in data:
        example = dict(example)
        for key in MOTION_KEYS:
            if example.get(key) is not None:
                example[key] = np.asarray(example[key], dtype=np.float32)
        examples.append(example)
    return examples


def evaluate_systems(
    systems: Mapping[str, ListenerSystem],
    examples,
    valence: ValenceFn | torch.nn.Module | None = None,
    seed: int = 0,
    output_dir: str | Path | None = None,
    num_plot_windows: int = 3,
    progress: bool = True,
    events: bool = False,
) -> dict[str, dict[str, float]]:
    """Generate listener motion with each system for the windows, score it, and optionally save it all.

    Args:
        systems (`dict[str, ListenerSystem]`): row name -> fitted system with `predict(examples)`.
        examples (`datasets.Dataset` or `list[dict]`): the test windows.
        valence (`EmotionRecognizer` or `ValenceFn`, *optional*): enables L2 Affect (see `score_predictions`).
        seed (`int`): Diversity seed (window i uses `seed + i`, for the GT row and every system alike).
        output_dir (`str` or `Path`, *optional*): where to write `results.json`, `results.md` and
            `plots/<system>.png`.
        num_plot_windows (`int`): windows drawn per plot.
        progress (`bool`): show tqdm progress bars.
        events (`bool`, defaults to `False`): add the event diagnostics of `event_rates` (nod and laugh hit and
            false-alarm rates, emotion contagion) to every row, the GT row included; the windows need `events`
            (the synthetic corpus records them).

    Returns:
        `dict`: `{"GT": {"variation", "diversity"}, system: {"l2", "fd", "variation", "diversity", "p_fd"[,
        "l2_affect"]}}`, raw values (L2 Affect not scaled).
    """
    examples = as_examples(examples)
    if not examples:
        raise ValueError("no windows to evaluate")
    if GROUND_TRUTH in systems:
        raise ValueError(f"{GROUND_TRUTH!r} is the ground-truth row; name the system differently")
    results = {GROUND_TRUTH: score_ground_truth(examples, seed=seed)}
    if events:
        results[GROUND_TRUTH].update(event_rates([as_motion(e, "listener_motion") for e in examples], examples))
    gt_valence = None if valence is None else ground_truth_valence(examples, valence)  # once for all systems
    bar = tqdm(systems.items(), desc="systems", disable=not progress)
    for name, system in bar:
        bar.set_postfix_str(f"{name}: generating")
        predictions = system.predict(examples)
        bar.set_postfix_str(f"{name}: scoring")
        results[name] = score_predictions(
            predictions, examples, valence=valence, seed=seed, gt_valence=gt_valence
        )
        if events:
            results[name].update(event_rates(predictions, examples))
        if output_dir is not None and num_plot_windows > 0:
            plot_motion_comparison(
                predictions,
                examples,
                Path(output_dir) / "plots" / f"{safe_filename(name)}.png",
                title=name,
                num_windows=num_plot_windows,
            )
    if output_dir is not None:
        save_results(results, output_dir)
    return results


def safe_filename(name: str) -> str:
    """`name` with every run of characters other than letters, digits, `.`, `-` and `_` made `_`."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "system"


def _cell(value: float | None, scale: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value * scale:.4f}"


def format_results_table(results: Mapping[str, Mapping[str, float]]) -> str:
    """Markdown table of `results` (rows: systems, GT first; columns: `TABLE_COLUMNS` present in any row)."""
    columns = [column for column in TABLE_COLUMNS if any(column[0] in row for row in results.values())]
    return markdown_table(
        "System",
        [header for _, header, _ in columns],
        {name: [_cell(row.get(key), scale) for key, _, scale in columns] for name, row in results.items()},
    )


def save_results(results: Mapping[str, Mapping[str, float]], output_dir: str | Path) -> Path:
    """Write `results.json` (system -> metric -> raw value) and `results.md` (the table) to `output_dir`."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (output_dir / "results.md").write_text(format_results_table(results))
    return output_dir


__all__ = [
    "GROUND_TRUTH",
    "TABLE_COLUMNS",
    "as_examples",
    "evaluate_systems",
    "format_results_table",
    "save_results",
]
