"""CSV rows: every row of a CSV file with a header line, as one record.

Values stay text (CSV has no types); declare OUTPUTS in your own copy to get
typed columns and quarantine for rows that do not fit. The delimiter is
sniffed from the first line (comma, semicolon, tab or pipe).

    casparian run assets/parsers/csv_rows.py data/*.csv
    casparian run assets/parsers/csv_rows.py --tag csv --json
"""

import csv

NAME = "csv_rows"
VERSION = "1.0"
TAGS = ["csv"]


def parse(path):
    with open(path, newline="", encoding="utf-8", errors="replace") as fh:
        first = fh.readline()
        fh.seek(0)
        delimiter = max(",;\t|", key=first.count) if first else ","
        reader = csv.DictReader(fh, delimiter=delimiter)
        for line_no, row in enumerate(reader, start=2):
            # Short rows give None for missing cells, long rows a None key: keep both visible.
            extra = row.pop(None, None)
            record = {k: ("" if v is None else v) for k, v in row.items() if k}
            if extra:
                record["_extra"] = delimiter.join(extra)
            record["line"] = line_no
            yield record
