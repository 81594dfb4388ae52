"""Markdown tables of the evaluation outputs: a text column of row names, then right-aligned figures."""

from collections.abc import Mapping, Sequence


def markdown_table(corner: str, headers: Sequence[str], rows: Mapping[str, Sequence[str]]) -> str:
    """A markdown table: `corner` heads the column of row names, `headers` the figure columns.

    Args:
        corner (`str`): header of the first (row-name) column.
        headers (`list[str]`): headers of the right-aligned columns.
        rows (`dict[str, list[str]]`): row name -> its formatted cells, one per header.
    """
    lines = [f"| {corner} | " + " | ".join(headers) + " |", "|---|" + "---:|" * len(headers)]
    for name, cells in rows.items():
        if len(cells) != len(headers):
            raise ValueError(f"row {name!r} has {len(cells)} cells for {len(headers)} columns")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


__all__ = ["markdown_table"]
