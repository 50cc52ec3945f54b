"""Run the therapy golden cases and check that the set of cases is complete."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from her2cds.knowledge.loader import KnowledgeBase
from her2cds.knowledge.therapy import all_criteria
from her2cds.model.therapy import TherapyOption
from her2cds.therapy import TherapyKnowledge, match_therapies
from her2cds.therapy.region import apply_region
from tests.therapy.conftest import build_facts
from tests.therapy.golden import TherapyCase, load_cases

CASES = list(load_cases())


def _mismatches(case: TherapyCase, options: list[TherapyOption]) -> list[str]:
    problems: list[str] = []
    by_id = {o.id: o for o in options}
    listed = [o.id for o in options]
    exp = case.expect
    if exp.first is not None and (not listed or listed[0] != exp.first):
        problems.append(f"first option: expected {exp.first}, got {listed[:1]}")
    if exp.listed is not None and sorted(exp.listed) != sorted(listed):
        problems.append(f"listed options: expected {sorted(exp.listed)}, got {sorted(listed)}")
    for absent in exp.absent:
        if absent in by_id:
            problems.append(f"{absent}: expected not to be listed")
    for option_id, want in exp.options.items():
        option = by_id.get(option_id)
        if option is None:
            problems.append(f"{option_id}: not listed (listed: {listed})")
            continue
        results = {c.id: c.result for c in option.criteria}
        if option.outcome != want.outcome:
            detail = {k: v for k, v in results.items() if v != "met"}
            problems.append(f"{option_id}: outcome {option.outcome}, expected {want.outcome} ({detail})")
        if option.eligible != (want.outcome == "eligible"):
            problems.append(f"{option_id}: eligible={option.eligible} disagrees with outcome {option.outcome}")
        if want.not_met is not None:
            got = sorted(k for k, v in results.items() if v == "not_met")
            if got != sorted(want.not_met):
                problems.append(f"{option_id}: not met {got}, expected {sorted(want.not_met)}")
        if want.unknown is not None:
            got = sorted(k for k, v in results.items() if v == "unknown")
            if got != sorted(want.unknown):
                problems.append(f"{option_id}: unknown {got}, expected {sorted(want.unknown)}")
        for crit in want.met:
            if results.get(crit) != "met":
                problems.append(f"{option_id}: criterion {crit} is {results.get(crit)}, expected met")
        for need in want.needs_include:
            if not any(need in n for n in option.needs):
                problems.append(f"{option_id}: no need containing {need!r} in {list(option.needs)}")
        if want.region_status is not None:
            got_status = option.region_status or ""
            if (want.region_status == "" and got_status) or want.region_status not in got_status:
                problems.append(f"{option_id}: region_status {got_status!r}, expected {want.region_status!r}")
        if want.agencies is not None and [r.agency for r in option.regulatory] != want.agencies:
            problems.append(f"{option_id}: regulatory agencies {[r.agency for r in option.regulatory]}, "
                            f"expected {want.agencies}")
        reasons = {c.id: c.reason for c in option.criteria}
        for crit, text in want.reason_contains.items():
            if text not in reasons.get(crit, ""):
                problems.append(f"{option_id}: reason of {crit} lacks {text!r}: {reasons.get(crit)!r}")
    return problems


@pytest.mark.parametrize(("path", "case"), [pytest.param(p, c, id=c.id) for p, c in CASES])
def test_golden_case(path: Path, case: TherapyCase, kb: KnowledgeBase, tk: TherapyKnowledge) -> None:
    facts = dict(case.facts)
    opt_in = bool(facts.pop("include_unverified", False))
    region = facts.pop("region", None)
    options = match_therapies(build_facts(kb, facts), tk, include_unverified=opt_in)
    options = apply_region(options, tk, region, include_unverified=opt_in)
    problems = _mismatches(case, options)
    assert not problems, f"{path.name}:{case.id}:\n  " + "\n  ".join(problems)


def test_cases_exist_and_ids_are_unique() -> None:
    assert len(CASES) >= 50
    ids = [c.id for _, c in CASES]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})


def test_every_case_cites_known_sources(kb: KnowledgeBase) -> None:
    unknown = sorted({(c.id, s.id) for _, c in CASES for s in c.sources if s.id not in kb.sources})
    assert not unknown, unknown


def test_every_indication_has_eligible_not_eligible_and_insufficient_data_cases(tk: TherapyKnowledge) -> None:
    seen: dict[str, set[str]] = defaultdict(set)
    for _, case in CASES:
        for option_id, want in case.expect.options.items():
            seen[option_id].add(want.outcome)
    wanted = {"eligible", "not_eligible", "insufficient_data"}
    missing = {ind.entry.id: sorted(wanted - seen[ind.entry.id]) for ind in tk.indications
               if not wanted <= seen[ind.entry.id]}
    assert not missing, missing


def test_cases_name_only_known_indications_and_criteria(tk: TherapyKnowledge) -> None:
    criteria = {ind.entry.id: {"tumor", "setting", *(c.id for c in all_criteria(ind.entry))} for ind in tk.indications}
    problems: list[str] = []
    for _, case in CASES:
        exp = case.expect
        named = [*exp.options, *(exp.listed or []), *exp.absent, *([exp.first] if exp.first else [])]
        problems += [f"{case.id}: unknown indication {i}" for i in named if i not in criteria]
        for option_id, want in exp.options.items():
            ids = [*(want.not_met or []), *(want.unknown or []), *want.met, *want.reason_contains]
            problems += [
                f"{case.id}: {option_id} has no criterion {c}" for c in ids if c not in criteria.get(option_id, set())
            ]
    assert not problems, problems


def test_required_close_misses_are_covered() -> None:
    """The close misses the issue names each have a case (CPS < 1, IHC 2+ amplified BTC, KRAS-mutant CRC,
    squamous NSCLC, HER2-null breast, no prior trastuzumab, first vs later line)."""
    required = {
        "gastric-cps-below-1": ("fda.pembrolizumab.gastric-first-line", "pd-l1-cps"),
        "btc-ihc2-amplified": ("fda.zanidatamab.biliary-tract", "ihc-3plus"),
        "crc-kras-mutant": ("fda.tucatinib.colorectal", "ras-wild-type"),
        "nsclc-squamous": ("fda.zongertinib.nsclc", "non-squamous"),
        "breast-her2-null": ("fda.trastuzumab-deruxtecan.breast-her2-low-ultralow-hr-positive", "her2-low-or-ultralow"),
        "gastric-no-prior-trastuzumab": ("fda.trastuzumab-deruxtecan.gastric-pretreated", "prior-trastuzumab"),
        "nsclc-first-line": ("fda.trastuzumab-deruxtecan.nsclc-her2-mutant", "previously-treated"),
        "gastric-seed-after-trastuzumab": ("fda.pembrolizumab.gastric-first-line", "first-line"),
    }
    by_id = {c.id: c for _, c in CASES}
    for case_id, (option_id, criterion) in required.items():
        want = by_id[case_id].expect.options[option_id]
        assert want.outcome == "not_eligible", case_id
        assert want.not_met == [criterion], case_id
