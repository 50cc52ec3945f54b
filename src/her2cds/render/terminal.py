"""Text for a terminal: control characters that came with the case (ids, free-text fields) are shown escaped, so
that a case cannot move the cursor, recolour or rewrite earlier lines, or reorder text with bidi controls."""

from __future__ import annotations

import unicodedata

_KEEP = frozenset("\n\t")


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_controls(text: str) -> str:
    """``text`` with every control (Cc) and format (Cf, e.g. bidi overrides) character except newline and tab
    replaced by a visible escape such as ``\\x1b`` or ``\\u202e``."""
    if text.isprintable() or all(ch in _KEEP or ch.isprintable() for ch in text):
        return text
    return "".join(
        _escape(ch) if ch not in _KEEP and unicodedata.category(ch) in ("Cc", "Cf") else ch for ch in text
    )
