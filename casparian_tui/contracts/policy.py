"""How many bad rows a file may have before its job fails.

A job fails (permanently: re-running the same file gives the same rows) when
more than this share of its rows is quarantined. The run's
`--max-quarantine` wins, then the parser's `MAX_QUARANTINE`, then 0.10.
"""

from __future__ import annotations

from typing import Any

from casparian_tui.errors import UsageError

DEFAULT_MAX_QUARANTINE = 0.10


def _checked(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= float(value) <= 1.0:
        raise UsageError(f"{where} must be a share between 0 and 1, got {value!r}.",
                         hint="e.g. 0.25 lets a quarter of a file's rows be quarantined.")
    return float(value)


def quarantine_limit(spec, override: float | None = None) -> float:
    """The limit for a run of this parser (`spec` is a ParserSpec)."""
    if override is not None:
        return _checked(override, "--max-quarantine")
    declared = getattr(spec.module, "MAX_QUARANTINE", None) if spec.module is not None else None
    if declared is not None:
        return _checked(declared, f"MAX_QUARANTINE in parser {spec.name}")
    return DEFAULT_MAX_QUARANTINE
