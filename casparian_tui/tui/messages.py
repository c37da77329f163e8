"""Messages the screens and workers pass around; one line of docstring each."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message


@dataclass
class ScanProgressed(Message):
    """A running scan reports files found so far."""

    source: str
    files_found: int
    files_per_s: float
    current_dir: str

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, ScanProgressed)


@dataclass
class ScanFinished(Message):
    """A scan ended (completed, cancelled or failed)."""

    source: str
    status: str
    files_found: int
    summary: str


@dataclass
class CatalogChanged(Message):
    """Files, tags or rules changed; views showing them should reload."""

    reason: str


@dataclass
class BacktestFileDone(Message):
    """One file of a running backtest has a result."""

    result: object  # sentinel.backtest.FileResult


@dataclass
class BacktestDone(Message):
    """A backtest finished; `report` is None when it failed to start."""

    report: object | None
    error: str = ""
    declares_outputs: bool = True  # False: the parser's columns come from each file (csv_rows)


@dataclass
class ExportProgressed(Message):
    """A running export wrote this many rows so far."""

    rows: int

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, ExportProgressed)
