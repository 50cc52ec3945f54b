"""Golden cases: every file under tests/cases is run through her2cds.assess and checked."""

from __future__ import annotations

import pytest

import her2cds
from her2cds.errors import InvalidInputError
from her2cds.knowledge.loader import default_knowledge_base
from tests.golden import Loaded, load_cases, subset_mismatches

CASES = list(load_cases())


def test_there_are_golden_cases() -> None:
    assert len(CASES) >= 40


def test_golden_case_ids_are_unique() -> None:
    ids = [c.case.id for c in CASES]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})


@pytest.mark.parametrize("loaded", CASES, ids=[c.case.id for c in CASES])
def test_golden_case(loaded: Loaded) -> None:
    case = loaded.case
    kb = default_knowledge_base()
    for citation in case.sources:
        assert citation.id in kb.sources, f"{case.id}: cites unknown source {citation.id}"
    if case.expect_error is not None:
        assert case.expect is None, "a case expects either a result or an error"
        with pytest.raises(InvalidInputError) as info:
            her2cds.assess(case.input)
        fields = [p.field for p in info.value.problems]
        assert case.expect_error.field in fields, f"error fields {fields}"
        if case.expect_error.message_contains:
            assert case.expect_error.message_contains in str(info.value)
        return
    assert case.expect is not None, f"{case.id}: no expectation"
    exp = case.expect
    assessment = her2cds.assess(case.input)
    out = assessment.model_dump(mode="json")
    # every option with every field: the compact document lists a ruled-out option by id and criteria not met
    # only (D14.9); test_compact_output checks on these cases that the compact document is that projection
    options = assessment.expanded().model_dump(mode="json")["therapies"]
    problems = subset_mismatches(exp.her2, out["her2"], "her2")
    if exp.specimens is not None:
        if len(exp.specimens) != len(out["specimens"]):
            problems.append(f"specimens: expected {len(exp.specimens)}, got {len(out['specimens'])}")
        for i, (want, got) in enumerate(zip(exp.specimens, out["specimens"], strict=False)):
            problems += subset_mismatches(want, got, f"specimens[{i}]")
    if exp.criteria is not None:
        if out["criteria"] is None:
            problems.append("criteria: expected a re-reading, got none")
        else:
            problems += subset_mismatches(exp.criteria, out["criteria"], "criteria")
    fired = {entry["rule"] for entry in out["trace"]}
    problems += [f"rule {r} did not fire" for r in exp.rules if r not in fired]
    problems += [f"rule {r} fired but must not" for r in exp.rules_absent if r in fired]
    flags = sorted(f["code"] for f in out["flags"])
    if exp.flags is not None and flags != sorted(exp.flags):
        problems.append(f"flags: expected {sorted(exp.flags)}, got {flags}")
    problems += [f"flag {f} missing" for f in exp.flags_include if f not in flags]
    recs = sorted(r["code"] for r in out["recommendations"])
    if exp.recommendations is not None and recs != sorted(exp.recommendations):
        problems.append(f"recommendations: expected {sorted(exp.recommendations)}, got {recs}")
    problems += [f"recommendation {r} missing" for r in exp.recommendations_include if r not in recs]
    problems += [f"recommendation {r} present but must not be" for r in exp.recommendations_absent if r in recs]
    for want in exp.therapies or []:
        got = next((t for t in options if t["id"] == want["id"]), None)
        if got is None:
            problems.append(f"therapy {want['id']} missing")
            continue
        for key, value in want.items():
            if key == "criteria":
                results = {c["id"]: c["result"] for c in got["criteria"]}
                problems += [f"therapy {want['id']} criterion {cid}: expected {res}, got {results.get(cid)}"
                             for cid, res in value.items() if results.get(cid) != res]
            elif key != "id" and got.get(key) != value:
                problems.append(f"therapy {want['id']}.{key}: expected {value!r}, got {got.get(key)!r}")
    warned = {w["code"] for w in out["warnings"]}
    problems += [f"warning {w} missing" for w in exp.warnings_include if w not in warned]
    problems += [f"warning {w} present but must not be" for w in exp.warnings_absent if w in warned]
    assert not problems, f"{case.id} ({loaded.path.name}):\n  " + "\n  ".join(problems)


def _rule_ids_needing_cases() -> set[str]:
    kb = default_knowledge_base()
    return set(kb.rules) | {t.id for t in kb.testing}


def test_every_rule_has_a_golden_case() -> None:
    """The completeness meta-test: a rule that no golden case expects to fire fails the suite."""
    covered = {rule for c in CASES if c.case.expect is not None for rule in c.case.expect.rules}
    missing = sorted(_rule_ids_needing_cases() - covered)
    assert not missing, f"{len(missing)} rule(s) without a golden case: {missing}"


def test_golden_cases_only_name_known_rules() -> None:
    known = _rule_ids_needing_cases()
    named = {
        rule for c in CASES if c.case.expect is not None for rule in c.case.expect.rules + c.case.expect.rules_absent
    }
    assert not named - known, sorted(named - known)
