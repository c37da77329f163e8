"""Parser plugins: plain Python files with NAME, VERSION, TAGS, OUTPUTS and parse(path).

A parser file is checked here before anything is queued (so a typo fails the
run up front, not 10,000 times in the workers) and loaded again, the same way,
inside each worker process. Its identity is name + version + a fingerprint of
the file's bytes, so editing a parser without bumping VERSION still reruns it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pyarrow as pa

from casparian_tui.errors import CasparianError

_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")


class TransientError(Exception):
    """Raise from parse() for a failure worth retrying (file still being written, share offline)."""


class ParserInvalid(CasparianError):
    """The parser file cannot be used; nothing is queued."""


@dataclass(frozen=True)
class ParserSpec:
    path: Path
    name: str
    version: str
    fingerprint: str
    tags: tuple[str, ...] = ()
    # output name -> {column: pyarrow type}; empty when the parser declares none
    outputs: dict[str, dict[str, pa.DataType]] = field(default_factory=dict)
    module: ModuleType | None = field(default=None, compare=False, repr=False)
    # OUTPUTS as the parser wrote them (nullable marks kept), also when the
    # module was loaded in another process
    raw_outputs: Any = field(default=None, compare=False, repr=False)

    @property
    def output_names(self) -> list[str]:
        return list(self.outputs) or [self.name]

    def parse(self, path: str) -> Any:
        return self.module.parse(path)


def fingerprint_bytes(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()[:16]


def load_parser(path: str | Path) -> ParserSpec:
    """Import and validate a parser file; raise ParserInvalid with a clear reason."""
    path = Path(path).expanduser().absolute()
    hint = "See assets/parsers/ for working examples."
    if not path.exists():
        raise ParserInvalid(f"Parser file not found: {path}", hint="Check the path.")
    if not path.is_file():
        raise ParserInvalid(f"Parser path is not a file: {path}")
    content = path.read_bytes()
    try:
        code = compile(content, str(path), "exec")
    except SyntaxError as exc:
        raise ParserInvalid(
            f"Parser {path.name} has a syntax error at line {exc.lineno}: {exc.msg}", hint=hint
        ) from exc
    module_name = f"casparian_parser_{fingerprint_bytes(content)}"
    module = ModuleType(module_name)
    module.__file__ = str(path)
    # Registered so dataclasses/pickle inside the parser can find their module.
    sys.modules[module_name] = module
    try:
        exec(code, module.__dict__)
    except Exception as exc:
        sys.modules.pop(module_name, None)
        raise ParserInvalid(
            f"Parser {path.name} failed while loading: {type(exc).__name__}: {exc}", hint=hint
        ) from exc
    return _validate(path, module, fingerprint_bytes(content), hint)


def _validate(path: Path, module: ModuleType, fingerprint: str, hint: str) -> ParserSpec:
    name = getattr(module, "NAME", None)
    version = getattr(module, "VERSION", None)
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ParserInvalid(
            f"Parser {path.name} needs NAME = '...' (letters, digits, _; starting with a letter), got {name!r}.",
            hint=hint,
        )
    if isinstance(version, (int, float)):
        version = str(version)
    if not isinstance(version, str) or not _VERSION_RE.match(version):
        raise ParserInvalid(f"Parser {path.name} needs VERSION = '1.0' (a short string), got {version!r}.", hint=hint)
    parse = getattr(module, "parse", None)
    if not callable(parse):
        raise ParserInvalid(f"Parser {path.name} has no parse(path) function.", hint=hint)
    tags = getattr(module, "TAGS", ())
    if isinstance(tags, str):
        tags = (tags,)
    if not all(isinstance(t, str) for t in tags):
        raise ParserInvalid(f"Parser {path.name}: TAGS must be a list of strings.", hint=hint)
    outputs = parse_outputs(getattr(module, "OUTPUTS", None), path.name)
    return ParserSpec(
        path=path,
        name=name,
        version=version,
        fingerprint=fingerprint,
        tags=tuple(tags),
        outputs=outputs,
        module=module,
        raw_outputs=getattr(module, "OUTPUTS", None),
    )


def parse_outputs(raw: Any, where: str) -> dict[str, dict[str, pa.DataType]]:
    """OUTPUTS = {output: {column: 'int64' | 'string' | 'timestamp[us]' | ...}}."""
    if raw is None:
        return {}
    hint = "OUTPUTS looks like {'events': {'ts': 'timestamp[us]', 'level': 'string'}}."
    if not isinstance(raw, dict) or not raw:
        raise ParserInvalid(f"Parser {where}: OUTPUTS must be a non-empty dict of output name -> columns.", hint=hint)
    out: dict[str, dict[str, pa.DataType]] = {}
    for oname, cols in raw.items():
        if not isinstance(oname, str) or not _NAME_RE.match(oname):
            raise ParserInvalid(f"Parser {where}: output name {oname!r} must be letters, digits and _.", hint=hint)
        if not isinstance(cols, dict) or not cols:
            raise ParserInvalid(f"Parser {where}: output {oname!r} must map column names to types.", hint=hint)
        typed: dict[str, pa.DataType] = {}
        for col, alias in cols.items():
            if not isinstance(col, str) or not col or col.startswith("_cf_"):
                raise ParserInvalid(f"Parser {where}: bad column name {col!r} in output {oname!r}.", hint=hint)
            typed[col] = type_from_alias(alias, f"Parser {where}: column {oname}.{col}")
        out[oname] = typed
    return out


def type_from_alias(alias: Any, where: str) -> pa.DataType:
    """The type of a column declaration ('int64', 'int64?' or {'type': ..., 'nullable': ...})."""
    from casparian_tui.contracts.columns import BadColumnType, split_alias

    try:
        alias = split_alias(alias)[0]
    except BadColumnType as exc:
        raise ParserInvalid(f"{where}: {exc}.") from None
    if isinstance(alias, pa.DataType):
        return alias
    try:
        return pa.type_for_alias(str(alias))
    except (ValueError, KeyError):
        raise ParserInvalid(
            f"{where}: unknown type {alias!r}.",
            hint="Use a pyarrow type alias: int64, float64, string, bool, date32, timestamp[us], ...",
        ) from None
