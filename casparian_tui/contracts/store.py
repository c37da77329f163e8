"""Schema contracts: what each parser output must look like, kept as numbered versions.

A contract is named `<parser>.<output>` and has versions (1, 2, ...), each a
column -> pyarrow type alias mapping (`"string?"` for a nullable column) with
a status: `proposed`, `approved` or `withdrawn`. The current contract is the
latest approved version. A run validates against it; without one, the
parser's declared OUTPUTS are the contract (see `effective_schemas`).
Functions take the live `Connection`.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field

from casparian_tui.contracts.columns import declared_aliases, normalize
from casparian_tui.db.connection import Connection
from casparian_tui.errors import CasparianError, UsageError
from casparian_tui.sentinel.plugin import ParserSpec, type_from_alias

PROPOSED, APPROVED, WITHDRAWN = "proposed", "approved", "withdrawn"
Columns = dict[str, str]  # column -> type alias, in order


class ContractNotFound(CasparianError):
    def __init__(self, name: str):
        super().__init__(f"No schema contract named {name!r}.",
                         hint="List them with: casparian schema list (propose one with: casparian schema propose PARSER.py)")


def _now() -> int:
    return time.time_ns() // 1000


def _when(ts: int | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts / 1e6)) if ts else ""


@dataclass(frozen=True)
class ContractVersion:
    version: int
    status: str
    columns: Columns
    created_at: int
    approved_at: int | None
    created: str
    approved: str


@dataclass(frozen=True)
class Contract:
    name: str  # parser.output
    parser: str
    output: str
    latest_version: int
    current_version: int | None  # the latest approved one
    columns: Columns  # of the current version (or the latest proposal when none is approved)
    versions: list[ContractVersion] = field(default_factory=list)

    def to_dict(self, with_versions: bool = False) -> dict:
        d = asdict(self)
        if not with_versions:
            d.pop("versions")
        return d


def split_name(name: str) -> tuple[str, str | None]:
    parser, _, output = name.partition(".")
    if not parser:
        raise UsageError(f"Bad contract name {name!r}.", hint="Use PARSER or PARSER.OUTPUT.")
    return parser, output or None


def check_columns(columns: Columns, where: str) -> Columns:
    """Every type must be a pyarrow alias the runner understands; returned in
    the stored spelling ('int64', or 'int64?' when nullable)."""
    if not columns:
        raise UsageError(f"{where}: a contract needs at least one column.")
    for col, alias in columns.items():
        type_from_alias(alias, f"{where}: column {col}")
    return {col: normalize(alias) for col, alias in columns.items()}


def propose(conn: Connection, parser: str, output: str, columns: Columns) -> tuple[int, bool]:
    """Add a proposed version; return (version, created). The same columns as the latest version add nothing."""
    columns = check_columns(columns, f"{parser}.{output}")
    now = _now()
    cid = conn.query_value("SELECT id FROM schema_contracts WHERE parser_name = ? AND output_name = ?",
                           [parser, output])
    if cid is None:
        conn.execute("INSERT INTO schema_contracts (parser_name, output_name, created_at) VALUES (?, ?, ?)"
                     " ON CONFLICT (parser_name, output_name) DO NOTHING", [parser, output, now])
        cid = conn.query_value("SELECT id FROM schema_contracts WHERE parser_name = ? AND output_name = ?",
                               [parser, output])
    latest = conn.query_one("SELECT version, columns_json FROM schema_contract_versions WHERE contract_id = ? "
                            "ORDER BY version DESC LIMIT 1", [cid])
    if latest is not None and json.loads(latest[1]) == columns and list(json.loads(latest[1])) == list(columns):
        return latest[0], False
    version = (latest[0] if latest else 0) + 1
    conn.execute("INSERT INTO schema_contract_versions (contract_id, version, columns_json, status, created_at) "
                 "VALUES (?, ?, ?, ?, ?)", [cid, version, json.dumps(columns), PROPOSED, now])
    return version, True


def approve(conn: Connection, name: str, version: int | None = None) -> list[tuple[str, int]]:
    """Approve `version` (default: the latest) of PARSER.OUTPUT, or of every output of PARSER."""
    parser, output = split_name(name)
    where, params = "parser_name = ?", [parser]
    if output:
        where += " AND output_name = ?"
        params.append(output)
    contracts = conn.query_all(f"SELECT id, output_name FROM schema_contracts WHERE {where} ORDER BY output_name",
                               params)
    if not contracts:
        raise ContractNotFound(name)
    done = []
    for cid, out in contracts:
        v = version if version is not None else conn.query_value(
            "SELECT max(version) FROM schema_contract_versions WHERE contract_id = ?", [cid])
        if not conn.query_value("SELECT count(*) FROM schema_contract_versions WHERE contract_id = ? AND version = ?",
                                [cid, v], 0):
            raise UsageError(f"Contract {parser}.{out} has no version {v}.",
                             hint=f"See its versions with: casparian schema show {parser}.{out}")
        conn.execute("UPDATE schema_contract_versions SET status = ?, approved_at = ? "
                     "WHERE contract_id = ? AND version = ? AND status <> ?", [APPROVED, _now(), cid, v, APPROVED])
        done.append((f"{parser}.{out}", v))
    return done


def withdraw(conn: Connection, name: str, version: int | None = None) -> list[tuple[str, list[int]]]:
    """Withdraw approved versions of PARSER.OUTPUT (or of every output of
    PARSER): `version`, or every approved one, so that the contract no longer
    applies (the previous approved version, else the declared OUTPUTS, do)."""
    parser, output = split_name(name)
    found = show(conn, name)
    done = []
    for c in found:
        approved = [v.version for v in c.versions if v.status == APPROVED]
        chosen = [version] if version is not None else approved
        if version is not None and version not in approved:
            raise UsageError(f"Contract {c.name} has no approved version {version}.",
                             hint=f"See its versions with: casparian schema show {c.name}")
        cid = conn.query_value("SELECT id FROM schema_contracts WHERE parser_name = ? AND output_name = ?",
                               [parser, c.output])
        for v in chosen:
            conn.execute("UPDATE schema_contract_versions SET status = ? WHERE contract_id = ? AND version = ?",
                         [WITHDRAWN, cid, v])
        done.append((c.name, chosen))
    if not any(vs for _, vs in done):
        raise UsageError(f"No approved version of {name} to withdraw.", hint=f"See: casparian schema show {name}")
    return done


def _versions(conn: Connection, cid: int) -> list[ContractVersion]:
    rows = conn.query_all("SELECT version, status, columns_json, created_at, approved_at "
                          "FROM schema_contract_versions WHERE contract_id = ? ORDER BY version", [cid])
    return [ContractVersion(v, s, json.loads(cols), c, a, _when(c), _when(a)) for v, s, cols, c, a in rows]


def _contract(conn: Connection, cid: int, parser: str, output: str) -> Contract:
    versions = _versions(conn, cid)
    approved = [v for v in versions if v.status == APPROVED]
    current = approved[-1] if approved else None
    shown = current or (versions[-1] if versions else None)
    return Contract(f"{parser}.{output}", parser, output, versions[-1].version if versions else 0,
                    current.version if current else None, shown.columns if shown else {}, versions)


def list_contracts(conn: Connection, parser: str | None = None) -> list[Contract]:
    where, params = ("WHERE parser_name = ?", [parser]) if parser else ("", [])
    rows = conn.query_all(f"SELECT id, parser_name, output_name FROM schema_contracts {where} "
                          "ORDER BY parser_name, output_name", params)
    return [_contract(conn, *r) for r in rows]


def show(conn: Connection, name: str) -> list[Contract]:
    """PARSER.OUTPUT (one contract) or PARSER (all of its outputs), with versions."""
    parser, output = split_name(name)
    found = [c for c in list_contracts(conn, parser) if output is None or c.output == output]
    if not found:
        raise ContractNotFound(name)
    return found


def approved_columns(conn: Connection, parser: str) -> dict[str, Columns]:
    """output -> columns of its current (latest approved) contract version."""
    return {c.output: c.columns for c in list_contracts(conn, parser) if c.current_version is not None}


def effective_schemas(conn: Connection, spec: ParserSpec) -> dict[str, Columns]:
    """What a run validates against: declared OUTPUTS, each replaced by an approved contract if any."""
    schemas = declared_aliases(spec.raw_outputs, spec.outputs)
    for output, columns in approved_columns(conn, spec.name).items():
        if output in spec.output_names:
            schemas[output] = columns
    return schemas
