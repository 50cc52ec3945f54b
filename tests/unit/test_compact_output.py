"""Compact therapy output (D14.1): the default document keeps what the case decided; the fixed indication text
is in the knowledge base once, and ``--expand`` / ``expand=therapies`` restore the full document."""

from __future__ import annotations

import json
from typing import Any

import pytest

import her2cds
from her2cds import examples
from her2cds.adapters.cli import main
from her2cds.model.assessment import Assessment, ExpandedAssessment
from her2cds.model.therapy import CriterionStatus, TherapyOption, TherapySummary

COMPACT_KEYS = set(TherapySummary.model_fields)
FULL_ONLY = set(TherapyOption.model_fields) - COMPACT_KEYS
BREAST = examples.load("breast-her2-low")  # the case with the most therapy options


def _therapies(doc: dict[str, Any]) -> list[dict[str, Any]]:
    therapies = doc["therapies"]
    assert isinstance(therapies, list) and therapies
    return therapies


def test_default_output_has_compact_therapies() -> None:
    doc = json.loads(her2cds.assess(BREAST).model_dump_json())
    for option in _therapies(doc):
        assert set(option) == COMPACT_KEYS
        for criterion in option["criteria"]:
            assert set(criterion) == {"id", "result"}
    assert {"regulatory", "evidence", "sources"} <= FULL_ONLY


def test_expanded_output_keeps_every_full_field_and_the_same_decisions() -> None:
    assessment = her2cds.assess(BREAST)
    compact = json.loads(assessment.model_dump_json())
    full = json.loads(assessment.expanded().model_dump_json())
    assert {k: v for k, v in full.items() if k != "therapies"} == {k: v for k, v in compact.items() if k != "therapies"}
    for short, long in zip(_therapies(compact), _therapies(full), strict=True):
        assert set(long) == set(TherapyOption.model_fields)
        same = COMPACT_KEYS - {"criteria"}
        assert {k: long[k] for k in same} == {k: short[k] for k in same}
        assert [{"id": c["id"], "result": c["result"]} for c in long["criteria"]] == short["criteria"]
        assert all(c["text"] and c["reason"] for c in long["criteria"])


def test_expanded_is_typed_and_refuses_compact_only_options() -> None:
    assessment = her2cds.assess(BREAST)
    assert isinstance(assessment.expanded(), ExpandedAssessment)
    compact_only = TherapySummary(id="x", title="x", drugs=(), eligible=False, outcome="not_eligible",
                                  criteria=(CriterionStatus(id="tumor", result="not_met"),))
    stripped = assessment.model_copy(update={"therapies": [compact_only]})
    with pytest.raises(TypeError, match="'x'"):
        stripped.expanded()


def test_indication_text_is_available_once_from_the_knowledge_base(capsys: pytest.CaptureFixture[str]) -> None:
    option = her2cds.assess(BREAST).expanded().therapies[0]
    assert main(["kb", "show", option.id]) == 0
    entry = json.loads(capsys.readouterr().out)
    assert entry["kind"] == "indication" and entry["id"] == option.id
    assert entry["title"] == option.title and entry["regimen"] == option.regimen
    assert [r["agency"] for r in entry["regulatory"]] == [r.agency for r in option.regulatory]


def test_cli_expand_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["assess", "--example", "breast-her2-low"]) == 0
    compact = json.loads(capsys.readouterr().out)
    assert main(["assess", "--example", "breast-her2-low", "--expand"]) == 0
    full = json.loads(capsys.readouterr().out)
    assessment = her2cds.assess(BREAST)
    assert compact == json.loads(assessment.model_dump_json())
    assert full == json.loads(assessment.expanded().model_dump_json())
    assert "regulatory" in _therapies(full)[0] and "regulatory" not in _therapies(compact)[0]


def test_cli_schema_expand(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "output"]) == 0
    compact = json.loads(capsys.readouterr().out)
    assert main(["schema", "output", "--expand"]) == 0
    full = json.loads(capsys.readouterr().out)
    assert compact == Assessment.model_json_schema() and full == ExpandedAssessment.model_json_schema()
    assert "regulatory" in full["$defs"]["TherapyOption"]["properties"]
    assert "TherapyOption" not in compact["$defs"]


def test_default_output_is_much_smaller_than_expanded() -> None:
    """The size figure itself is a benchmark (bench/); here: the fixed text is what was removed."""
    assessment = her2cds.assess(BREAST)
    compact, full = len(assessment.model_dump_json()), len(assessment.expanded().model_dump_json())
    assert compact * 3 < full, (compact, full)
