"""Results of several seeds: mean ± standard deviation per system and metric, and their tables."""

from collections.abc import Mapping, Sequence

import numpy as np

from .tables import markdown_table


def mean_std(values: Sequence[float]) -> dict:
    """`{"mean", "std", "values"}` of `values`; `std` is the sample standard deviation (0 for one value).

    NaN values (a rate with nothing to count, e.g. no detected nod for a false-alarm rate) are left out of
    mean and std; when every value is NaN both are NaN.
    """
    values = [float(value) for value in values]
    if not values:
        raise ValueError("mean_std needs at least one value")
    finite = np.asarray([value for value in values if not np.isnan(value)])
    if finite.size == 0:
        return {"mean": float("nan"), "std": float("nan"), "values": values}
    std = float(finite.std(ddof=1)) if finite.size > 1 else 0.0
    return {"mean": float(finite.mean()), "std": std, "values": values}


def aggregate_seeds(runs: Sequence[Mapping[str, Mapping[str, float]]]) -> dict[str, dict[str, dict]]:
    """Per-seed results tables (`system -> metric -> value`, as `evaluate_systems` returns) to
    `system -> metric -> mean_std(values over the seeds)`, for the systems and metrics every run has."""
    if not runs:
        raise ValueError("no runs to aggregate")
    systems = [name for name in runs[0] if all(name in run for run in runs)]
    return {
        name: {
            metric: mean_std([run[name][metric] for run in runs])
            for metric in runs[0][name]
            if all(metric in run[name] and isinstance(run[name][metric], (int, float)) for run in runs)
        }
        for name in systems
    }


def format_mean_std(summary: Mapping | None, digits: int = 4) -> str:
    """`"0.2470 ± 0.0123"` (the ± part only when there are several values); `–` for a missing or NaN value."""
    if summary is None or np.isnan(summary["mean"]):
        return "–"
    if len(summary["values"]) == 1:
        return f"{summary['mean']:.{digits}f}"
    return f"{summary['mean']:.{digits}f} ± {summary['std']:.{digits}f}"


def seed_table(
    aggregated: Mapping[str, Mapping[str, Mapping]], columns: Sequence[tuple[str, str]], corner: str = "System",
    digits: int = 4,
) -> str:
    """Markdown table of `aggregate_seeds` output: one row per system, `columns` as `(metric, header)`."""
    return markdown_table(
        corner,
        [header for _, header in columns],
        {
            name: [format_mean_std(metrics.get(metric), digits) for metric, _ in columns]
            for name, metrics in aggregated.items()
        },
    )


__all__ = ["aggregate_seeds", "format_mean_std", "mean_std", "seed_table"]
