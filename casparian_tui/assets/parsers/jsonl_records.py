"""JSON Lines records: one output row per JSON object line.

Blank lines are skipped. A line that is not a JSON object fails the file
(raise, so the job is retried and then dead-lettered with the line number),
because silently skipping would hide data loss.

    casparian run assets/parsers/jsonl_records.py events/*.jsonl
"""

import json

NAME = "jsonl_records"
VERSION = "1.0"
TAGS = ["jsonl"]


def parse(path):
    rows = []
    with open(path, encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError(f"line {line_no}: expected a JSON object, got {type(record).__name__}")
            rows.append(record)
    return rows
