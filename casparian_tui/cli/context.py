"""What every command handler receives: resolved settings and output choices."""

from __future__ import annotations

import argparse
import shlex
import sys
from dataclasses import dataclass, field

from casparian_tui.config import Settings
from casparian_tui.db import Database


@dataclass
class Context:
    settings: Settings
    json: bool = False
    debug: bool = False
    _db: Database | None = field(default=None, repr=False)

    @classmethod
    def from_args(cls, args: argparse.Namespace, argv: list[str]) -> "Context":
        command = "casparian " + " ".join(shlex.quote(a) for a in argv)
        settings = Settings.resolve(
            db=getattr(args, "db", None),
            backend=getattr(args, "backend", None),
            read_only=True if getattr(args, "read_only", False) else None,
            wait_s=getattr(args, "wait", None),
            command=command.strip()[:200],
        )
        return cls(settings=settings, json=getattr(args, "json", False), debug=getattr(args, "debug", False))

    @property
    def db(self) -> Database:
        if self._db is None:
            self._db = Database(self.settings)
        return self._db

    @property
    def interactive(self) -> bool:
        """Progress bars and prompts only for a person at a terminal."""
        return sys.stdout.isatty() and not self.json

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
