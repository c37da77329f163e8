"""Storing any real file name as database text, exactly and reversibly.

Linux names are bytes and need not be UTF-8, but DuckDB VARCHAR must be
valid UTF-8 and its driver refuses Python's surrogate escapes. So a name is
decoded as UTF-8 with `surrogateescape`, then each undecodable byte (a lone
surrogate U+DC80..U+DCFF) becomes ESC + chr(byte), and a literal ESC is
doubled. ESC is U+F8FF, a private-use character: valid UTF-8, so the stored
text is, and the mapping is injective, so UNIQUE(source, path) never merges
two different files. Valid UTF-8 names (nearly all) are stored unchanged.
"""

from __future__ import annotations

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
