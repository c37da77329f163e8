"""The last queries run, kept in the home folder (one JSON object per line)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

MAX_ENTRIES = 500
FILE_NAME = "query_history.jsonl"


class QueryHistory:
    def __init__(self, home: Path, limit: int = MAX_ENTRIES):
        self.path = Path(home) / FILE_NAME
        self.limit = limit
        self.entries: list[str] = self._load()

    def _load(self) -> list[str]:
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except OSError:
            return []
        entries = []
        for line in lines:
            try:
                sql = json.loads(line).get("sql")
            except (ValueError, AttributeError):
                continue  # a torn line from a crash: skip it
            if isinstance(sql, str) and sql.strip():
                entries.append(sql)
        return entries[-self.limit:]

    def add(self, sql: str) -> None:
        """Remember `sql` as the newest entry (an older copy of it moves up)."""
        sql = sql.strip()
        if not sql:
            return
        if sql in self.entries:
            self.entries.remove(sql)
        self.entries.append(sql)
        del self.entries[: -self.limit]
        self._save()

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{FILE_NAME}.{os.getpid()}.tmp")
        now = int(time.time())
        tmp.write_text("".join(json.dumps({"sql": s, "at": now}) + "\n" for s in self.entries), encoding="utf-8")
        os.replace(tmp, self.path)

    def newest_first(self) -> list[str]:
        return list(reversed(self.entries))
