"""The throwaway PostgreSQL cluster of the tests (casparian_tui/db/pg_cluster.py), one fresh database per test.

`CASPARIAN_TEST_PG_DSN` names a server to use instead (a role that may create databases).
"""

from __future__ import annotations

import os

from casparian_tui.db import pg_cluster

_ENV = "CASPARIAN_TEST_PG_DSN"


def unavailable_reason() -> str | None:
    return pg_cluster.unavailable_reason(os.environ.get(_ENV, ""), _ENV)


class Cluster(pg_cluster.Cluster):
    def __init__(self) -> None:
        super().__init__(os.environ.get(_ENV, ""), prefix="cf_test")
