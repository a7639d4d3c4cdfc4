"""Benchmarks: figures, the printed table and `bench-results.json`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs


@attrs.frozen(kw_only=True)
class Figure:
    """One measured figure, its baseline and its target.

    `target` is a maximum ratio to the baseline (`ratio <= target`), or for figures without a
    baseline a maximum value; `exact` figures must equal their baseline (request counts at
    their minimum). Informational figures have no target and `passed` None.
    """

    name: str
    value: float
    unit: str
    baseline: float | None = None
    target: float | None = None
    exact: bool = False
    matches: bool = True
    """For exact figures: whether the request lists (not only their lengths) match."""
    note: str = ""

    @property
    def ratio(self) -> float | None:
        """Value / baseline."""
        if self.baseline is None or self.baseline == 0:
            return None
        return self.value / self.baseline

    @property
    def target_text(self) -> str | None:
        """The target as people read it."""
        if self.exact:
            return "= minimum"
        if self.target is None:
            return None
        if self.baseline is not None:
            return f"<= {self.target:g}x"
        return f"<= {self.target:g} {self.unit}"

    @property
    def passed(self) -> bool | None:
        """Whether the target is met (None: no target)."""
        if self.exact:
            return self.matches and self.value == self.baseline
        if self.target is None:
            return None
        if self.baseline is not None:
            ratio = self.ratio
            return ratio is not None and ratio <= self.target
        return self.value <= self.target

    def as_json(self) -> dict[str, Any]:
        """The figure's entry in bench-results.json."""
        return {
            "name": self.name,
            "value": _round(self.value),
            "unit": self.unit,
            "baseline": None if self.baseline is None else _round(self.baseline),
            "ratio": None if self.ratio is None else round(self.ratio, 3),
            "target": self.target_text,
            "pass": self.passed,
            "note": self.note,
        }


def _round(value: float) -> float:
    return round(value, 3) if abs(value) < 100 else round(value, 1)


def _cell(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    text = f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    if unit in ("requests", "modules"):
        text = f"{value:,.0f}"
    return text


def table(figures: Sequence[Figure]) -> str:
    """The figures as a fixed-width table (what `nox -s bench` prints)."""
    header = ("figure", "value", "unit", "baseline", "ratio", "target", "pass")
    rows = [header]
    for figure in figures:
        ratio = figure.ratio
        passed = {True: "PASS", False: "FAIL", None: "-"}[figure.passed]
        rows.append(
            (
                figure.name,
                _cell(figure.value, figure.unit),
                figure.unit,
                _cell(figure.baseline, figure.unit),
                "-" if ratio is None else f"{ratio:.2f}x",
                figure.target_text or "-",
                passed,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    for index, row in enumerate(rows):
        cells = [
            cell.ljust(width) if column in (0, 2, 5) else cell.rjust(width)
            for column, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def notes(figures: Sequence[Figure]) -> str:
    """The notes under the table (what each figure compared)."""
    return "\n".join(f"- {figure.name}: {figure.note}" for figure in figures if figure.note)


def write_json(figures: Sequence[Figure], path: Path) -> None:
    """`bench-results.json`: one object per figure."""
    path.write_text(
        json.dumps([figure.as_json() for figure in figures], indent=2) + "\n", encoding="utf-8"
    )
