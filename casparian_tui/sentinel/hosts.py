"""Which machine this process runs on, as the queue, the worker list and lineage name it."""

from __future__ import annotations

import os
import socket


def host_name() -> str:
    """`CASPARIAN_HOSTNAME` (to tell apart several workers on one machine, or in tests), else the host's name."""
    return os.environ.get("CASPARIAN_HOSTNAME") or socket.gethostname()
