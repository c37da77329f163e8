"""Runs started from the TUI: detached `casparian run` processes, their progress on the status bar.

The progress comes from the run's jobs in the database, read only when the
database's change stamp moved (the app's change check tells us) or when a
run's process has ended (a waitpid, no database). A run outlives the TUI.
"""

from __future__ import annotations

from pathlib import Path

from casparian_tui.errors import CasparianError
from casparian_tui.sentinel import jobs
from casparian_tui.sentinel.launch import BackgroundRun, progress_text, start_run


class RunWatcher:
    def __init__(self, app) -> None:
        self.app = app
        self.runs: list[BackgroundRun] = []
        self.last: tuple[str, str] = ("", "")  # the parser file and tag last started, to offer again
        # One refresh at a time; a change during one asks for another after it
        # (cancelling it instead would lose a finished run's notice).
        self._refreshing = False
        self._again = False

    async def start(self, parser_file: str, tag: str) -> BackgroundRun | None:
        """Start a run of `parser_file` over `tag` in the background; None (and a message) when refused."""
        from casparian_tui.sentinel.plugin import load_parser

        app = self.app
        if app.refuse_in_read_only("start a run"):
            return None
        if not parser_file or not tag:
            app.notify("Give a parser file and a tag first.", severity="warning")
            return None
        try:
            spec = load_parser(parser_file)
            before = await app.db_read(lambda c: jobs.counts(c, parser=spec.name))
            run = start_run(app.db.settings, Path(parser_file), spec.name, tag, before)
        except CasparianError as err:
            app.notify(err.message, severity="error")
            return None
        except OSError as err:
            app.notify(f"Could not start the run: {err}", severity="error")
            return None
        self.runs.append(run)
        self.last = (parser_file, tag)
        app.notify(
            f"Started {spec.name} on tag {tag} as PID {run.pid}, in the background: quitting the TUI does not"
            f" stop it. Progress on the status bar; log {run.log}.",
            title="Run started",
        )
        self._show([(run, before)])
        return run

    def tick(self, changed: bool) -> None:
        """Called by the app's change check: refresh when the database changed or a run ended."""
        if not (self.runs and (changed or any(r.exit_code() is not None for r in self.runs))):
            return
        if self._refreshing:
            self._again = True
            return
        self._refreshing = True
        self.app.run_worker(self._refresh_until_settled(), group="run-progress")

    async def _refresh_until_settled(self) -> None:
        try:
            self._again = True
            while self._again and self.runs:
                self._again = False
                await self.refresh()
        finally:
            self._refreshing = False

    async def refresh(self) -> None:
        shown = []
        for run in list(self.runs):
            code = run.exit_code()  # before the read: a run that ended has written all it will
            counts = await self.app.db_read(lambda c, p=run.parser: jobs.counts(c, parser=p))
            if code is None:
                shown.append((run, counts))
                continue
            self.runs.remove(run)
            how = "finished" if code == 0 else f"ended with exit code {code} (log {run.log})"
            self.app.notify(f"Run {how}: {progress_text(run, counts).removeprefix('run ')}.",
                            title="Run finished", severity="information" if code == 0 else "warning")
        self._show(shown)

    def _show(self, shown: list[tuple[BackgroundRun, dict]]) -> None:
        self.app.run_progress = " · ".join(progress_text(run, counts) for run, counts in shown)
