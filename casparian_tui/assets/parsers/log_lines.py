"""Log lines: `2024-05-01 12:00:00,123 LEVEL [component] message` into typed columns.

Shows a declared contract: OUTPUTS gives each column a pyarrow type. A line
that does not match the pattern is still returned, without a timestamp, so
it lands in `log_lines_quarantine` with the reason instead of vanishing; a
file where more than 10 % of lines are like that fails as a whole.
Lines starting with whitespace (stack traces) continue the previous message.

    casparian run assets/parsers/log_lines.py --tag logs
"""

import re
from datetime import datetime

from casparian_tui.sentinel import TransientError

NAME = "log_lines"
VERSION = "1.0"
TAGS = ["logs"]
OUTPUTS = {
    "log_lines": {
        "ts": "timestamp[us]",
        "level": "string",
        "component": "string",
        "message": "string",
        "line": "int64",
    }
}

LINE = re.compile(
    r"^(?P<ts>\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[.,]\d{1,6})?)\s+"
    r"(?P<level>[A-Z]+)\s+(?:\[(?P<component>[^\]]*)\]\s*)?(?P<message>.*)$"
)


def parse(path):
    rows = []
    try:
        fh = open(path, encoding="utf-8", errors="replace")
    except PermissionError as exc:  # e.g. a log still held by its writer: worth a retry
        raise TransientError(str(exc)) from exc
    with fh:
        for line_no, text in enumerate(fh, start=1):
            text = text.rstrip("\n")
            if not text:
                continue
            if text[0].isspace() and rows and rows[-1].get("ts"):
                rows[-1]["message"] += "\n" + text.strip()
                continue
            m = LINE.match(text)
            if not m:
                rows.append({"message": text, "line": line_no})  # no ts: quarantined
                continue
            ts = m["ts"].replace(",", ".").replace("T", " ")
            rows.append({
                "ts": datetime.fromisoformat(ts),
                "level": m["level"],
                "component": m["component"] or "",
                "message": m["message"],
                "line": line_no,
            })
    return rows
