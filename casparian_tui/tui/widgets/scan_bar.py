"""The scan progress bar: it moves only while a scan runs.

An indeterminate ProgressBar animates 15 times a second, hidden or not, on
every screen, which was a quarter of an idle TUI's CPU; between scans this
bar is full and still.
"""

from __future__ import annotations

from textual.widgets import ProgressBar


class ScanBar(ProgressBar):
    def __init__(self, **kwargs) -> None:
        super().__init__(total=1, show_eta=False, show_percentage=False, **kwargs)

    def scanning(self) -> None:
        self.update(total=None)

    def done(self) -> None:
        self.update(total=1, progress=1)
        self.display = False
