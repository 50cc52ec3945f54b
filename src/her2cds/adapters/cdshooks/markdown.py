"""GitHub-flavoured Markdown helpers for card details (values are escaped: they may come from the EHR)."""

from __future__ import annotations

import re

# inline metacharacters only: values are never placed at the start of a line
_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")


def esc(text: object) -> str:
    """Escape Markdown (and HTML) metacharacters in an interpolated value; newlines become spaces."""
    return _SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def code(text: object) -> str:
    """An inline code span (no escaping inside code spans; backticks and newlines removed)."""
    return "`" + " ".join(str(text).replace("`", "'").split()) + "`"


def link(label: str, url: str | None) -> str:
    if not url or not url.startswith(("https://", "http://")):
        return esc(label)
    return f"[{esc(label)}](<{url.replace('>', '%3E').replace(' ', '%20')}>)"


def table(header: list[str], rows: list[list[str]]) -> str:
    """A GFM table; cells must already be escaped."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def bullets(items: list[str]) -> str:
    return "\n".join(f"- {item}" for item in items)


def clip(text: str, limit: int) -> str:
    """``text`` shortened to fewer than ``limit`` characters, ending with an ellipsis when cut."""
    text = " ".join(text.split())
    if len(text) < limit:
        return text
    return text[: limit - 2].rstrip(" ,;:—-") + "…"
