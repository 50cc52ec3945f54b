"""Compact output (D14.1, D14.5, D14.9, D14.11): the default document keeps what the case decided; the fixed
text (indication text, criterion texts, rule texts and sources, recommendation and flag texts) is in the
knowledge base once, the reasons are in the expanded form, an option ruled out is its id and the criteria it does
not meet, and ``--expand`` / ``expand=therapies`` restore the full document."""

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
from her2cds.knowledge.loader import default_knowledge_base
from her2cds.model.assessment import Assessment, ExpandedAssessment, TraceEntry, TraceStep
from her2cds.model.therapy import CriterionStatus, TherapyOption, TherapySummary
from her2cds.rules.collector import case_values
from tests.golden import load_cases

# the compact option: always these ...
COMPACT_ALWAYS = {"id", "title", "drugs", "eligible", "outcome", "criteria"}
# ... and these only when they hold something (an empty list or null is left out)
COMPACT_WHEN_SET = {"needs", "line_of_therapy", "alternatives", "region_status"}
FULL_ONLY = set(TherapyOption.model_fields) - COMPACT_ALWAYS - COMPACT_WHEN_SET
BREAST = examples.load("breast-her2-low")  # the example with the most therapy options
GOLDEN = [c.case.input for c in load_cases() if c.case.expect is not None]
# the trace entry of a tumor's family: its detail is the lineage, family and scoring system (kb show CODE)
FAMILY_RULES = {"her2cds.tumor.family-specific", "her2cds.tumor.family-gastric-criteria"}


def _fixed_texts() -> tuple[dict[str, str], dict[str, str]]:
    """The knowledge base's fixed texts: of each rule and testing indication by id; of each code."""
    kb = default_knowledge_base()
    rules = {rule.id: rule.text for rule in kb.rules.values()} | {t.id: t.text for t in kb.testing}
    return rules, {entry.code: entry.text for entry in kb.codes.values()}


def _adds(text: str, detail: str) -> str | None:
    """What the case adds to a fixed text (D14.11): nothing, the rest after ``text + " "``, or all of it."""
    if detail == text:
        return None
    return detail[len(text) + 1:] if detail.startswith(text + " ") else detail


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
    rules, codes = _fixed_texts()
    doc["trace"] = []
    for entry in expanded["trace"]:
        values = None if entry["rule"] in FAMILY_RULES else _adds(rules[entry["rule"]], entry["detail"])
        doc["trace"].append({"rule": entry["rule"], **({"values": values} if values is not None else {}),
                             **({"specimen": entry["specimen"]} if entry["specimen"] is not None else {})})
    doc["recommendations"] = [{"code": r["code"], **_detail(codes[r["code"]], r["text"]), "specimen": r["specimen"]}
                              for r in expanded["recommendations"]]
    doc["flags"] = [{"code": f["code"], **_detail(codes[f["code"]], f["text"]), "specimens": f["specimens"]}
                    for f in expanded["flags"]]
    return doc


def _detail(text: str, full: str) -> dict[str, str]:
    detail = _adds(text, full)
    return {} if detail is None else {"detail": detail}


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
        assert {"rule"} <= set(entry) <= {"rule", "values", "specimen"}
        assert entry.get("specimen", "x") is not None and entry.get("values", "x")
    assert any("specimen" in e for e in doc["trace"]) and any("specimen" not in e for e in doc["trace"])
    assert any("values" in e for e in doc["trace"]) and any("values" not in e for e in doc["trace"])
    for item in doc["recommendations"] + doc["flags"]:
        assert "text" not in item and "sources" not in item and item.get("detail", "x")


def test_expanded_output_keeps_every_full_field_and_the_same_decisions() -> None:
    assessment = her2cds.assess(BREAST)
    compact = json.loads(assessment.model_dump_json())
    full = json.loads(assessment.expanded().model_dump_json())
    rest = set(full) - {"therapies", "trace", "recommendations", "flags"}
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
    assert set(compact["$defs"]["TraceStep"]["properties"]) == {"rule", "values", "specimen"}
    assert set(compact["$defs"]["RecommendationStep"]["properties"]) == {"code", "detail", "specimen"}
    assert set(compact["$defs"]["FlagStep"]["properties"]) == {"code", "detail", "specimens"}
    assert {"text", "sources"} <= set(full["$defs"]["Recommendation"]["required"] + ["sources"])
    assert "ruled_out" in compact["properties"] and "ruled_out" not in full["properties"]
    assert "regulatory" in full["$defs"]["TherapyOption"]["properties"]
    assert full["$defs"]["TherapyOption"]["properties"]["criteria"]["type"] == "array"
    assert "sources" in full["$defs"]["TraceEntry"]["required"]
    assert "TherapyOption" not in compact["$defs"]


def test_default_output_is_much_smaller_than_expanded() -> None:
    """The size figure itself is a benchmark (bench/throughput.py); here: the fixed text is what was removed."""
    assessment = her2cds.assess(BREAST)
    compact, full = len(assessment.model_dump_json()), len(assessment.expanded().model_dump_json())
    assert compact * 3 < full, (compact, full)


def test_case_values_is_what_a_detail_adds_to_its_fixed_text() -> None:
    text = "Group 5: ISH negative."
    assert case_values(text, None) is None and case_values(text, "") is None and case_values(text, text) is None
    assert case_values(text, f"{text} (ratio 1.22)") == "(ratio 1.22)"
    assert case_values(text, f"{text}(ratio 1.22)") == f"{text}(ratio 1.22)"  # no space: not the text + values
    assert case_values(text, "Category HER2-low from specimen S1.") == "Category HER2-low from specimen S1."


def test_rule_and_code_texts_plus_the_case_values_give_the_expanded_texts(
        capsys: pytest.CaptureFixture[str]) -> None:
    """What the compact trace, recommendations and flags leave out is the knowledge base's text (kb show)."""
    case = examples.load("gastric-her2-positive")
    assessment = her2cds.assess(case)
    compact = json.loads(assessment.model_dump_json())
    full = json.loads(assessment.expanded().model_dump_json())

    def shown(entry_id: str) -> dict[str, Any]:
        assert main(["kb", "show", entry_id]) == 0
        data: dict[str, Any] = json.loads(capsys.readouterr().out)
        return data

    def joined(text: str, adds: str | None) -> str:
        return text if adds is None else f"{text} {adds}"

    with_values = 0
    for short, long in zip(compact["trace"], full["trace"], strict=True):
        if short["rule"] in FAMILY_RULES:  # the lineage, family and scoring system of the tumor code
            tumor = shown(compact["tumor"]["oncotree_code"])
            assert "values" not in short
            assert long["detail"] == (f"{tumor['oncotree_code']} ({' > '.join(reversed(tumor['lineage']))}) -> "
                                      f"{tumor['family']['name']}: {tumor['family']['text']} "
                                      f"Scoring system: {tumor['scoring_system']['name']}.")
            continue
        text = shown(short["rule"])["text"]
        values = short.get("values")
        with_values += values is not None
        assert long["detail"] in (joined(text, values), values)
    assert with_values >= 1
    codes = default_knowledge_base().codes
    for short, long in [*zip(compact["recommendations"], full["recommendations"], strict=True),
                        *zip(compact["flags"], full["flags"], strict=True)]:
        entry = shown(codes[short["code"]].id)
        assert long["text"] == joined(entry["text"], short.get("detail"))
        if "sources" in long:  # a recommendation's sources are its code's
            assert long["sources"] == [s["id"] for s in entry["sources"]]
    assert compact["recommendations"] and compact["flags"]


def test_text_output_still_shows_the_full_texts(capsys: pytest.CaptureFixture[str]) -> None:
    """`--format text` reads the engine's full objects, not the compact document: every trace detail, flag and
    recommendation text and the titles of the options it lists are shown."""
    assert main(["assess", "--example", "breast-her2-low", "--format", "text"]) == 0
    shown = " ".join(capsys.readouterr().out.split())  # the text output wraps long lines
    full = her2cds.assess(BREAST).expanded()

    def words(text: str) -> str:
        return " ".join(text.split())

    assert full.trace and all(words(entry.detail) in shown for entry in full.trace)
    assert full.flags and all(words(flag.text) in shown for flag in full.flags)
    assert all(words(rec.text) in shown for rec in full.recommendations)
    undecided = [o for o in full.therapies if o.outcome == "insufficient_data"]
    assert undecided and all(words(o.title) in shown for o in undecided)
    assert "ruled_out" in shown
