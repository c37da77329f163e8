"""Enter on a file in Discover: its full path, size, times, tags and why, jobs and outputs."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from casparian_tui.scout.file_detail import FileDetail
from casparian_tui.tui.widgets.format import human_time
from casparian_tui.tui.widgets.status_bar import short_path
from casparian_tui.units import human_bytes


def render_detail(d: FileDetail) -> Text:
    text = Text()
    text.append(short_path(d.path) + "\n", style="bold")
    text.append(f"source {d.source} · {d.rel_path}\n\n", style="dim")

    def field(label: str, value: str) -> None:
        text.append(f"  {label:<12}", style="bold")
        text.append(value + "\n")

    field("size", f"{human_bytes(d.size)} ({d.size:,} bytes)")
    field("modified", human_time(d.mtime))
    field("first seen", human_time(d.first_seen_at) or "-")
    field("last seen", human_time(d.last_seen_at) or "-")
    if d.deleted_at:
        field("deleted", human_time(d.deleted_at))
    if d.content_hash:
        field("hash", d.content_hash)
    field("status", d.status)

    text.append("\nTags\n", style="bold")
    if not d.tags:
        text.append("  none\n", style="dim")
    for t in d.tags:
        text.append(f"  {t.tag}", style="bold")
        if t.source == "manual":
            text.append("  tagged by hand\n")
        else:
            name = f" ({t.rule_name})" if t.rule_name else ""
            text.append(f"  rule {t.rule_id}{name}: {t.rule_pattern}\n")
    for tag in d.untags:
        text.append(f"  {tag}", style="strike dim")
        text.append("  removed by hand: rules do not give it back\n", style="dim")

    text.append("\nJobs\n", style="bold")
    if not d.jobs:
        text.append("  none yet\n", style="dim")
    for j in d.jobs:
        text.append(f"  #{j.id} {j.parser} {j.version}  ", style="bold")
        text.append(f"{j.status.lower()}  attempts {j.attempts}/{j.max_attempts}")
        if j.finished_at:
            text.append(f"  {human_time(j.finished_at)}")
        if j.rows_out is not None:
            text.append(f"  {j.rows_out:,} rows")
        if j.rows_quarantined:
            text.append(f", {j.rows_quarantined:,} quarantined")
        text.append("\n")
        for path in j.outputs:
            text.append(f"      → {path}\n", style="dim")
        if j.error:
            text.append(f"      {j.error.splitlines()[0] if j.error.strip() else j.error}\n", style="red")
    text.append("\nEsc closes.", style="dim")
    return text


class FileDetailScreen(ModalScreen[None]):
    BINDINGS = [("escape", "dismiss", "Close"), ("enter", "dismiss", "Close")]

    def __init__(self, detail: FileDetail):
        super().__init__()
        self.detail = detail

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="file-detail-box"):
            yield Static(render_detail(self.detail), id="file-detail-text")
