"""Sentinel: the job queue, the worker pool and the parser runner.

Parsers import `TransientError` from here; keep this module light, since
every worker process imports it.
"""

from casparian_tui.sentinel.plugin import TransientError

__all__ = ["TransientError"]
