"""SQL text in an editor: which statement is under the cursor."""

from __future__ import annotations


def statement_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of the `;`-separated statements, ignoring `;` in quotes and comments."""
    spans, start, i, n = [], 0, 0, len(text)
    while i < n:
        c = text[i]
        if c in ("'", '"'):
            j = i + 1
            while j < n:
                if text[j] == c:
                    if j + 1 < n and text[j + 1] == c:  # a doubled quote stays inside
                        j += 2
                        continue
                    break
                j += 1
            i = j + 1
            continue
        if text.startswith("--", i):
            j = text.find("\n", i)
            i = n if j < 0 else j + 1
            continue
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
            continue
        if c == ";":
            spans.append((start, i))
            start = i + 1
        i += 1
    spans.append((start, n))
    return spans


def statement_at(text: str, offset: int) -> str:
    """The statement the cursor at `offset` is in; after the last `;`, the one before it."""
    spans = [(s, e) for s, e in statement_spans(text) if text[s:e].strip()]
    if not spans:
        return ""
    for s, e in spans:
        if offset <= e:
            return text[s:e].strip()
    s, e = spans[-1]
    return text[s:e].strip()
