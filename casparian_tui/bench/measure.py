"""One benchmark figure: samples, their min/median/max, and whether the target is met."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from typing import Callable


@dataclass
class Figure:
    what: str  # the measurement, as a person reads it
    backend: str  # duckdb | sqlite | "-" where no backend applies
    unit: str
    target: float | None  # None: measured for comparison only
    higher_is_better: bool = False
    samples: list[float] = field(default_factory=list)
    compare: str = ""  # e.g. "23.1× vs sqlite", "find 230 ms"
    note: str = ""
    also_required: bool | None = None  # a second condition of the target, e.g. "faster than SQLite"
    name: str = ""  # the benchmark it belongs to (set by the runner)
    judged: bool = True  # False in --quick: tiny inputs say nothing about full-size targets

    @property
    def median(self) -> float | None:
        return statistics.median(self.samples) if self.samples else None

    @property
    def passed(self) -> bool | None:
        if self.target is None or self.median is None or not self.judged:
            return None
        met = self.median >= self.target if self.higher_is_better else self.median <= self.target
        return met and self.also_required is not False

    @property
    def target_text(self) -> str:
        if self.target is None:
            return "—"
        return f"{'≥' if self.higher_is_better else '≤'} {self.target:,g} {self.unit}"

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "what": self.what,
            "backend": self.backend,
            "unit": self.unit,
            "target": self.target_text if self.target is not None else None,
            "median": self.median,
            "min": min(self.samples) if self.samples else None,
            "max": max(self.samples) if self.samples else None,
            "passed": self.passed,
            "compare": self.compare or None,
            "note": self.note or None,
        }


def repeat(fn: Callable[[], float], runs: int, warmup: int = 1) -> list[float]:
    """Call `fn` (which returns one measured value) warmup + runs times; keep the last `runs`."""
    for _ in range(warmup):
        fn()
    return [fn() for _ in range(runs)]


def timed_ms(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1000
