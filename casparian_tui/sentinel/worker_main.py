"""The body of one worker process: import the parser once, then parse job after job.

Workers never open the database. They receive jobs on a pipe, parse, shape
and buffer the rows, and now and then write the buffer to temporary part
files; the coordinator (the parent) completes the jobs and publishes the
parts. Messages (tuples, first item the kind):

  parent -> worker: ("job", job dict) | ("flush",) | ("stop",)
  worker -> parent: ("ready", pid) | ("load_error", message)
                    ("done", result dict, flush or None)
                    ("flushed", flush)
  flush = {"parts": [Part...], "jobs": {job id: [output names]}} or {"error": text, "jobs": ...}
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import signal
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from casparian_tui.contracts.columns import nullable_columns
from casparian_tui.contracts.policy import quarantine_limit
from casparian_tui.errors import UsageError
from casparian_tui.outputs.parquet import PartBuffer
from casparian_tui.outputs.shape import ShapeError, add_lineage, quarantine_table, shape, split_outputs
from casparian_tui.scout.pathcodec import ESC, to_bytes
from casparian_tui.sentinel.hosts import host_name
from casparian_tui.sentinel.lifeline import die_with_coordinator, die_with_parent
from casparian_tui.sentinel.plugin import ParserInvalid, TransientError, load_parser, type_from_alias
from casparian_tui.sentinel.queue import MAX_STORED_TEXT, cap_text

OUTPUT_TAIL_BYTES = 8 * 1024  # of what a parser printed, kept with its job


@dataclass
class WorkerConfig:
    parser_path: str
    fingerprint: str
    output_root: str
    run_token: str
    schemas: dict[str, dict[str, str]] = field(default_factory=dict)  # output -> column -> type alias
    quarantine_max: float | None = None  # share of quarantined rows that fails a job; None: contracts.policy
    flush_rows: int = 250_000
    flush_bytes: int = 64 << 20
    flush_jobs: int = 2_000
    flush_s: float = 2.0
    dry_run: bool = False  # a backtest: parse and check, write nothing, report the observed schema


def worker_main(conn, cfg: WorkerConfig) -> None:
    # Ctrl+C in the terminal reaches the whole process group: the coordinator
    # decides what happens, workers just keep still until told or killed.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent()
    die_with_coordinator(conn.fileno())
    output = OutputCapture()
    try:
        spec = load_parser(cfg.parser_path)
        if spec.fingerprint != cfg.fingerprint:
            raise ParserInvalid(f"Parser file {cfg.parser_path} changed after the run started.")
        quarantine_max = quarantine_limit(spec, cfg.quarantine_max)
    except (ParserInvalid, UsageError) as exc:
        conn.send(("load_error", exc.message))
        return
    schemas = {
        out: {col: type_from_alias(t, f"{out}.{col}") for col, t in cols.items()} for out, cols in cfg.schemas.items()
    }
    nullable = {out: nullable_columns(cols) for out, cols in cfg.schemas.items()}
    state = _State(PartBuffer(Path(cfg.output_root), spec.name, spec.version, token=cfg.run_token))
    conn.send(("ready", os.getpid()))
    while True:
        try:
            msg = conn.recv()
        except EOFError:
            return  # the coordinator is gone
        kind = msg[0]
        if kind == "stop":
            return
        if kind == "flush":
            conn.send(("flushed", state.flush()))
            continue
        output.reset()
        result = run_job(spec, schemas, msg[1], state, quarantine_max, cfg.dry_run, nullable)
        result["output_tail"] = output.tail()
        flush = state.flush() if state.due(cfg) else None
        conn.send(("done", result, flush))


class OutputCapture:
    """The worker's stdout and stderr, at the file-descriptor level, go to an unlinked temporary file.

    The parent's stdout is for its own output (`run --json`): whatever a
    parser prints, from Python, C code or a child process, lands here
    instead, is emptied before each job and its tail returned after it.
    """

    def __init__(self):
        self._file = tempfile.TemporaryFile()
        self._fd = self._file.fileno()
        _flush_std()
        os.dup2(self._fd, 1)
        os.dup2(self._fd, 2)

    def reset(self) -> None:
        _flush_std()
        os.ftruncate(self._fd, 0)
        os.lseek(self._fd, 0, os.SEEK_SET)

    def tail(self) -> str | None:
        _flush_std()
        size = os.fstat(self._fd).st_size
        if not size:
            return None
        start = max(size - OUTPUT_TAIL_BYTES, 0)
        text = os.pread(self._fd, OUTPUT_TAIL_BYTES, start).decode("utf-8", errors="replace")
        return f"… [first {start:,} bytes not kept]\n{text}" if start else text


def _flush_std() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass


@dataclass
class _State:
    buffer: PartBuffer
    jobs: dict[int, list[str]] = field(default_factory=dict)  # buffered job id -> outputs it wrote to
    first_at: float = 0.0

    def due(self, cfg: WorkerConfig) -> bool:
        b = self.buffer
        return bool(self.jobs) and (
            b.rows >= cfg.flush_rows
            or b.nbytes >= cfg.flush_bytes
            or len(self.jobs) >= cfg.flush_jobs
            or time.monotonic() - self.first_at >= cfg.flush_s
        )

    def flush(self) -> dict | None:
        if not self.jobs:
            return None
        jobs, self.jobs = self.jobs, {}
        try:
            parts = self.buffer.write(min(jobs))
        except Exception as exc:  # disk full, permissions: these jobs failed, the worker goes on
            return {"error": f"writing Parquet failed on host {host_name()}: {type(exc).__name__}: {exc}", "jobs": jobs}
        return {"parts": parts, "jobs": jobs}


def run_job(spec, schemas: dict, job: dict, state: _State, quarantine_max: float, dry_run: bool = False,
            nullable: dict | None = None) -> dict:
    """Parse one file into the buffer (or nowhere, for a dry run); the result says how it went."""
    started = time.perf_counter()
    result = {"id": job["id"], "ok": False, "rows": 0, "quarantined": 0, "error": None, "traceback": None,
              "permanent": False}
    try:
        try:
            source_hash = _hash_file(job["path"])
        except OSError as exc:
            # Several hosts share one queue: say which one could not see the file
            # (attempts are counted; another host may succeed, else a dead letter).
            result.update(error=f"host {host_name()} cannot read {job['path']}: {exc.strerror or exc}")
            return result
        outputs = split_outputs(spec.parse(job["path"]), spec.output_names)
        shaped = {name: shape(data, schemas.get(name), (nullable or {}).get(name, frozenset()))
                  for name, data in outputs.items()}
        good = sum(s.good.num_rows for s in shaped.values())
        bad = sum(len(s.bad) for s in shaped.values())
        if bad and bad > quarantine_max * (good + bad):
            result.update(permanent=True, error=_policy_message(shaped, bad, good + bad, quarantine_max))
            return result
        if dry_run:
            result.update(ok=True, rows=good, quarantined=bad, schema={name: s.good.schema for name, s in shaped.items()})
            return result
        lineage = {
            "_cf_source_path": job["source_path"],
            "_cf_source_path_bytes": to_bytes(job["source_path"]) if ESC in job["source_path"] else None,
            "_cf_source_hash": source_hash,
            "_cf_job_id": job["id"],
            "_cf_parser_version": spec.version,
            "_cf_processed_at": dt.datetime.now(dt.timezone.utc),
            "_cf_host": host_name(),
        }
        written = []
        for name, s in shaped.items():
            if s.good.num_rows:
                state.buffer.add(name, add_lineage(s.good, lineage))
                written.append(name)
            if s.bad:
                state.buffer.add(f"{name}_quarantine", add_lineage(quarantine_table(s.bad), lineage))
                written.append(f"{name}_quarantine")
        if not state.jobs:
            state.first_at = time.monotonic()
        state.jobs[job["id"]] = written
        result.update(ok=True, rows=good, quarantined=bad)
    except TransientError as exc:
        result.update(error=f"TransientError: {exc}", traceback=traceback.format_exc())
    except ShapeError as exc:
        result.update(error=f"parse() output does not fit: {exc}", permanent=True)
    except Exception as exc:
        result.update(error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc(),
                      permanent=isinstance(exc, _PERMANENT))
    finally:
        # A 200 MB message must not cross the pipe, nor be stored twice.
        result["error"] = cap_text(result["error"], MAX_STORED_TEXT)
        result["traceback"] = cap_text(result["traceback"], MAX_STORED_TEXT)
        result["duration_ms"] = (time.perf_counter() - started) * 1000
    return result


# Failures rerunning the same parser on the same bytes cannot fix.
_PERMANENT = (OverflowError,)


def _policy_message(shaped: dict, bad: int, total: int, limit: float) -> str:
    reasons: dict[str, int] = {}
    for name, s in shaped.items():
        for _, reason in s.bad:
            reasons[f"{name}: {reason.split(':', 1)[0]}"] = reasons.get(f"{name}: {reason.split(':', 1)[0]}", 0) + 1
    top = "; ".join(f"{r} ({n} rows)" for r, n in sorted(reasons.items(), key=lambda kv: -kv[1])[:5])
    return f"{bad} of {total} rows ({bad / total:.0%}) violate the contract, over the {limit:.0%} limit: {top}"


def _hash_file(path: str) -> str:
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()
