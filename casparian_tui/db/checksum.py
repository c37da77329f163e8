"""Order-independent table checksums that come out the same on both backends.

A table's checksum is the sum, modulo 2**64, of DuckDB's `hash()` over every
row's columns (a sum, not XOR, so duplicate rows still count). The hash
depends on the values *and* their SQL types, so both sides are brought to one
typed form first: the column types of the DuckDB side, mapped to Arrow by
`ARROW_TYPES`. A DuckDB table is hashed in SQL where it lies; SQLite rows are
read as strictly typed Arrow batches (`SQLiteConnection.arrow_batches`: a
float in an integer column or a 2 in a BOOLEAN column is an error, not a
conversion) and hashed by an in-memory DuckDB. Booleans, doubles, NULLs and
text therefore hash identically whichever file they came from; a NaN, which
SQLite cannot store, shows up as a difference.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import duckdb
import pyarrow as pa

from casparian_tui.db.connection import Connection
from casparian_tui.db.duckdb_backend import _CONFIG, quiet

MASK = 2**64 - 1

# DuckDB column types of our schema -> the Arrow type both sides are hashed as.
ARROW_TYPES = {
    "BIGINT": pa.int64(),
    "INTEGER": pa.int32(),
    "VARCHAR": pa.string(),
    "BOOLEAN": pa.bool_(),
    "DOUBLE": pa.float64(),
}


@dataclass
class TableSum:
    rows: int = 0
    checksum: int = 0

    def add(self, rows: int, checksum: int) -> None:
        self.rows += rows
        self.checksum = (self.checksum + checksum) & MASK

    @property
    def hex(self) -> str:
        return f"{self.checksum:016x}"


def arrow_schema(duckdb_columns: Sequence[tuple[str, str]], names: Sequence[str]) -> pa.Schema:
    """The Arrow schema of `names`, typed as the DuckDB side declares them."""
    types = dict(duckdb_columns)
    fields = []
    for name in names:
        declared = types[name].upper()
        if declared not in ARROW_TYPES:
            raise ValueError(f"column {name}: no checksum mapping for DuckDB type {declared}")
        fields.append(pa.field(name, ARROW_TYPES[declared]))
    return pa.schema(fields)


def _row_hash_sql(names: Sequence[str], relation: str, where: str = "") -> str:
    cols = ", ".join(names)
    # hash() is UBIGINT; summing in HUGEINT cannot overflow, the mask keeps 64 bits.
    return f"SELECT count(*), coalesce(sum(hash({cols})::HUGEINT), 0) FROM {relation} {where}"


class BatchHasher:
    """Hashes Arrow batches in a private in-memory DuckDB (any thread, one at a time)."""

    def __init__(self) -> None:
        self._con = quiet(duckdb.connect(":memory:", config=_CONFIG))

    def add(self, total: TableSum, batch: pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        self._con.register("_cf_hash_batch", batch)
        try:
            rows, summed = self._con.execute(_row_hash_sql(batch.schema.names, "_cf_hash_batch")).fetchall()[0]
        finally:
            self._con.unregister("_cf_hash_batch")
        total.add(int(rows), int(summed) & MASK)

    def close(self) -> None:
        self._con.close()


def table_checksum(
    conn: Connection,
    table: str,
    schema: pa.Schema,
    hasher: BatchHasher,
    where: tuple[str, Sequence] | None = None,
    batch_rows: int = 100_000,
) -> TableSum:
    """Row count and checksum of `table` (the columns of `schema`, rows matching `where`)."""
    total = TableSum()
    clause, params = (f"WHERE {where[0]}", list(where[1])) if where else ("", [])
    if conn.backend == "duckdb":
        rows, summed = conn.query_one(_row_hash_sql(schema.names, table, clause), params)
        total.add(int(rows), int(summed) & MASK)
        return total
    sql = f"SELECT {', '.join(schema.names)} FROM {table} {clause}"
    for batch in conn.arrow_batches(sql, schema, batch_rows, params):
        hasher.add(total, batch)
    return total
