"""Regenerate docs/codes.md from the knowledge base (recommendation and flag codes).

Usage: python tools/gen_docs.py            (writes docs/codes.md)
       python tools/gen_docs.py --check    (exit 1 if docs/codes.md is out of date; used by the tests)
"""

from __future__ import annotations

import sys
from pathlib import Path

from her2cds.knowledge.loader import load_knowledge_base

DOC = Path(__file__).resolve().parents[1] / "docs" / "codes.md"


def render() -> str:
    kb = load_knowledge_base()
    lines = ["# Recommendation and flag codes", "",
             "Generated from `src/her2cds/knowledge/data/codes.yaml` by `python tools/gen_docs.py`; do not edit.",
             ""]
    for kind, title in (("recommendation_code", "Recommendations"), ("flag_code", "Flags")):
        lines += [f"## {title}", "", "| code | meaning | sources | status |", "|---|---|---|---|"]
        for code in sorted((c for c in kb.codes.values() if c.kind == kind), key=lambda c: c.code):
            refs = ", ".join(f"{r.id}" + (f" ({r.locator})" if r.locator else "") for r in code.sources)
            lines.append(f"| `{code.code}` | {code.text} | {refs} | {code.status} |")
        lines.append("")
    return "\n".join(lines)


def main() -> int:
    text = render()
    if "--check" in sys.argv:
        return 0 if DOC.exists() and DOC.read_text(encoding="utf-8") == text else 1
    DOC.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
