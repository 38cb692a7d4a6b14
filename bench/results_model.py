"""What a scenario reports: figures next to their baselines, and how they were obtained."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Figure:
    """One measured number next to the baseline measured in the same run.

    `ratio` is value / baseline. For figures where lower is better (latency, memory) the
    ratio above 1 means we are slower or heavier than the baseline.
    """

    name: str
    value: float
    unit: str
    baseline: float | None = None
    higher_is_better: bool = True
    target: str | None = None
    target_met: bool | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.baseline == 0 or math.isnan(self.baseline):
            return None
        if math.isnan(self.value):
            return None
        return self.value / self.baseline

    def to_json(self) -> dict[str, Any]:
        ratio = self.ratio
        return {
            "value": _finite(self.value),
            "baseline": None if self.baseline is None else _finite(self.baseline),
            "ratio": None if ratio is None else round(ratio, 3),
            "unit": self.unit,
            "higher_is_better": self.higher_is_better,
            "target": self.target,
            "target_met": self.target_met,
            "note": self.note,
        }


@dataclass
class ScenarioResult:
    name: str
    title: str
    method: str
    figures: list[Figure] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    # What could not be measured this run (e.g. a part of ours that has not landed yet).
    notes: list[str] = field(default_factory=list)
    # Raw series for plots (e.g. latency samples in ms per target); not written to JSON whole.
    series: dict[str, list[float]] = field(default_factory=dict)

    def add(self, figure: Figure) -> Figure:
        self.figures.append(figure)
        return figure

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "method": self.method,
            "settings": self.settings,
            "error": self.error,
            "notes": self.notes,
            "figures": {figure.name: figure.to_json() for figure in self.figures},
        }


def _finite(number: float) -> float | None:
    return None if math.isnan(number) or math.isinf(number) else round(number, 3)
