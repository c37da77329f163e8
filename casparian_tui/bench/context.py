"""What every benchmark of `casparian bench` is given: sizes, backends, folders, and shared helpers."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from casparian_tui.bench.measure import Figure
from casparian_tui.config import Settings, db_file
from casparian_tui.db import Database
from casparian_tui.db.dialect import dialect_for

BACKENDS = ("duckdb", "sqlite")
# The benchmarks measured on PostgreSQL too (the others are about files on this host).
SERVER_BENCHMARKS = ("upsert", "claims", "run")
CLAIM_WORKERS = 4  # processes claiming from one PostgreSQL queue


@dataclass(frozen=True)
class Sizes:
    upsert: int
    tree: int
    tree_1m: int
    catalog: int
    parquet_mb: int
    claims: int
    run_files: int
    runs: int  # repeats of the cheap measurements
    real_tree: int = 100_000  # files in the real-shaped tree
    hash_mb: int = 2048  # bytes to hash against sha256sum
    hashset_lines: int = 1_000_000


FULL = Sizes(upsert=100_000, tree=100_000, tree_1m=1_000_000, catalog=1_000_000, parquet_mb=1024,
             claims=20_000, run_files=10_000, runs=5)
QUICK = Sizes(upsert=5_000, tree=5_000, tree_1m=20_000, catalog=20_000, parquet_mb=8,
              claims=2_000, run_files=200, runs=2, real_tree=5_000, hash_mb=16, hashset_lines=20_000)


@dataclass
class Context:
    sizes: Sizes
    backends: tuple[str, ...]
    cache: Path  # <home>/bench: trees and Parquet, kept
    scratch: Path  # databases, thrown away
    pg: Any = None  # a db.pg_cluster.Cluster when "postgres" is measured

    def fresh_dsn(self) -> str:
        """A new migrated database on the bench's PostgreSQL server."""
        return self.pg.new_database()

    def fresh_db(self, backend: str, name: str) -> Database:
        if dialect_for(backend).is_server:
            return Database(Settings.resolve(db=self.fresh_dsn(), backend=backend, env={}))
        path = db_file(Path(tempfile.mkdtemp(dir=self.scratch)), backend, name)
        return Database(Settings.resolve(db=path, backend=backend, env={}).with_(idle_grace_s=30.0))


def ratio(figs: dict[str, Figure], faster_is_lower: bool = True) -> None:
    """Write 'N× faster than <other>' on the DuckDB figure."""
    d, s = figs.get("duckdb"), figs.get("sqlite")
    if not d or not s or not d.median or not s.median:
        return
    r = (s.median / d.median) if faster_is_lower else (d.median / s.median)
    d.compare = f"{r:,.1f}× vs sqlite"
    s.compare = f"{1 / r:,.2f}× vs duckdb"


def vs_duckdb(figs: dict[str, Figure], faster_is_lower: bool = True) -> None:
    """Write 'N× vs duckdb' on the PostgreSQL figure."""
    d, p = figs.get("duckdb"), figs.get("postgres")
    if not d or not p or not d.median or not p.median:
        return
    r = (d.median / p.median) if faster_is_lower else (p.median / d.median)
    p.compare = f"{r:,.2f}× vs duckdb"


def catalog(ctx: Context, backend: str) -> Database:
    from casparian_tui.bench.preview_probe import build

    db = ctx.fresh_db(backend, "catalog")
    build(db, ctx.sizes.catalog)
    return db


def tui_catalog(ctx: Context, backend: str) -> Database:
    """The bench catalog, closed and reopened with the TUI's own idle grace (not the bench's 30 s), as a user has it."""
    from casparian_tui.config import DEFAULT_IDLE_GRACE_S

    db = catalog(ctx, backend)
    db.close()
    return Database(db.settings.with_(idle_grace_s=DEFAULT_IDLE_GRACE_S))
