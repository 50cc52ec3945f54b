"""Property tests (hypothesis) of the rules core.

1. Totality: every valid generated case gets a contract-valid Assessment; the only exception is
   InvalidInputError, and only for inputs the model rejects (hematologic codes, cluster sizes where the scoring
   system has no cluster rule); arbitrary junk input gets InvalidInputError, never another exception.
2. IHC monotonicity: moving cells from a weaker to a stronger staining pattern, or adding staining, never
   weakens the IHC result, for every scoring system and procedure (percentages and biopsy clusters).
3. Adding a negative tissue specimen never turns a HER2-positive patient negative.
4. The order of the specimens in the input never changes the patient-level result, the flags or the
   recommendations, and specimens come back in input order with the same per-specimen results.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import her2cds
from her2cds.errors import InvalidInputError
from her2cds.knowledge.loader import default_knowledge_base
from her2cds.model.assessment import Assessment
from her2cds.model.enums import IhcScore, Status

PROPERTY_SETTINGS = settings(max_examples=200, deadline=None)

KB = default_knowledge_base()
SOLID_CODES = sorted(code for code in KB.tumor_types if KB.family_for(code) is not None)
HEMATOLOGIC_CODES = sorted(code for code in KB.tumor_types if KB.family_for(code) is None)
KNOWN_TRACE_IDS = set(KB.rules) | {t.id for t in KB.testing}

# One tumor per scoring context: every scoring system (and the gastric criteria reached by fallback).
SYSTEM_TUMORS: dict[str, dict[str, Any]] = {
    "asco-cap-2018.breast": {"oncotree_code": "IDC", "setting": "metastatic"},
    "cap-ascp-asco-2016.gea": {"oncotree_code": "STAD", "setting": "metastatic"},
    "heracles.crc": {"oncotree_code": "COAD", "setting": "metastatic"},
    "buza-2021.endometrial-serous": {"oncotree_code": "USC", "setting": "metastatic",
                                     "scoring_system": "buza-2021.endometrial-serous"},
    "gastric-fallback": {"oncotree_code": "THYC", "setting": "metastatic"},
}
CLUSTER_TUMORS = {k: v for k, v in SYSTEM_TUMORS.items() if k in ("cap-ascp-asco-2016.gea", "gastric-fallback")}

PATTERNS = ("strong_complete", "weak_moderate_complete", "faint_incomplete", "intense_incomplete")
# weaker -> stronger pattern moves (faint < weak-moderate complete < strong complete; faint < intense incomplete
# < strong complete)
MOVES = (
    ("faint_incomplete", "weak_moderate_complete"),
    ("faint_incomplete", "intense_incomplete"),
    ("faint_incomplete", "strong_complete"),
    ("weak_moderate_complete", "strong_complete"),
    ("intense_incomplete", "strong_complete"),
    (None, "strong_complete"),
    (None, "weak_moderate_complete"),
    (None, "faint_incomplete"),
    (None, "intense_incomplete"),
)
STATUS_RANK = {Status.NEGATIVE: 0, Status.INDETERMINATE: 0, Status.EQUIVOCAL: 1, Status.POSITIVE: 2}

VARIANTS = ("p.Y772_A775dup", "p.Tyr772_Ala775dup", "p.A775_G776insYVMA", "p.G776delinsVC", "p.S310F",
            "p.L755S", "p.V777L", "p.Val842Ile", "p.R143Q", "p.T798M", "p.G660D", "p.P780_Y781insGSP")

# ------------------------------------------------------------------------------------------------ strategies


@st.composite
def tenths(draw: st.DrawFn, upto: int) -> int:
    """An amount in tenths of a percent, favouring the guideline boundaries (10% and 50%)."""
    value = draw(st.one_of(st.sampled_from([0, 99, 100, 101, 499, 500, 501, 1000]), st.integers(0, 1000)))
    return min(value, upto)


@st.composite
def percents(draw: st.DrawFn) -> dict[str, float]:
    remaining = 1000  # tenths of a percent: the four patterns never sum to more than 100%
    out: dict[str, float] = {}
    for key in draw(st.permutations(PATTERNS)):
        amount = draw(tenths(remaining))
        remaining -= amount
        out[key] = amount / 10
    return out


cluster_sizes = st.fixed_dictionaries({
    "strong_complete": st.sampled_from([0, 3, 4, 5, 6, 20]) | st.integers(0, 60),
    "weak_moderate_complete": st.sampled_from([0, 4, 5, 12]) | st.integers(0, 60),
    "faint_incomplete": st.sampled_from([0, 4, 5, 30]) | st.integers(0, 60),
})


@st.composite
def ihc_results(draw: st.DrawFn, cluster_only: bool) -> dict[str, Any]:
    if cluster_only and draw(st.integers(0, 11)) == 0:
        # valid for gastric-type biopsies only; elsewhere an InvalidInputError naming ...ihc.cluster_cells
        return {"cluster_cells": draw(cluster_sizes)}
    ihc: dict[str, Any] = {}
    if draw(st.booleans()):
        ihc["score"] = draw(st.sampled_from(["0", "1+", "2+", "3+"]))
    if draw(st.booleans()):
        ihc["percent"] = draw(percents())
        if draw(st.booleans()):  # cluster sizes only beside percentages: valid for every system/procedure
            ihc["cluster_cells"] = draw(cluster_sizes)
    if not ihc:
        ihc["score"] = draw(st.sampled_from(["0", "1+", "2+", "3+"]))
    return ihc


signals = st.sampled_from([1.9, 2.0, 3.99, 4.0, 5.99, 6.0, 12.0]) | st.integers(5, 200).map(lambda n: n / 10)
cep17 = st.sampled_from([1.0, 2.0, 3.0]) | st.integers(5, 80).map(lambda n: n / 10)
cells = st.sampled_from([19, 20, 40]) | st.integers(1, 80)


@st.composite
def ish_results(draw: st.DrawFn) -> dict[str, Any]:
    if draw(st.integers(0, 4)) == 0:
        single: dict[str, Any] = {"probe": "single", "her2_per_cell": draw(signals)}
        if draw(st.booleans()):
            single["cells_counted"] = draw(cells)
        return single
    her2, cep = draw(signals), draw(cep17)
    ish: dict[str, Any] = {"probe": "dual"}
    form = draw(st.sampled_from(["means", "means+ratio", "ratio+her2", "ratio", "ratio+cep17", "percent"]))
    if form in ("means", "means+ratio"):
        ish.update(her2_per_cell=her2, cep17_per_cell=cep)
    if form == "means+ratio":
        ish["ratio"] = round(her2 / cep, 2)  # a rounded report agrees within tolerance
    if form in ("ratio+her2", "ratio", "ratio+cep17"):
        ish["ratio"] = round(her2 / cep, 2)
    if form == "ratio+cep17":  # HER2 copies derived as an interval (D8.5)
        ish["cep17_per_cell"] = cep
    if form == "ratio+her2":
        ish["her2_per_cell"] = her2
    if form == "percent" or draw(st.booleans()):
        ish["percent_cells_amplified"] = draw(st.sampled_from([49.0, 50.0]) | st.integers(0, 100).map(float))
    if draw(st.booleans()):
        ish["cells_counted"] = draw(cells)
    if draw(st.integers(0, 3)) == 0:
        recount: dict[str, Any] = {"her2_per_cell": draw(signals), "cep17_per_cell": draw(cep17)}
        if draw(st.booleans()):
            recount["cells_counted"] = draw(cells)
        ish["recount"] = recount
    return ish


@st.composite
def ngs_results(draw: st.DrawFn, plasma: bool) -> dict[str, Any]:
    ngs: dict[str, Any] = {}
    call = draw(st.sampled_from([None, "amplification", "gain", "neutral", "loss"]))
    if call is not None:
        ngs["erbb2_cn_call"] = call
        if draw(st.booleans()):
            ngs["erbb2_amplified"] = call == "amplification"
    elif draw(st.booleans()):
        ngs["erbb2_amplified"] = draw(st.booleans())
    if draw(st.booleans()):
        ngs["erbb2_copy_number"] = draw(st.integers(0, 400).map(lambda n: n / 10))
    ngs["erbb2_variants"] = draw(st.lists(st.sampled_from(VARIANTS), max_size=3, unique=True))
    if plasma and draw(st.booleans()):
        fractions = st.sampled_from([0.0, 0.009, 0.01, 0.2]) | st.integers(0, 1000).map(lambda n: n / 1000)
        ngs["tumor_fraction"] = draw(fractions)
    return ngs


dates = st.none() | st.dates(min_value=dt.date(2020, 1, 1), max_value=dt.date(2020, 1, 8)).map(dt.date.isoformat)


@st.composite
def specimens(draw: st.DrawFn, sid: str, cluster_only: bool = False) -> dict[str, Any]:
    procedure = draw(st.sampled_from(["biopsy", "resection", "cytology", "plasma"]))
    spec: dict[str, Any] = {"id": sid, "procedure": procedure}
    collected = draw(dates)
    if collected is not None:
        spec["collected_on"] = collected
    if procedure == "plasma":
        spec["ngs"] = draw(ngs_results(plasma=True))
        return spec
    if draw(st.booleans()):
        spec["site"] = draw(st.sampled_from(["primary", "metastasis"]))
    if draw(st.booleans()):
        spec["after_her2_therapy"] = draw(st.booleans())
    parts = draw(st.sets(st.sampled_from(["ihc", "ish", "ngs"]), min_size=1))
    if "ihc" in parts:
        spec["ihc"] = draw(ihc_results(cluster_only))
    if "ish" in parts:
        spec["ish"] = draw(ish_results())
    if "ngs" in parts:
        spec["ngs"] = draw(ngs_results(plasma=False))
    if draw(st.integers(0, 5)) == 0:
        spec["reported_status"] = draw(st.sampled_from(["positive", "negative", "equivocal", "amplified", "n/a"]))
    return spec


@st.composite
def specimen_lists(
    draw: st.DrawFn, min_size: int = 0, max_size: int = 4, cluster_only: bool = False
) -> list[dict[str, Any]]:
    n = draw(st.integers(min_size, max_size))
    return [draw(specimens(f"S{i}", cluster_only)) for i in range(n)]


@st.composite
def tumors(draw: st.DrawFn, codes: list[str]) -> dict[str, Any]:
    tumor: dict[str, Any] = {"oncotree_code": draw(st.sampled_from(codes))}
    setting = draw(st.sampled_from([None, "early", "locally_advanced", "metastatic"]))
    if setting is not None:
        tumor["setting"] = setting
    return tumor


@st.composite
def cases(draw: st.DrawFn, min_specimens: int = 0) -> dict[str, Any]:
    tumor = draw(st.one_of(tumors(SOLID_CODES), st.sampled_from(list(SYSTEM_TUMORS.values()))))
    specs = draw(specimen_lists(min_size=min_specimens, cluster_only=True))
    return {"id": "prop", "tumor": dict(tumor), "specimens": specs}


# ------------------------------------------------------------------------------------------------ helpers


def _assess(case: Any) -> Assessment | InvalidInputError:
    """The assessment, or the InvalidInputError it raised (any other exception propagates and fails the test)."""
    try:
        return her2cds.assess(case)
    except InvalidInputError as exc:
        return exc


def _check_contract(case: dict[str, Any], out: Assessment) -> None:
    assert [s.id for s in out.specimens] == [s["id"] for s in case["specimens"]]
    assert out.versions.knowledge_base == KB.version
    assert {t.rule for t in out.trace} <= KNOWN_TRACE_IDS
    assert {f.code for f in out.flags} <= set(KB.codes)
    assert {r.code for r in out.recommendations} <= set(KB.codes)
    results = {s.id: s for s in out.specimens}
    for spec in out.specimens:  # every non-final tissue result says what it waits for (D8.8)
        if spec.procedure.value != "plasma" and spec.status in (Status.EQUIVOCAL, Status.INDETERMINATE):
            assert spec.needs, spec
    if out.her2.status in (Status.EQUIVOCAL, Status.INDETERMINATE):
        assert out.her2.needs, out.her2
    for sid in out.her2.deciding_specimens:
        assert sid in results
    if out.her2.status is Status.POSITIVE:
        assert out.her2.deciding_specimens
        assert all(results[sid].status is Status.POSITIVE for sid in out.her2.deciding_specimens)
    # the output is valid against its own contract (it is built without validation for speed)
    Assessment.model_validate(out.model_dump(mode="json"))


def _check_cluster_rejection(case: dict[str, Any], exc: InvalidInputError) -> None:
    """Cluster sizes without percentages are rejected exactly where no cluster rule applies (D4)."""
    assert len(exc.problems) == 1, exc.problems
    field = exc.problems[0].field
    index = int(field.removeprefix("specimens[").split("]", 1)[0])
    assert field == f"specimens[{index}].ihc.cluster_cells", field
    spec = case["specimens"][index]
    assert set(spec["ihc"]) == {"cluster_cells"}
    family = KB.family_for(case["tumor"]["oncotree_code"])
    assert family is not None
    system = KB.systems[case["tumor"].get("scoring_system") or family.scoring_system]
    assert spec["procedure"] not in system.cluster_procedures or not any(
        r.stage == "ihc_cluster" for r in system.rules
    ), (field, spec["procedure"], system.id)


def _patient_view(out: Assessment) -> dict[str, Any]:
    h = out.her2
    return {
        "status": h.status, "ihc_score": h.ihc_score, "category": h.category,
        "erbb2_amplified": h.erbb2_amplified, "ish_amplified": h.ish_amplified, "ngs_amplified": h.ngs_amplified,
        "activating": h.erbb2_activating_mutations, "kinase": h.erbb2_kinase_domain_mutations,
        "deciding": h.deciding_specimens,
        "flags": sorted(f.code for f in out.flags),
        "recommendations": Counter(r.code for r in out.recommendations),
    }


def _specimen_view(out: Assessment) -> dict[str, tuple[Any, ...]]:
    return {s.id: (s.status, s.ihc_score, s.ish_group, s.category, s.adequate) for s in out.specimens}


def _ihc_rank(tumor: dict[str, Any], procedure: str, ihc: dict[str, Any]) -> tuple[int, int | None]:
    out = her2cds.assess({"tumor": tumor, "specimens": [{"id": "S1", "procedure": procedure, "ihc": ihc}]})
    spec = out.specimens[0]
    assert spec.ihc is not None
    if spec.ihc.status is not Status.INDETERMINATE:
        assert spec.ihc_score is not None or spec.ihc.status is Status.NEGATIVE  # only "0 or 1+" has no score
    score = IhcScore(spec.ihc_score).rank if spec.ihc_score is not None else None
    if score is None and spec.scoring_system == "heracles.crc" and spec.ihc.intensity is not None:
        score = spec.ihc.intensity.rank  # HERACLES rows are named by intensity (e.g. "2+ in <50%": no score)
    return (-1 if spec.ihc.status is Status.INDETERMINATE else STATUS_RANK[spec.ihc.status]), score


def _weaker_or_equal(system: str, before: tuple[int, int | None], after: tuple[int, int | None]) -> bool:
    """Breast and gastric-type scores order the result by themselves (0 < 1+ < 2+ < 3+). HERACLES names rows by
    intensity (Valtorta 2015 Table 3: "3+ in ≤10%" is negative while "2+ in ≥50%" is equivocal), so there the
    IHC result is ordered by its status first, then by the score. A result the data cannot decide (a gastric-criteria
    biopsy without cluster sizes, D8.1) is not ordered; a negative without a stated score (0 or 1+) ranks below 2+."""
    if before[0] == -1 or after[0] == -1:
        return True
    if system == "heracles.crc":
        return (before[0], before[1] or 0) <= (after[0], after[1] or 0)
    b = before[1] if before[1] is not None else 1
    a = after[1] if after[1] is not None else (0 if before[1] == 0 else 1)
    return b <= a


# ------------------------------------------------------------------------------------------------ 1. totality


@PROPERTY_SETTINGS
@given(case=cases())
def test_totality_valid_cases_get_an_assessment(case: dict[str, Any]) -> None:
    out = _assess(case)
    if isinstance(out, InvalidInputError):  # only the rejection the input contract defines for otherwise valid data
        _check_cluster_rejection(case, out)
    else:
        _check_contract(case, out)


@settings(max_examples=50, deadline=None)
@given(code=st.sampled_from(HEMATOLOGIC_CODES), specimens=specimen_lists())
def test_totality_hematologic_codes_are_rejected(code: str, specimens: list[dict[str, Any]]) -> None:
    with pytest.raises(InvalidInputError) as info:
        her2cds.assess({"tumor": {"oncotree_code": code}, "specimens": specimens})
    assert [p.field for p in info.value.problems] == ["tumor.oncotree_code"]


json_scalars = st.none() | st.booleans() | st.integers(-5, 200) | st.floats(allow_nan=True) | st.text(max_size=8)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=12,
)
specimen_keys = st.sampled_from(["id", "procedure", "site", "collected_on", "ihc", "ish", "ngs", "reported_status",
                                 "after_her2_therapy", "extra"])


@PROPERTY_SETTINGS
@given(
    tumor=st.one_of(json_values, tumors(SOLID_CODES + HEMATOLOGIC_CODES + ["XYZ", "stad"])),
    raw_specimens=st.lists(st.dictionaries(specimen_keys, json_values, max_size=5), max_size=3) | json_values,
)
def test_totality_junk_input_is_invalid_input_never_a_crash(tumor: Any, raw_specimens: Any) -> None:
    out = _assess({"tumor": tumor, "specimens": raw_specimens})
    if isinstance(out, InvalidInputError):
        assert out.problems
        assert all(isinstance(p.field, str) and p.message for p in out.problems)
        assert str(out)  # renders as one message naming the fields
    else:
        assert isinstance(out, Assessment)


# ------------------------------------------------------------------------------------------------ 2. monotonicity


@PROPERTY_SETTINGS
@given(
    system=st.sampled_from(sorted(SYSTEM_TUMORS)),
    procedure=st.sampled_from(["biopsy", "resection", "cytology"]),
    base=percents(),
    move=st.sampled_from(MOVES),
    amount=st.integers(1, 1000),
)
def test_ihc_percent_monotone(
    system: str, procedure: str, base: dict[str, float], move: tuple[str | None, str], amount: int
) -> None:
    source, target = move
    available = round(base[source] * 10) if source else 1000 - round(sum(base.values()) * 10)
    step = min(amount, available)
    after = dict(base)
    if source:
        after[source] = (round(after[source] * 10) - step) / 10
    after[target] = (round(after[target] * 10) + step) / 10
    tumor = SYSTEM_TUMORS[system]
    before_rank = _ihc_rank(tumor, procedure, {"percent": base})
    after_rank = _ihc_rank(tumor, procedure, {"percent": after})
    assert _weaker_or_equal(system, before_rank, after_rank), (base, after, before_rank, after_rank)


@PROPERTY_SETTINGS
@given(
    system=st.sampled_from(sorted(CLUSTER_TUMORS)),
    base=cluster_sizes,
    pattern=st.sampled_from(["strong_complete", "weak_moderate_complete", "faint_incomplete"]),
    extra=st.integers(1, 20),
)
def test_ihc_biopsy_cluster_monotone(system: str, base: dict[str, int], pattern: str, extra: int) -> None:
    after = dict(base)
    after[pattern] += extra  # a larger cluster showing at least this pattern
    tumor = CLUSTER_TUMORS[system]
    before_rank = _ihc_rank(tumor, "biopsy", {"cluster_cells": base})
    after_rank = _ihc_rank(tumor, "biopsy", {"cluster_cells": after})
    assert before_rank[1] is not None and after_rank[1] is not None  # clusters always give a score
    assert before_rank[1] <= after_rank[1], (base, after, before_rank, after_rank)


# ------------------------------------------------------------------------------------------------ 3. negatives

POSITIVE_ANCHORS: dict[str, dict[str, Any]] = {
    "asco-cap-2018.breast": {"procedure": "resection", "ihc": {"score": "3+"}},
    "cap-ascp-asco-2016.gea": {"procedure": "biopsy", "ihc": {"score": "2+"},
                               "ish": {"ratio": 2.5, "her2_per_cell": 7.0}},
    "heracles.crc": {"procedure": "resection", "ihc": {"percent": {"strong_complete": 60}}},
    "buza-2021.endometrial-serous": {"procedure": "resection", "ihc": {"percent": {"strong_complete": 40}}},
    "gastric-fallback": {"procedure": "biopsy", "ihc": {"score": "3+"}},
}
NEGATIVE_SPECIMENS = (
    {"ihc": {"score": "0"}},
    {"ihc": {"score": "1+"}},
    {"ihc": {"percent": {"faint_incomplete": 5}}},
    {"ihc": {"score": "1+"}, "ish": {"her2_per_cell": 2.5, "cep17_per_cell": 2.0}},
    {"ihc": {"score": "2+"}, "ish": {"her2_per_cell": 2.5, "cep17_per_cell": 2.0, "percent_cells_amplified": 5}},
)


@PROPERTY_SETTINGS
@given(
    system=st.sampled_from(sorted(SYSTEM_TUMORS)),
    others=specimen_lists(max_size=3),
    anchor_date=dates,
    negative=st.sampled_from(NEGATIVE_SPECIMENS),
    negative_date=dates,
    procedure=st.sampled_from(["biopsy", "resection"]),
    site=st.sampled_from(["primary", "metastasis"]),
    position=st.integers(0, 4),
)
def test_adding_a_negative_specimen_never_turns_a_positive_patient_negative(
    system: str, others: list[dict[str, Any]], anchor_date: str | None, negative: dict[str, Any],
    negative_date: str | None, procedure: str, site: str, position: int,
) -> None:
    tumor = SYSTEM_TUMORS[system]
    anchor = {"id": "POS", "site": "primary", **POSITIVE_ANCHORS[system]}
    if anchor_date:
        anchor["collected_on"] = anchor_date
    base_specimens = [anchor, *others]
    base = her2cds.assess({"tumor": tumor, "specimens": base_specimens})
    assert base.her2.status is Status.POSITIVE, base.her2.basis
    added = {"id": "NEG", "procedure": procedure, "site": site, **negative}
    if negative_date:
        added["collected_on"] = negative_date
    with_negative = [*base_specimens]
    with_negative.insert(min(position, len(with_negative)), added)
    out = her2cds.assess({"tumor": tumor, "specimens": with_negative})
    neg = next(s for s in out.specimens if s.id == "NEG")
    assert neg.status is Status.NEGATIVE, neg.basis  # the added specimen really is negative
    assert out.her2.status is Status.POSITIVE
    assert set(base.her2.deciding_specimens) <= set(out.her2.deciding_specimens)


# ------------------------------------------------------------------------------------------------ 4. order


@PROPERTY_SETTINGS
@given(case=cases(min_specimens=2), data=st.data())
def test_specimen_order_does_not_change_the_result(case: dict[str, Any], data: st.DataObject) -> None:
    permuted = data.draw(st.permutations(case["specimens"]))
    out, out2 = _assess(case), _assess({**case, "specimens": permuted})
    if isinstance(out, InvalidInputError) or isinstance(out2, InvalidInputError):
        # the same rejection as in the totality test, whatever the order
        assert isinstance(out, InvalidInputError) and isinstance(out2, InvalidInputError)
        _check_cluster_rejection(case, out)
        _check_cluster_rejection({**case, "specimens": permuted}, out2)
    else:
        assert [s.id for s in out2.specimens] == [s["id"] for s in permuted]  # input order is kept
        assert _patient_view(out2) == _patient_view(out)
        assert _specimen_view(out2) == _specimen_view(out)
