"""Clinical-safety properties (issue 8, hypothesis).

1. No specimen with a non-final ISH result, and no gastric-criteria biopsy without cluster data, is reported
   negative from percentages alone when a reading that makes it positive or equivocal is still possible (D8.1, D8.4).
2. A therapy criterion that requires IHC 3+ is never met by a patient whose HER2 status is negative (D8.3).
"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

import her2cds
from her2cds.errors import InvalidInputError
from her2cds.model.enums import Status
from tests.test_properties import PROPERTY_SETTINGS, cases, percents

GASTRIC_CRITERIA_TUMORS = ("STAD", "GEJ", "THYC", "GBC", "BLCA", "LUAD")


@PROPERTY_SETTINGS
@given(code=st.sampled_from(GASTRIC_CRITERIA_TUMORS), percent=percents())
def test_biopsy_without_clusters_never_negative_from_percentages(code: str, percent: dict[str, float]) -> None:
    out = her2cds.assess({"tumor": {"oncotree_code": code, "setting": "metastatic"},
                          "specimens": [{"id": "B1", "procedure": "biopsy", "ihc": {"percent": percent}}]})
    spec = out.specimens[0]
    complete = percent["strong_complete"] + percent["weak_moderate_complete"]
    if complete > 0:  # a cluster of >=5 such cells would make it 2+ or 3+: never negative from the percentage
        assert spec.status is not Status.NEGATIVE, (percent, spec)
        if spec.status is Status.INDETERMINATE:
            assert any(".cluster_cells." in n.field for n in spec.needs), spec.needs
    if spec.status is Status.NEGATIVE and spec.ihc_score is not None:
        assert spec.ihc_score.value == "0" and sum(percent.values()) == 0  # a score 0/1+ only without staining


@PROPERTY_SETTINGS
@given(score=st.sampled_from(["0", "1+"]), ratio=st.integers(200, 1000).map(lambda n: n / 100),
       cep17=st.none() | st.integers(10, 40).map(lambda n: n / 10))
def test_breast_unfinished_ish_never_dropped(score: str, ratio: float, cep17: float | None) -> None:
    """Ratio >=2.0 without HER2 copies is group 1 (positive) or 2 (negative with IHC 0/1+): never silently negative."""
    ish: dict[str, Any] = {"ratio": ratio}
    if cep17 is not None:
        ish["cep17_per_cell"] = cep17
    out = her2cds.assess({"tumor": {"oncotree_code": "IDC", "setting": "metastatic"},
                          "specimens": [{"id": "S1", "procedure": "resection", "ihc": {"score": score}, "ish": ish}]})
    spec = out.specimens[0]
    assert spec.ish is not None
    if spec.status is Status.NEGATIVE:  # only when the derived copies interval lies entirely below 4.0 (group 2)
        assert cep17 is not None and spec.ish.final and spec.ish.her2_per_cell_derived is not None
    if not spec.ish.final:
        assert spec.status is Status.INDETERMINATE and spec.needs


@PROPERTY_SETTINGS
@given(case=cases(min_specimens=1), prior=st.integers(0, 3))
def test_ihc_3plus_criterion_never_met_when_her2_negative(case: dict[str, Any], prior: int) -> None:
    case = {**case, "history": {"prior_lines": prior}}
    try:
        out = her2cds.assess(case)
    except InvalidInputError:
        return
    if out.her2.status is not Status.NEGATIVE:
        return
    assert out.her2.pan_tumor_ihc_3plus is not True
    for therapy in out.therapies:
        for criterion in therapy.criteria:
            if criterion.id == "ihc-3plus":
                assert criterion.result != "met", (therapy.id, out.her2)
