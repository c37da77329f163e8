"""The pattern preview as the Discover panel shows it."""

from __future__ import annotations

from rich.text import Text

from casparian_tui.scout.preview import Preview


def render_preview(p: Preview) -> Text:
    text = Text()
    text.append(f"{p.count:,} files match ", style="bold")
    text.append(p.pattern)
    if p.by_extension:
        text.append("\nby extension: ", style="dim")
        text.append("  ".join(f"{k or '(none)'} {v:,}" for k, v in list(p.by_extension.items())[:8]))
    if p.by_folder:
        text.append("\nby folder:    ", style="dim")
        text.append("  ".join(f"{k} {v:,}" for k, v in list(p.by_folder.items())[:5]))
    for path in p.sample[:20]:
        text.append("\n  " + path)
    return text
