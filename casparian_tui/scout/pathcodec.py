"""Storing any real file name as database text, exactly and reversibly.

Linux names are bytes and need not be UTF-8, but DuckDB VARCHAR must be
valid UTF-8 and its driver refuses Python's surrogate escapes. So a name is
decoded as UTF-8 with `surrogateescape`, then each undecodable byte (a lone
surrogate U+DC80..U+DCFF) becomes ESC + chr(byte), and a literal ESC is
doubled. ESC is U+F8FF, a private-use character: valid UTF-8, so the stored
text is, and the mapping is injective, so UNIQUE(source, path) never merges
two different files. Valid UTF-8 names (nearly all) are stored unchanged.

Shown to people, a name is `display_name` (\\xNN, escaped controls); in
`--json` it is the exact name (`json_path`): a JSON string when the name is
valid UTF-8, else, as ripgrep does, `{"bytes": "<base64 of the exact bytes>"}`.
Services hand out a `ShownPath`, the display text that remembers its stored
form, so tables and JSON each take the form they need.
"""

from __future__ import annotations

import base64
import os

ESC = "\uf8ff"


def encode_name(raw: str | bytes) -> str:
    """Database text for a name or path as the OS gave it (str from os APIs, or bytes)."""
    text = os.fsdecode(raw) if isinstance(raw, bytes) else raw
    if ESC not in text and text.isascii():
        return text
    out = []
    for ch in text:
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:
            out.append(ESC + chr(code - 0xDC00))
        elif ch == ESC:
            out.append(ESC + ESC)
        else:
            out.append(ch)
    return "".join(out)


def decode_name(stored: str) -> str:
    """The OS-level str (surrogate-escaped where needed) for stored text."""
    if ESC not in stored:
        return stored
    out = []
    i = 0
    while i < len(stored):
        ch = stored[i]
        if ch == ESC and i + 1 < len(stored):
            nxt = stored[i + 1]
            out.append(ESC if nxt == ESC else chr(0xDC00 + ord(nxt)))
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def to_bytes(stored: str) -> bytes:
    return os.fsencode(decode_name(stored))


def display_name(stored: str) -> str:
    """A printable form: undecodable bytes as \\xNN, control characters escaped."""
    text = stored
    if ESC in text:
        out = []
        i = 0
        while i < len(text):
            ch = text[i]
            if ch == ESC and i + 1 < len(text):
                nxt = text[i + 1]
                out.append(ESC if nxt == ESC else f"\\x{ord(nxt):02x}")
                i += 2
            else:
                out.append(ch)
                i += 1
        text = "".join(out)
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def json_path(stored: str) -> str | dict:
    """The exact name for JSON: its text if valid UTF-8, else {"bytes": base64}."""
    text = decode_name(stored)
    if ESC not in stored:
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return {"bytes": base64.b64encode(os.fsencode(text)).decode("ascii")}
    return text


class ShownPath(str):
    """A name's display text (`display_name`) that keeps its stored form in `.stored`."""

    def __new__(cls, stored: str) -> "ShownPath":
        obj = super().__new__(cls, display_name(stored))
        obj.stored = stored
        return obj

    def __reduce__(self):
        return (ShownPath, (self.stored,))


def shown_path(stored: str) -> ShownPath:
    return ShownPath(stored)
