"""The bench table for people and the JSON for scripts."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from casparian_tui.bench.measure import Figure


def _num(v: float | None) -> str:
    if v is None:
        return "—"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    if abs(v) >= 1:
        return f"{v:,.2f}"
    return f"{v:.3f}"


def table(figures: list[Figure], title: str) -> Table:
    t = Table(title=title, header_style="bold", show_edge=False)
    for col in ("benchmark", "backend", "target", "median", "min", "max", "compare", "pass"):
        t.add_column(col, justify="right" if col in ("median", "min", "max") else "left", no_wrap=col != "benchmark")
    for f in figures:
        verdict = {True: Text("pass", style="green"), False: Text("FAIL", style="bold red"), None: Text("—")}[f.passed]
        label = Text.assemble((f.name, "bold"), " ", (f.what, "dim"))
        t.add_row(label, f.backend, f.target_text, f"{_num(f.median)} {f.unit}",
                  _num(min(f.samples) if f.samples else None), _num(max(f.samples) if f.samples else None),
                  f.compare, verdict)
    return t


def print_table(figures: list[Figure], title: str) -> None:
    import sys

    # Wide enough for logs and the README when not on a terminal.
    console = Console(highlight=False) if sys.stdout.isatty() else Console(highlight=False, width=150)
    console.print(table(figures, title))
    notes = [f"{f.name} ({f.backend}): {f.note}" for f in figures if f.note]
    for n in notes:
        print("  note: " + n)


def write_markdown(figures: list[Figure], title: str, path: Path) -> None:
    """The same table as Markdown (the README's Performance section is one of these)."""
    verdicts = {True: "pass", False: "**FAIL**", None: "—"}
    lines = [f"_{title}_", "", "| benchmark | backend | target | median | min | max | compare | pass |",
             "|---|---|---|--:|--:|--:|---|---|"]
    for f in figures:
        cells = [f"{f.name}: {f.what}", f.backend, f.target_text, f"{_num(f.median)} {f.unit}",
                 _num(min(f.samples) if f.samples else None), _num(max(f.samples) if f.samples else None),
                 f.compare, verdicts[f.passed]]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    notes = [f"- {f.name} ({f.backend}): {f.note}" for f in figures if f.note]
    path.write_text("\n".join(lines + ([""] + notes if notes else [])) + "\n", encoding="utf-8")


def load_average() -> str:
    """The 1-minute load average: a busy machine explains slow figures."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "unknown"


def write_json(figures: list[Figure], path: Path) -> None:
    path.write_text(json.dumps([f.to_json() for f in figures], indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def machine() -> str:
    try:
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        cpu = platform.processor() or "unknown CPU"
    mem = ""
    try:
        kb = int(next(l.split()[1] for l in Path("/proc/meminfo").read_text().splitlines() if l.startswith("MemTotal")))
        mem = f", {kb / 2**20:.0f} GiB RAM"
    except (OSError, StopIteration, ValueError):
        pass
    return f"{cpu}, {os.cpu_count()} cores{mem}, {platform.system()} {platform.release()}, Python {platform.python_version()}"
