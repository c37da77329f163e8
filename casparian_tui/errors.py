"""Typed errors shared by the services, the CLI and the TUI.

Every error a user can cause or meet carries the exit code the CLI uses for
it and an optional hint, so the CLI can print one clear line instead of a
traceback.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_LOCKED = 3
EXIT_READ_ONLY = 4


class CasparianError(Exception):
    """Base for errors meant to be shown to a user."""

    exit_code = EXIT_ERROR

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(CasparianError):
    exit_code = EXIT_USAGE


class DatabaseError(CasparianError):
    """Something went wrong talking to the database."""


class DatabaseLocked(DatabaseError):
    """Another process holds the database file and did not give it up in time."""

    exit_code = EXIT_LOCKED

    def __init__(self, message: str, hint: str | None = None, holder: dict | None = None):
        super().__init__(message, hint)
        self.holder = holder


class ReadOnlyViolation(DatabaseError):
    """A write was asked for in read-only mode."""

    exit_code = EXIT_READ_ONLY

    def __init__(self, action: str):
        super().__init__(
            f"Refused in read-only mode: cannot {action}.",
            hint="Run without --read-only (and unset CASPARIAN_READONLY) to allow writes.",
        )
        self.action = action


class SchemaTooNew(DatabaseError):
    """The database was written by a newer Casparian; we must not touch it."""


class NotADatabase(DatabaseError):
    """The file exists but is not a database of the selected backend."""


class NoDatabase(DatabaseError):
    """No database file exists and we may not create one (read-only mode)."""


class QueryInterrupted(DatabaseError):
    """A running query was interrupted on request."""


class ActorClosed(DatabaseError):
    """The DB actor shut down before (or while) serving the request."""
