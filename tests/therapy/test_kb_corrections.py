"""The knowledge-base corrections of issue 11 stay corrected (each is sourced in docs/kb-changelog.md)."""

from __future__ import annotations

import datetime as dt

import pytest

from her2cds.knowledge.therapy import all_criteria
from her2cds.therapy import TherapyKnowledge


@pytest.mark.parametrize(
    ("indication", "first", "converted"),
    [
        ("fda.trastuzumab-deruxtecan.breast-her2-positive-pretreated", dt.date(2019, 12, 1), dt.date(2022, 5, 1)),
        ("fda.pembrolizumab.gastric-first-line", dt.date(2021, 5, 5), dt.date(2025, 3, 19)),
        ("fda.pertuzumab.breast-neoadjuvant", dt.date(2013, 9, 30), dt.date(2017, 12, 20)),
    ],
)
def test_accelerated_approvals_carry_their_conversion(
    tk: TherapyKnowledge, indication: str, first: dt.date, converted: dt.date
) -> None:
    (fda,) = tk.get(indication).regulatory
    assert (fda.initial_status, fda.status) == ("accelerated", "regular")
    assert (fda.approval_date, fda.regular_approval_date) == (first, converted)


def test_regular_from_the_start_has_no_conversion(tk: TherapyKnowledge) -> None:
    (fda,) = tk.get("fda.pertuzumab.breast-adjuvant").regulatory
    assert (fda.initial_status, fda.status, fda.regular_approval_date) == ("regular", "regular", None)
    assert fda.approval_date == dt.date(2017, 12, 20)


def test_db06_her2_low_pfs_interval_is_the_publications(tk: TherapyKnowledge) -> None:
    results = {r.id: r for r in tk.trials["trial.destiny-breast06"].results}
    assert results["pfs-her2-low"].ci == "95% CI 0.52-0.75"
    assert "NEJM 2024" in results["pfs-her2-low"].analysis
    ultralow = results["pfs-her2-ultralow"]
    assert "NEJM 2024" in ultralow.analysis and ultralow.status == "unverified"


def test_db05_high_risk_entry_is_a_caveat_not_a_criterion(tk: TherapyKnowledge) -> None:
    ind = tk.get("fda.trastuzumab-deruxtecan.breast-adjuvant-residual")
    (evidence,) = ind.evidence
    assert any("ypN1-3" in c and "not an eligibility condition" in c for c in evidence.caveats)
    texts = " ".join(c.text for c in all_criteria(ind.entry)).lower()
    assert "node-positive" not in texts and "inoperable" not in texts
    assert {c.id for c in all_criteria(ind.entry)} >= {"residual-disease", "prior-trastuzumab", "prior-taxane"}


def test_breast_list_has_the_pertuzumab_early_and_subcutaneous_indications(tk: TherapyKnowledge) -> None:
    ids = {ind.entry.id for ind in tk.indications}
    assert {
        "fda.pertuzumab.breast-neoadjuvant",
        "fda.pertuzumab.breast-adjuvant",
        "fda.pertuzumab-trastuzumab-hyaluronidase.breast-neoadjuvant",
        "fda.pertuzumab-trastuzumab-hyaluronidase.breast-adjuvant",
        "fda.pertuzumab-trastuzumab-hyaluronidase.breast-metastatic-first-line",
    } <= ids
    assert tk.drugs.lookup("Phesgo") is not None
