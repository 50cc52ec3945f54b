"""docs/fhir.md holds the current code table (generated from code_map.yaml)."""

from __future__ import annotations

from pathlib import Path

from her2cds.adapters.fhir.codes import code_table_markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "fhir.md"


def test_code_table_in_docs_is_current() -> None:
    text = DOC.read_text(encoding="utf-8")
    start, end = "<!-- code-table:start -->\n", "<!-- code-table:end -->"
    assert start in text and end in text
    current = text.split(start, 1)[1].split(end, 1)[0]
    assert current == code_table_markdown(), "docs/fhir.md code table is stale: regenerate it (see the page)"
