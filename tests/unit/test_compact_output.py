"""Compact output (D14.1, D14.5, D14.9): the default document keeps what the case decided; the fixed text
(indication text, criterion texts, rule sources) is in the knowledge base once, the reasons are in the expanded
form, an option ruled out is its id and the criteria it does not meet, and ``--expand`` / ``expand=therapies``
restore the full document."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from bench.cases import generate

import her2cds
from her2cds import examples
from her2cds.adapters.cli import main
from her2cds.errors import InvalidInputError
from her2cds.model.assessment import Assessment, ExpandedAssessment, TraceEntry, TraceStep
from her2cds.model.therapy import CriterionStatus, TherapyOption, TherapySummary
from tests.golden import load_cases

# the compact option: always these ...
COMPACT_ALWAYS = {"id", "title", "drugs", "eligible", "outcome", "criteria"}
# ... and these only when they hold something (an empty list or null is left out)
COMPACT_WHEN_SET = {"needs", "line_of_therapy", "alternatives", "region_status"}
FULL_ONLY = set(TherapyOption.model_fields) - COMPACT_ALWAYS - COMPACT_WHEN_SET
BREAST = examples.load("breast-her2-low")  # the example with the most therapy options
GOLDEN = [c.case.input for c in load_cases() if c.case.expect is not None]


def _therapies(doc: dict[str, Any]) -> list[dict[str, Any]]:
    therapies = doc["therapies"]
    assert isinstance(therapies, list) and therapies
    return therapies


def compact_of(expanded: dict[str, Any]) -> dict[str, Any]:
    """The documented projection (docs/output.md, D14.5, D14.9) of an expanded document onto the compact one."""
    doc: dict[str, Any] = {}
    for key, value in expanded.items():
        doc[key] = value
        if key == "therapies":
            options, ruled_out = [], {}
            for full in value:
                if full["outcome"] == "not_eligible":  # D14.9: its id and the criteria it does not meet
                    ruled_out[full["id"]] = [c["id"] for c in full["criteria"] if c["result"] == "not_met"]
                    continue
                option = {key: full[key] for key in TherapySummary.model_fields if key in full}
                option["criteria"] = {c["id"]: c["result"] for c in full["criteria"]}
                del option["history_used"]
                options.append({k: v for k, v in option.items() if k not in COMPACT_WHEN_SET or v not in ([], None)})
            doc["therapies"], doc["ruled_out"] = options, ruled_out
    doc["trace"] = [{k: v for k, v in entry.items() if k != "sources" and not (k == "specimen" and v is None)}
                    for entry in expanded["trace"]]
    return doc


def test_default_output_has_compact_therapies_and_trace() -> None:
    doc = json.loads(her2cds.assess(BREAST).model_dump_json())
    for option in _therapies(doc):
        assert COMPACT_ALWAYS <= set(option) <= COMPACT_ALWAYS | COMPACT_WHEN_SET
        assert all(option.get(key) not in ([], None) for key in COMPACT_WHEN_SET & set(option))
        assert isinstance(option["criteria"], dict) and set(option["criteria"].values()) <= {"met", "not_met",
                                                                                             "unknown"}
        assert option["outcome"] in ("eligible", "insufficient_data")  # the ruled-out ones: ruled_out
    assert any("needs" in o for o in doc["therapies"])
    assert doc["ruled_out"] and all(ids and isinstance(ids, list) for ids in doc["ruled_out"].values())
    assert list(doc).index("ruled_out") == list(doc).index("therapies") + 1
    assert {"regulatory", "evidence", "sources", "history_used"} <= FULL_ONLY
    for entry in doc["trace"]:
        assert {"rule", "detail"} <= set(entry) <= {"rule", "detail", "specimen"}
        assert entry.get("specimen", "x") is not None
    assert any("specimen" in e for e in doc["trace"]) and any("specimen" not in e for e in doc["trace"])


def test_expanded_output_keeps_every_full_field_and_the_same_decisions() -> None:
    assessment = her2cds.assess(BREAST)
    compact = json.loads(assessment.model_dump_json())
    full = json.loads(assessment.expanded().model_dump_json())
    rest = set(full) - {"therapies", "trace"}
    assert {k: full[k] for k in rest} == {k: compact[k] for k in rest}
    for long in _therapies(full):
        assert list(long) == list(TherapyOption.model_fields)  # every field, empty ones included, in order
        assert all(set(c) == {"id", "result", "text", "reason"} and c["text"] and c["reason"]
                   for c in long["criteria"])
    for entry in full["trace"]:
        assert list(entry) == ["rule", "sources", "detail", "specimen"]
    assert compact_of(full) == compact


@pytest.mark.slow
def test_compact_is_the_documented_projection_of_expanded_on_golden_and_generated_cases() -> None:
    """Nothing but the documented omissions differ, and the compact document reads back as an Assessment."""
    cases = [*GOLDEN, *generate(150, 1405)]
    checked = with_history = 0
    kinds: Counter[str] = Counter()
    for case in cases:
        try:
            assessment = her2cds.assess(case)
        except InvalidInputError:
            continue
        compact_text = assessment.model_dump_json()
        full = json.loads(assessment.expanded().model_dump_json())
        compact = json.loads(compact_text)
        assert compact_of(full) == compact and list(compact_of(full)) == list(compact)
        assert Assessment.model_validate_json(compact_text).model_dump_json() == compact_text
        checked += 1
        with_history += any(o["history_used"] for o in full["therapies"])
        kinds.update(o["outcome"] for o in full["therapies"])
        # an option ruled out always names a criterion it does not meet; every option is in one place or the other
        assert all(compact["ruled_out"].values())
        assert len(compact["therapies"]) + len(compact["ruled_out"]) == len(full["therapies"])
    assert checked >= 150 and with_history >= 10
    assert min(kinds[k] for k in ("eligible", "insufficient_data", "not_eligible")) >= 20, kinds


def test_criteria_map_keeps_the_indication_order_and_reads_back() -> None:
    assessment = her2cds.assess(BREAST)
    compact = json.loads(assessment.model_dump_json())["therapies"][0]
    option = assessment.expanded().therapies[0]
    assert list(compact["criteria"].items()) == [(c.id, c.result) for c in option.criteria]
    again = TherapySummary.model_validate(compact)
    assert again.criteria == tuple(CriterionStatus(id=c.id, result=c.result) for c in option.criteria)
    assert again.history_used == () and again.needs == option.needs


def test_expanded_is_typed_and_refuses_compact_only_options_and_entries() -> None:
    assessment = her2cds.assess(BREAST)
    assert isinstance(assessment.expanded(), ExpandedAssessment)
    compact_only = TherapySummary(id="x", title="x", drugs=(), eligible=False, outcome="not_eligible",
                                  criteria=(CriterionStatus(id="tumor", result="not_met"),))
    with pytest.raises(TypeError, match="'x'"):
        assessment.model_copy(update={"therapies": [compact_only]}).expanded()
    step = TraceStep(rule="compact-only", detail="d")
    with pytest.raises(TypeError, match="'compact-only'"):
        assessment.model_copy(update={"trace": [step]}).expanded()
    assert all(isinstance(entry, TraceEntry) for entry in assessment.trace)  # what the engine builds


def test_indication_text_is_available_once_from_the_knowledge_base(capsys: pytest.CaptureFixture[str]) -> None:
    option = her2cds.assess(BREAST).expanded().therapies[0]
    assert main(["kb", "show", option.id]) == 0
    entry = json.loads(capsys.readouterr().out)
    assert entry["kind"] == "indication" and entry["id"] == option.id
    assert entry["title"] == option.title and entry["regimen"] == option.regimen
    assert [r["agency"] for r in entry["regulatory"]] == [r.agency for r in option.regulatory]
    texts = {c["id"]: c["text"] for c in entry["criteria"]}  # the criterion texts (tumor and setting: the scope)
    assert texts and all(texts[c.id] == c.text for c in option.criteria if c.id in texts)
    assert set(texts) <= {c.id for c in option.criteria}


def test_rule_sources_are_available_once_from_the_knowledge_base(capsys: pytest.CaptureFixture[str]) -> None:
    entries = her2cds.assess(BREAST).expanded().trace
    for traced in {e.rule: e for e in entries if e.rule.startswith("asco-cap")}.values():
        assert main(["kb", "show", traced.rule]) == 0
        shown = json.loads(capsys.readouterr().out)
        assert shown["id"] == traced.rule
        assert [s["id"] for s in shown["sources"]] == list(traced.sources)


def test_cli_expand_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["assess", "--example", "breast-her2-low"]) == 0
    compact = json.loads(capsys.readouterr().out)
    assert main(["assess", "--example", "breast-her2-low", "--expand"]) == 0
    full = json.loads(capsys.readouterr().out)
    assessment = her2cds.assess(BREAST)
    assert compact == json.loads(assessment.model_dump_json())
    assert full == json.loads(assessment.expanded().model_dump_json())
    assert "regulatory" in _therapies(full)[0] and "regulatory" not in _therapies(compact)[0]
    assert "sources" in full["trace"][0] and "sources" not in compact["trace"][0]


def test_cli_schema_describes_what_is_written(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "output"]) == 0
    compact = json.loads(capsys.readouterr().out)
    assert main(["schema", "output", "--expand"]) == 0
    full = json.loads(capsys.readouterr().out)
    assert compact == Assessment.model_json_schema(mode="serialization")
    assert full == ExpandedAssessment.model_json_schema(mode="serialization")
    summary = compact["$defs"]["TherapySummary"]["properties"]
    assert summary["criteria"]["type"] == "object"
    assert summary["criteria"]["additionalProperties"]["enum"] == ["met", "not_met", "unknown"]
    assert "history_used" not in summary and "sources" not in compact["$defs"]["TraceStep"]["properties"]
    assert "regulatory" in full["$defs"]["TherapyOption"]["properties"]
    assert full["$defs"]["TherapyOption"]["properties"]["criteria"]["type"] == "array"
    assert "sources" in full["$defs"]["TraceEntry"]["required"]
    assert "TherapyOption" not in compact["$defs"]


def test_default_output_is_much_smaller_than_expanded() -> None:
    """The size figure itself is a benchmark (bench/throughput.py); here: the fixed text is what was removed."""
    assessment = her2cds.assess(BREAST)
    compact, full = len(assessment.model_dump_json()), len(assessment.expanded().model_dump_json())
    assert compact * 3 < full, (compact, full)
