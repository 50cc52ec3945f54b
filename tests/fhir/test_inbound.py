"""FHIR in: bundles built here (current and legacy encodings) -> case + warnings."""

from __future__ import annotations

from typing import Any

import pytest

from her2cds.adapters.fhir import bundle_to_case, resources_to_case
from her2cds.errors import InvalidInputError
from her2cds.model.case import Case
from tests.fhir.helpers import (
    HER2CDS,
    HGNC,
    ICD10CM,
    ICDO3,
    LOINC,
    PATIENT,
    SNOMED,
    SO,
    V2_0487,
    breast_condition,
    bundle,
    codes,
    component,
    concept,
    condition,
    gastric_condition,
    observation,
    patient,
    quantity,
    specimen_resource,
    variant,
    warning,
)


def _ihc(oid: str = "ihc", **value: Any) -> dict[str, Any]:
    return observation(oid, "18474-7", **value)


# -- HER2 IHC -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "score"),
    [
        pytest.param({"valueCodeableConcept": concept(LOINC, "LA11842-4", "2+")}, "2+", id="loinc-answer"),
        pytest.param({"valueCodeableConcept": concept(text="3+")}, "3+", id="text-3+"),
        pytest.param({"valueCodeableConcept": concept(text="HER2 1+ (negative)")}, "1+", id="text-with-words"),
        pytest.param({"valueString": "Score 0"}, "0", id="string-score-0"),
        pytest.param({"valueString": "+++"}, "3+", id="string-plusses"),
        pytest.param({"valueInteger": 2}, "2+", id="integer"),
        pytest.param({"valueCodeableConcept": concept("http://example.org/local", "x", text="2+")}, "2+",
                     id="unknown-system-text"),
    ],
)
def test_ihc_score_encodings(value: dict[str, Any], score: str) -> None:
    conv = bundle_to_case(bundle(patient(), breast_condition(), _ihc(**value)))
    assert conv.case["specimens"][0]["ihc"] == {"score": score}
    assert conv.source_observations == {"obs-2026-01-10": ["Observation/ihc"]}
    assert "fhir.ihc_score_inferred" not in codes(conv)


def test_qualitative_positive_ihc_is_read_as_3plus_with_warning() -> None:
    conv = bundle_to_case(bundle(patient(), breast_condition(),
                                 _ihc(valueCodeableConcept=concept(SNOMED, "10828004", "Positive (qualifier value)"))))
    assert conv.case["specimens"][0]["ihc"]["score"] == "3+"
    assert "fhir.ihc-qualitative.positive" in warning(conv, "fhir.ihc_score_inferred")


def test_qualitative_negative_ihc_is_not_scored() -> None:
    ish = observation("ratio", "49683-6", valueQuantity=quantity(1.3))
    conv = bundle_to_case(bundle(patient(), breast_condition(),
                                 _ihc(valueCodeableConcept=concept(LOINC, "LA6577-6", "Negative")), ish))
    spec = conv.case["specimens"][0]
    assert "ihc" not in spec
    assert spec["reported_status"] == "negative"
    assert spec["ish"] == {"probe": "dual", "ratio": 1.3}
    assert "0 and 1+" in warning(conv, "fhir.ihc_negative_unscored")


def test_present_is_not_an_ihc_score() -> None:
    conv = bundle_to_case(bundle(patient(), breast_condition(),
                                 _ihc(valueCodeableConcept=concept(LOINC, "LA9633-4", "Present")),
                                 observation("r", "49683-6", valueQuantity=quantity(2.5))))
    assert "ihc" not in conv.case["specimens"][0]
    assert "Observation/ihc.valueCodeableConcept" in [w.field for w in conv.warnings if w.code == "fhir.value_unmapped"]


def test_antibody_from_method() -> None:
    conv = bundle_to_case(bundle(patient(), breast_condition(),
                                 _ihc(valueCodeableConcept=concept(text="1+"), method=concept(text="VENTANA 4B5"))))
    assert conv.case["specimens"][0]["ihc"] == {"score": "1+", "antibody": "VENTANA 4B5"}


def test_conflicting_ihc_scores_keep_the_later() -> None:
    first = _ihc("a", valueCodeableConcept=concept(text="2+"), specimen="Specimen/s1", date="2026-01-10")
    second = _ihc("b", valueCodeableConcept=concept(text="3+"), specimen="Specimen/s1", date="2026-01-12")
    conv = bundle_to_case(bundle(patient(), breast_condition(), first, second,
                                 specimen_resource("s1", concept(text="core biopsy"))))
    assert conv.case["specimens"][0]["ihc"]["score"] == "3+"
    assert "used the later one (3+)" in warning(conv, "fhir.conflicting_values")


# -- ISH ------------------------------------------------------------------------------------------------
def test_dual_probe_ish_from_ratio_and_copies() -> None:
    conv = bundle_to_case(bundle(
        patient(), gastric_condition(),
        observation("ratio", "49683-6", valueQuantity=quantity(2.4, "{ratio}")),
        observation("copies", "74860-8", valueQuantity=quantity(5.1, "{copies}/{cell}")),
    ))
    assert conv.case["specimens"][0]["ish"] == {"probe": "dual", "ratio": 2.4, "her2_per_cell": 5.1}
    assert conv.source_observations["obs-2026-01-10"] == ["Observation/ratio", "Observation/copies"]


def test_copies_alone_are_single_probe() -> None:
    conv = bundle_to_case(bundle(patient(), gastric_condition(),
                                 observation("copies", "74860-8", valueQuantity=quantity(6.3))))
    assert conv.case["specimens"][0]["ish"] == {"probe": "single", "her2_per_cell": 6.3}
    assert "fhir.ish_single_probe_assumed" in codes(conv)


def test_ish_panel_components() -> None:
    panel = observation("panel", "74885-5", component=[
        component(LOINC, "49683-6", valueQuantity=quantity(1.6)),
        component(LOINC, "74860-8", valueQuantity=quantity(6.4)),
        component(LOINC, "99999-9", valueQuantity=quantity(1)),
    ])
    conv = bundle_to_case(bundle(patient(), breast_condition(), panel))
    assert conv.case["specimens"][0]["ish"] == {"probe": "dual", "ratio": 1.6, "her2_per_cell": 6.4}
    assert "loinc|99999-9" in warning(conv, "fhir.observation_not_used")


def test_ratio_as_valueratio_and_as_string() -> None:
    ratio = observation("r", "49683-6", valueRatio={"numerator": {"value": 9.0}, "denominator": {"value": 3.0}})
    copies = observation("c", "74860-8", valueString="9.0")
    conv = bundle_to_case(bundle(patient(), breast_condition(), ratio, copies))
    assert conv.case["specimens"][0]["ish"] == {"probe": "dual", "ratio": 3.0, "her2_per_cell": 9.0}
    assert "the text '9.0' is read as" in warning(conv, "fhir.value_interpreted")


@pytest.mark.parametrize("value", [
    pytest.param({"valueString": "greater than 2.2"}, id="synthea-string"),
    pytest.param({"valueQuantity": quantity("greater than 2.2", "ratio")}, id="synthea-text-in-quantity"),
    pytest.param({"valueQuantity": quantity(2.2, "ratio", ">")}, id="quantity-comparator"),
])
def test_legacy_bound_is_not_a_ratio(value: dict[str, Any]) -> None:
    ish = observation("fish", "85318-4", **value)
    ihc = _ihc(valueCodeableConcept=concept(text="2+"))
    conv = bundle_to_case(bundle(patient(), breast_condition(), ihc, ish))
    spec = conv.case["specimens"][0]
    assert "ish" not in spec
    assert spec["ihc"] == {"score": "2+"}
    assert "only as a bound" in warning(conv, "fhir.value_bound_only")
    assert conv.source_observations[spec["id"]] == ["Observation/ihc"]


def test_qualitative_ish_is_reported_only() -> None:
    ish = observation("fish", "31150-6", valueCodeableConcept=concept(LOINC, "LA6576-8", "Positive"))
    conv = bundle_to_case(bundle(patient(), gastric_condition(), _ihc(valueCodeableConcept=concept(text="2+")), ish))
    spec = conv.case["specimens"][0]
    assert spec["reported_status"] == "amplified"
    assert "ish" not in spec
    assert "fhir.ish_unquantified" in codes(conv)


# -- interpretation ---------------------------------------------------------------------------------------
def test_interpretation_becomes_reported_status() -> None:
    interp = observation("interp", "48676-1", valueCodeableConcept=concept(LOINC, "LA6577-6", "Negative"))
    conv = bundle_to_case(bundle(patient(), breast_condition(), interp, _ihc(valueCodeableConcept=concept(text="1+"))))
    spec = conv.case["specimens"][0]
    assert spec["reported_status"] == "negative"
    assert spec["ihc"]["score"] == "1+"


def test_interpretation_alone_makes_no_specimen() -> None:
    interp = observation("interp", "48676-1", valueCodeableConcept=concept(LOINC, "LA6576-8", "Positive"))
    conv = bundle_to_case(bundle(patient(), breast_condition(), interp))
    assert conv.case["specimens"] == []
    assert "report HER2 as 'positive'" in warning(conv, "fhir.specimen_without_measurements")


# -- specimens -------------------------------------------------------------------------------------------
def test_specimen_resource_gives_procedure_date_and_site() -> None:
    spec = specimen_resource("S-liver", concept(SNOMED, "0000", text="Liver metastasis core needle biopsy"),
                             collected="2025-12-01")
    spec["collection"]["bodySite"] = concept(text="Liver")
    ihc = _ihc(valueCodeableConcept=concept(text="3+"), specimen="Specimen/S-liver")
    conv = bundle_to_case(bundle(patient(), gastric_condition(), spec, ihc))
    assert conv.case["specimens"] == [{"id": "S-liver", "procedure": "biopsy", "site": "metastasis",
                                       "site_detail": "Liver", "collected_on": "2025-12-01", "ihc": {"score": "3+"}}]
    assert conv.specimen_refs == {"S-liver": "Specimen/S-liver"}
    assert "fhir.specimen_procedure_assumed" not in codes(conv)


@pytest.mark.parametrize(("type_concept", "procedure"), [
    pytest.param(concept(text="Gastrectomy specimen"), "resection", id="resection-word"),
    pytest.param(concept(text="Ascitic fluid specimen"), "cytology", id="ascites"),
    pytest.param(concept(V2_0487, "FGA"), "cytology", id="v2-fluid-abdomen"),
])
def test_specimen_procedure_mapping(type_concept: dict[str, Any], procedure: str) -> None:
    conv = bundle_to_case(bundle(patient(), gastric_condition(), specimen_resource("s", type_concept),
                                 _ihc(valueCodeableConcept=concept(text="2+"), specimen="Specimen/s")))
    assert conv.case["specimens"][0]["procedure"] == procedure


def test_unresolved_specimen_reference_is_grouped_and_warned() -> None:
    a = _ihc("a", valueCodeableConcept=concept(text="2+"), specimen="Specimen/block-A")
    b = observation("b", "49683-6", specimen="Specimen/block-A", valueQuantity=quantity(2.3))
    c = _ihc("c", valueCodeableConcept=concept(text="0"), specimen="Specimen/block-B")
    conv = bundle_to_case(bundle(patient(), breast_condition(), a, b, c))
    ids = [s["id"] for s in conv.case["specimens"]]
    assert ids == ["block-A", "block-B"]
    assert conv.source_observations["block-A"] == ["Observation/a", "Observation/b"]
    assert sum(1 for w in conv.warnings if w.code == "fhir.specimen_unresolved") == 2


def test_observations_without_specimen_group_by_date() -> None:
    one = _ihc("one", valueCodeableConcept=concept(text="1+"), date="2025-03-01")
    two = _ihc("two", valueCodeableConcept=concept(text="3+"), date="2026-02-01T10:00:00Z")
    undated = _ihc("three", valueCodeableConcept=concept(text="2+"), date=None)
    conv = bundle_to_case(bundle(patient(), breast_condition(), one, two, undated))
    got = {s["id"]: (s["ihc"]["score"], s.get("collected_on")) for s in conv.case["specimens"]}
    assert got == {"obs-2025-03-01": ("1+", "2025-03-01"), "obs-2026-02-01": ("3+", "2026-02-01"),
                   "default": ("2+", None)}


def test_diagnostic_report_links_results_to_its_specimen() -> None:
    report = {"resourceType": "DiagnosticReport", "id": "dr", "status": "final", "code": concept(text="HER2"),
              "specimen": [{"reference": "Specimen/s9"}], "result": [{"reference": "Observation/ihc"}]}
    conv = bundle_to_case(bundle(patient(), breast_condition(), report, specimen_resource("s9", concept(text="biopsy")),
                                 _ihc(valueCodeableConcept=concept(text="2+"))))
    assert conv.case["specimens"][0]["id"] == "s9"


def test_plasma_ngs_specimen() -> None:
    plasma = specimen_resource("cfdna", concept(V2_0487, "PLAS", "Plasma"))
    amp = variant("amp", ("HGNC:3430", "ERBB2"), specimen="Specimen/cfdna", components=[
        component(LOINC, "48019-4", valueCodeableConcept=concept(SO, "SO:0001880", "feature_amplification")),
        component(LOINC, "82155-3", valueQuantity=quantity(14)),
    ])
    mut = variant("mut", ("HGNC:3430", "ERBB2"), protein="NP_004439.2:p.(Tyr772_Ala775dup)", specimen="Specimen/cfdna",
                  method=concept(text="Guardant360 CDx"))
    conv = bundle_to_case(bundle(patient(), condition("c1", (ICD10CM, "C34.90"), histology=(ICDO3, "8140/3")),
                                 plasma, amp, mut))
    spec = conv.case["specimens"][0]
    assert spec == {"id": "cfdna", "procedure": "plasma", "collected_on": "2026-01-05",
                    "ngs": {"erbb2_variants": ["Y772_A775dup"], "erbb2_cn_call": "amplification",
                            "erbb2_copy_number": 14.0, "assay": "Guardant360 CDx"}}
    assert conv.case["tumor"]["oncotree_code"] == "LUAD"


def test_copy_number_gain_has_no_call() -> None:
    cnv = variant("cnv", ("HGNC:3430", "ERBB2"), components=[
        component(LOINC, "48019-4", valueCodeableConcept=concept(SO, "SO:0001742", "copy_number_gain")),
        component(LOINC, "82155-3", valueQuantity=quantity(7))])
    conv = bundle_to_case(bundle(patient(), breast_condition(), cnv))
    ngs = conv.case["specimens"][0]["ngs"]
    assert ngs == {"erbb2_variants": [], "erbb2_copy_number": 7.0}
    assert "does not say gain or amplification" in warning(conv, "fhir.value_interpreted")


def test_unparsable_variant_and_other_genes_are_warned() -> None:
    bad = variant("bad", ("HGNC:3430", "ERBB2"), protein="p.somethingodd")
    other = variant("egfr", ("HGNC:3236", "EGFR"), protein="p.L858R")
    conv = bundle_to_case(bundle(patient(), condition("c1", (ICD10CM, "C34.1"), histology=(ICDO3, "8140/3")),
                                 bad, other, _ihc(valueCodeableConcept=concept(text="1+"))))
    assert "p.somethingodd" in warning(conv, "fhir.variant_unparsed")
    assert "HGNC:3236" in warning(conv, "fhir.variant_other_gene") or "EGFR" in warning(conv, "fhir.variant_other_gene")


def test_absent_erbb2_variant_records_ngs_without_variants() -> None:
    neg = variant("neg", ("HGNC:3430", "ERBB2"), present=False)
    conv = bundle_to_case(bundle(patient(), breast_condition(), neg))
    assert conv.case["specimens"][0]["ngs"] == {"erbb2_variants": []}


# -- biomarkers ------------------------------------------------------------------------------------------
def test_biomarkers() -> None:
    er = observation("er", "85337-4", valueCodeableConcept=concept(LOINC, "LA6577-6"))
    pr = observation("pr", "16113-3", valueCodeableConcept=concept(SNOMED, "10828004"))
    cps = observation("cps", "pd-l1-cps", HER2CDS, valueQuantity=quantity(5))
    kras = variant("kras", ("HGNC:6407", "KRAS"), present=False)
    nras = variant("nras", ("HGNC:7989", "NRAS"), protein="p.Q61K")
    conv = bundle_to_case(bundle(patient(), gastric_condition(), er, pr, cps, kras, nras,
                                 _ihc(valueCodeableConcept=concept(text="3+"))))
    assert conv.case["biomarkers"] == {"pd_l1_cps": 5.0, "kras": "wild_type", "nras": "mutant",
                                       "hormone_receptor": "positive"}


def test_pd_l1_recognised_by_text_and_tps_is_not_cps() -> None:
    cps = observation("cps", "85147-7", valueQuantity=quantity(12))
    cps["code"] = concept(LOINC, "85147-7", text="PD-L1 22C3 combined positive score")
    tps = observation("tps", "83053-9", valueQuantity=quantity(40))
    ihc = _ihc(valueCodeableConcept=concept(text="0"))
    conv = bundle_to_case(bundle(patient(), gastric_condition(), cps, tps, ihc))
    assert "pd_l1_cps" not in conv.case["biomarkers"]  # a LOINC code wins over text; 85147-7 is not CPS
    cps["code"] = concept(text="PD-L1 combined positive score")
    ihc = _ihc(valueCodeableConcept=concept(text="0"))
    conv = bundle_to_case(bundle(patient(), gastric_condition(), cps, tps, ihc))
    assert conv.case["biomarkers"]["pd_l1_cps"] == 12.0
    assert "not identified as a combined positive score" in warning(conv, "fhir.observation_unsupported")


def test_specific_ras_variant_absence_is_not_wild_type() -> None:
    kras = variant("g12c", ("HGNC:6407", "KRAS"), protein="p.G12C", present=False)
    conv = bundle_to_case(bundle(patient(), gastric_condition(), kras, _ihc(valueCodeableConcept=concept(text="0"))))
    assert "kras" not in conv.case["biomarkers"]
    assert "does not show that KRAS is wild type" in warning(conv, "fhir.value_interpreted")


def test_hormone_receptor_needs_both_negatives() -> None:
    er = observation("er", "85337-4", valueCodeableConcept=concept(LOINC, "LA6577-6"))
    conv = bundle_to_case(bundle(patient(), breast_condition(), er, _ihc(valueCodeableConcept=concept(text="0"))))
    assert "hormone_receptor" not in conv.case["biomarkers"]
    assert "fhir.hormone_receptor_incomplete" in codes(conv)


# -- tumor type --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("codes_", "histology", "expected", "assumed"),
    [
        pytest.param([(ICD10CM, "C50.911")], (ICDO3, "8500/3"), "IDC", False, id="breast-idc"),
        pytest.param([(ICD10CM, "C50.4")], (ICDO3, "8520/3"), "ILC", False, id="breast-ilc"),
        pytest.param([(ICD10CM, "C50.9")], None, "BRCA", True, id="breast-site-only"),
        pytest.param([(SNOMED, "254837009")], None, "BRCA", True, id="breast-snomed"),
        pytest.param([(ICD10CM, "C16.0")], (ICDO3, "8140/3"), "GEJ", False, id="cardia-gej"),
        pytest.param([(ICD10CM, "C16.0")], None, "GEJ", True, id="cardia-site-only"),
        pytest.param([(ICD10CM, "C16.3")], (ICDO3, "8145/3"), "DSTAD", False, id="stomach-diffuse"),
        pytest.param([(ICD10CM, "C16.9")], None, "STAD", True, id="stomach-site-only"),
        pytest.param([(ICD10CM, "C15.5")], (ICDO3, "8140/3"), "ESCA", False, id="esophagus-adeno"),
        pytest.param([(ICD10CM, "C15.5")], (ICDO3, "8070/3"), "ESCC", False, id="esophagus-squamous"),
        pytest.param([(ICD10CM, "C15.9")], None, "STOMACH", True, id="esophagus-site-only"),
        pytest.param([(ICD10CM, "C18.7")], (ICDO3, "8140/3"), "COAD", False, id="colon"),
        pytest.param([(ICD10CM, "C18.1")], (ICDO3, "8480/3"), "APAD", False, id="appendix"),
        pytest.param([(ICD10CM, "C20")], None, "READ", True, id="rectum"),
        pytest.param([(ICD10CM, "C22.1")], (ICDO3, "8160/3"), "IHCH", False, id="intrahepatic"),
        pytest.param([(ICD10CM, "C23")], (ICDO3, "8140/3"), "GBC", False, id="gallbladder"),
        pytest.param([(ICD10CM, "C24.0")], None, "EHCH", False, id="extrahepatic"),
        pytest.param([(ICD10CM, "C24.1")], None, "AMPCA", False, id="ampulla"),
        pytest.param([(ICD10CM, "C24.9")], None, "BILIARY_TRACT", True, id="biliary-nos"),
        pytest.param([(ICD10CM, "C24.9")], (ICDO3, "8162/3"), "PHCH", False, id="klatskin"),
        pytest.param([(ICD10CM, "C34.11")], (ICDO3, "8140/3"), "LUAD", False, id="lung-adeno"),
        pytest.param([(ICD10CM, "C34.11")], (ICDO3, "8070/3"), "LUSC", False, id="lung-squamous"),
        pytest.param([(ICD10CM, "C34.11")], (ICDO3, "8041/3"), "LUNG", True, id="lung-small-cell"),
        pytest.param([(ICD10CM, "C34.11")], (ICDO3, "8240/3"), "LNET", False, id="lung-carcinoid-not-adeno"),
        pytest.param([(SNOMED, "254637007")], None, "NSCLC", False, id="nsclc-snomed"),
        pytest.param([(ICD10CM, "C54.1")], (ICDO3, "8441/3"), "USC", False, id="uterine-serous"),
        pytest.param([(ICD10CM, "C54.1")], (ICDO3, "8380/3"), "UEC", False, id="endometrioid"),
        pytest.param([(ICD10CM, "C67.9")], (ICDO3, "8120/3"), "BLCA", False, id="bladder-urothelial"),
        pytest.param([(ICD10CM, "C66")], (ICDO3, "8130/3"), "UTUC", False, id="ureter"),
        pytest.param([(ICD10CM, "C25.9")], None, "OTHER", False, id="pancreas-fallback"),
        pytest.param([(ICDO3, "C50.9")], (ICDO3, "8500/3"), "IDC", False, id="icdo3-topography"),
        pytest.param([("http://fhir.de/CodeSystem/bfarm/icd-10-gm", "C16.2")], (ICDO3, "8144/3"), "ISTAD", False,
                     id="icd-10-gm"),
    ],
)
def test_tumor_code_table(codes_: list[tuple[str, str]], histology: tuple[str, str] | None, expected: str,
                          assumed: bool) -> None:
    cond = condition("c1", *codes_, histology=histology)
    conv = bundle_to_case(bundle(patient(), cond, _ihc(valueCodeableConcept=concept(text="2+"))))
    assert conv.case["tumor"]["oncotree_code"] == expected
    assert ("fhir.tumor_assumed" in codes(conv)) is assumed
    if expected == "OTHER":
        assert "fhir.tumor_fallback" in codes(conv)


def test_override_extension_wins() -> None:
    cond = gastric_condition()
    cond["extension"] = [{"url": "https://her2cds.org/fhir/StructureDefinition/oncotree-code", "valueCode": "GEJ"},
                         {"url": "https://her2cds.org/fhir/StructureDefinition/disease-setting",
                          "valueCode": "locally_advanced"}]
    conv = bundle_to_case(bundle(patient(), cond, _ihc(valueCodeableConcept=concept(text="2+"))))
    assert conv.case["tumor"] == {"oncotree_code": "GEJ", "setting": "locally_advanced"}
    assert not [c for c in codes(conv) if c.startswith("fhir.tumor")]


def test_oncotree_coding_in_condition_code() -> None:
    cond = condition("c1", ("http://oncotree.mskcc.org", "ihch"))
    conv = bundle_to_case(bundle(patient(), cond, _ihc(valueCodeableConcept=concept(text="3+"))))
    assert conv.case["tumor"]["oncotree_code"] == "IHCH"


def test_secondary_condition_sets_metastatic_and_histology_text() -> None:
    mets = condition("c2", (ICD10CM, "C78.7"))
    conv = bundle_to_case(bundle(patient(), gastric_condition(), mets, _ihc(valueCodeableConcept=concept(text="2+"))))
    assert conv.case["tumor"] == {"oncotree_code": "STAD", "histology": "Adenocarcinoma, NOS", "setting": "metastatic"}


def test_m1_category_sets_metastatic() -> None:
    m1 = observation("m", "21907-1", valueCodeableConcept=concept(text="cM1"))
    conv = bundle_to_case(bundle(patient(), gastric_condition(), m1, _ihc(valueCodeableConcept=concept(text="2+"))))
    assert conv.case["tumor"]["setting"] == "metastatic"


def test_several_primaries_prefer_active_and_warn() -> None:
    old = condition("old", (ICD10CM, "C50.9"), clinicalStatus=concept(text=None, code="resolved"),
                    onsetDateTime="2010-01-01")
    new = gastric_condition()
    conv = bundle_to_case(bundle(patient(), old, new, _ihc(valueCodeableConcept=concept(text="2+"))))
    assert conv.case["tumor"]["oncotree_code"] == "STAD"
    assert "also seen: BRCA" in warning(conv, "fhir.tumor_ambiguous")


def test_non_cancer_conditions_are_aggregated() -> None:
    htn = condition("h1", (SNOMED, "59621000"))
    htn2 = condition("h2", (SNOMED, "59621000"))
    conv = bundle_to_case(bundle(patient(), gastric_condition(), htn, htn2,
                                 _ihc(valueCodeableConcept=concept(text="0"))))
    assert "2 Condition(s) with code snomed|59621000" in warning(conv, "fhir.condition_not_cancer")


def test_refuted_condition_is_not_used() -> None:
    cond = gastric_condition()
    cond["verificationStatus"] = concept(code="refuted")
    with pytest.raises(InvalidInputError) as info:
        bundle_to_case(bundle(patient(), cond, _ihc(valueCodeableConcept=concept(text="0"))))
    assert info.value.field == "Condition.code"


def test_no_tumor_is_an_error_naming_the_field_unless_defaulted() -> None:
    b = bundle(patient(), _ihc(valueCodeableConcept=concept(text="3+")))
    with pytest.raises(InvalidInputError) as info:
        bundle_to_case(b)
    assert info.value.field == "Condition.code"
    assert "oncotree-code" in str(info.value)
    assert bundle_to_case(b, default_oncotree_code="STAD").case["tumor"] == {"oncotree_code": "STAD"}


# -- medications -----------------------------------------------------------------------------------------
def test_prior_agents_from_medication_resources() -> None:
    rxnorm = "http://www.nlm.nih.gov/research/umls/rxnorm"
    statement = {"resourceType": "MedicationStatement", "id": "ms", "status": "completed",
                 "subject": {"reference": PATIENT},
                 "medicationCodeableConcept": concept(rxnorm, "1", "trastuzumab-anns 150 MG Injection [Kanjinti]")}
    administration = {"resourceType": "MedicationAdministration", "id": "ma", "status": "completed",
                      "subject": {"reference": PATIENT},
                      "medicationReference": {"reference": "Medication/m1"}}
    medication = {"resourceType": "Medication", "id": "m1",
                  "code": concept(text="fam-trastuzumab deruxtecan-nxki 100 MG")}
    regimen = {"resourceType": "MedicationStatement", "id": "folfox", "status": "stopped",
               "subject": {"reference": PATIENT},
               "medicationCodeableConcept": concept(text="Oxaliplatin / 5-FU / Leucovorin")}
    draft = {"resourceType": "MedicationRequest", "id": "draft", "status": "draft", "intent": "order",
             "subject": {"reference": PATIENT}, "medicationCodeableConcept": concept(text="zanidatamab")}
    unknown = {"resourceType": "MedicationStatement", "id": "x", "status": "completed",
               "subject": {"reference": PATIENT}, "medicationCodeableConcept": concept(text="Aspirin 81 MG")}
    conv = bundle_to_case(bundle(patient(), gastric_condition(), statement, administration, medication, regimen,
                                 draft, unknown, _ihc(valueCodeableConcept=concept(text="3+"))))
    assert conv.case["history"] == {"prior_agents": ["trastuzumab", "trastuzumab deruxtecan", "oxaliplatin",
                                                     "fluorouracil", "folinic acid"]}
    assert "status draft" in warning(conv, "fhir.medication_not_prior")
    assert "Aspirin 81 MG" in warning(conv, "fhir.medication_unmapped")


def test_combination_product() -> None:
    statement = {"resourceType": "MedicationStatement", "id": "ms", "status": "active",
                 "subject": {"reference": PATIENT}, "medicationCodeableConcept": concept(text="Phesgo")}
    conv = bundle_to_case(bundle(patient(), breast_condition(), statement,
                                 _ihc(valueCodeableConcept=concept(text="3+"))))
    assert conv.case["history"]["prior_agents"] == ["pertuzumab", "trastuzumab"]


# -- robustness and warnings -------------------------------------------------------------------------------
def test_statuses_subjects_and_unused_resources() -> None:
    wrong = _ihc("wrong", valueCodeableConcept=concept(text="0"))
    wrong["status"] = "entered-in-error"
    prelim = _ihc("prelim", valueCodeableConcept=concept(text="2+"), status="preliminary")
    other = _ihc("other", valueCodeableConcept=concept(text="3+"))
    other["subject"] = {"reference": "Patient/someone-else"}
    vitals = [observation(f"v{i}", "8302-2", valueQuantity=quantity(170, "cm")) for i in range(3)]
    enc = {"resourceType": "Encounter", "id": "e1", "status": "finished"}
    conv = bundle_to_case(bundle(patient(), breast_condition(), wrong, prelim, other, *vitals, enc, enc))
    assert [s["ihc"]["score"] for s in conv.case["specimens"]] == ["2+"]
    assert "entered-in-error" in warning(conv, "fhir.observation_status")
    assert "Observation/other" in warning(conv, "fhir.subject_mismatch")
    assert "3 Observation(s) with code loinc|8302-2" in warning(conv, "fhir.observation_not_used")
    assert "2 Encounter resource(s)" in warning(conv, "fhir.resource_not_used")


def test_unsupported_her2_codes_are_named() -> None:
    serum = observation("serum", "42914-2", valueQuantity=quantity(20, "ng/mL"))
    conv = bundle_to_case(bundle(patient(), breast_condition(), serum, _ihc(valueCodeableConcept=concept(text="0"))))
    assert "serum HER2" in warning(conv, "fhir.observation_unsupported")


def test_missing_value_and_data_absent_reason() -> None:
    empty = _ihc(dataAbsentReason=concept("http://terminology.hl7.org/CodeSystem/data-absent-reason", "not-performed"))
    conv = bundle_to_case(bundle(patient(), breast_condition(), empty))
    assert "not-performed" in warning(conv, "fhir.value_missing")
    assert conv.case["specimens"] == []


def test_snomed_code_under_loinc_system_is_read_with_warning() -> None:
    legacy = _ihc(valueCodeableConcept={"coding": [{"system": LOINC, "code": "10828004"}]})
    conv = bundle_to_case(bundle(patient(), breast_condition(), legacy))
    assert conv.case["specimens"][0]["ihc"]["score"] == "3+"
    assert "is a SNOMED CT concept" in warning(conv, "fhir.coding_system_mismatch")


@pytest.mark.parametrize(("body", "field"), [
    pytest.param({"resourceType": "Patient"}, "resourceType", id="not-a-bundle"),
    pytest.param({"resourceType": "Bundle", "entry": {}}, "entry", id="entry-not-array"),
    pytest.param(bundle(patient("a"), patient("b"), gastric_condition()), "Patient", id="two-patients"),
])
def test_invalid_input(body: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        bundle_to_case(body)
    assert info.value.field == field


def test_garbage_entries_are_warned_not_fatal() -> None:
    b = bundle(patient(), gastric_condition(), _ihc(valueCodeableConcept=concept(text="2+")))
    b["entry"] += [{"resource": "nonsense"}, 42, {"fullUrl": "urn:x"}]
    conv = bundle_to_case(b)
    assert sum(1 for w in conv.warnings if w.code == "fhir.entry_invalid") == 3
    Case.model_validate(conv.case)


def test_resources_to_case_reads_prefetch_searchsets() -> None:
    pt = patient()
    conditions = bundle(gastric_condition(), btype="searchset", bid=None)
    observations = bundle(_ihc(valueCodeableConcept=concept(text="2+")),
                          observation("r", "49683-6", valueQuantity=quantity(2.6)), btype="searchset", bid=None)
    conv = resources_to_case([pt, conditions, observations])
    assert conv.case["tumor"]["oncotree_code"] == "STAD"
    assert conv.case["specimens"][0]["ish"] == {"probe": "dual", "ratio": 2.6}
    assert "id" not in conv.case


def test_case_id_is_the_bundle_id_not_patient_data() -> None:
    pt = patient("p1")
    pt["name"] = [{"family": "Zyxwvutsrq"}]
    conv = bundle_to_case(bundle(pt, gastric_condition(), _ihc(valueCodeableConcept=concept(text="2+")), bid="order-7"))
    assert conv.case["id"] == "order-7"
    assert "Zyxwvutsrq" not in conv.model_dump_json()


def test_conversion_is_pure_and_repeatable() -> None:
    b = bundle(patient(), gastric_condition(), _ihc(valueCodeableConcept=concept(text="2+")))
    assert bundle_to_case(b) == bundle_to_case(b)


def test_gene_studied_by_symbol_only() -> None:
    obs = variant("v", ("ERBB2", "ERBB2"), protein="p.Ser310Phe")
    obs["component"][0]["valueCodeableConcept"] = {"coding": [{"system": HGNC, "display": "ERBB2"}]}
    conv = bundle_to_case(bundle(patient(), breast_condition(), obs))
    assert conv.case["specimens"][0]["ngs"]["erbb2_variants"] == ["S310F"]
