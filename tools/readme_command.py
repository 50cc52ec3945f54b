"""Print one of the README's two commands: ``quickstart`` (set up and run the embedded example) or ``tests``.

Usage: python tools/readme_command.py tests

The command is the single line of the first ``bash`` fenced block after the README line that introduces it
("## Quick start" / "Run the tests"), so CI runs exactly what the README says.
"""

from __future__ import annotations

import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
MARKERS = {"quickstart": "## Quick start", "tests": "Run the tests"}


def readme_command(which: str, text: str | None = None) -> str:
    """The command the README gives for ``which``; ValueError when the README does not hold exactly one line."""
    lines = (README.read_text(encoding="utf-8") if text is None else text).splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(MARKERS[which])), None)
    if start is None:
        raise ValueError(f"README has no line starting with {MARKERS[which]!r}")
    fence = next((i for i in range(start, len(lines)) if lines[i].strip() == "```bash"), None)
    if fence is None:
        raise ValueError(f"README has no ```bash block after {MARKERS[which]!r}")
    end = next(i for i in range(fence + 1, len(lines)) if lines[i].strip() == "```")
    body = [line for line in lines[fence + 1:end] if line.strip()]
    if len(body) != 1:
        raise ValueError(f"the README's {which} block must be one command line, found {len(body)}")
    return body[0].strip()


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in MARKERS:
        print(f"usage: python tools/readme_command.py {'|'.join(MARKERS)}", file=sys.stderr)
        return 2
    print(readme_command(argv[0]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
