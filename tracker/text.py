"""Text helpers every stage may use (stdlib only)."""

from __future__ import annotations


def valid_text(text: str) -> str:
    """Text SQLite and every encoder accept: lone surrogates (from hostile JSON or numeric
    character references) become U+FFFD."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)
    return text
