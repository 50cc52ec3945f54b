"""FHIR in from the public IG and Synthea examples copied into ``tests/fixtures/fhir`` (see its SOURCE.md)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from her2cds.adapters.fhir import bundle_to_case
from her2cds.model.case import Case
from tests.fhir.fsh import parse_instances
from tests.fhir.helpers import (
    FIXTURES,
    ICD10CM,
    ICDO3,
    LOINC,
    PATIENT,
    SNOMED,
    breast_condition,
    bundle,
    codes,
    condition,
    fixture_json,
    patient,
    warning,
)


def _instances(relative: str) -> dict[str, dict[str, Any]]:
    return parse_instances((FIXTURES / relative).read_text(encoding="utf-8"))


def _as_patient(resource: dict[str, Any]) -> dict[str, Any]:
    """The fixture resource, re-pointed at this test's patient (the IG examples name other example patients)."""
    resource = copy.deepcopy(resource)
    resource["subject"] = {"reference": PATIENT}
    return resource


def test_fixture_folder_is_present() -> None:
    assert (FIXTURES / "SOURCE.md").is_file(), FIXTURES


# -- mCODE STU4 --------------------------------------------------------------------------------------------
def test_mcode_jenny_m_tumor_markers() -> None:
    found = _instances("mcode-stu4/EX_ExtendedExample.lines296-325.tumor-marker-instances.fsh.txt")
    assert set(found) == {"tumor-marker-test-er-jenny-m", "tumor-marker-test-pr-jenny-m",
                          "tumor-marker-test-her2-jenny-m"}
    resources = [_as_patient(r) for r in found.values()]
    conv = bundle_to_case(bundle(patient(), breast_condition(), *resources))
    # ER positive, PR negative -> hormone-receptor positive; the HER2 interpretation alone is not a specimen
    assert conv.case["biomarkers"] == {"hormone_receptor": "positive"}
    assert conv.case["specimens"] == []
    text = warning(conv, "fhir.specimen_without_measurements")
    assert "Observation/tumor-marker-test-her2-jenny-m" in text and "'negative'" in text


def test_mcode_egfr_example_is_reported_as_unused() -> None:
    found = _instances("mcode-stu4/EX_Genomics.lines80-90.tumor-marker-test-egf.fsh.txt")
    conv = bundle_to_case(bundle(patient(), breast_condition(), _as_patient(found["tumor-marker-test-egf"])))
    assert "loinc|39004-7" in warning(conv, "fhir.observation_not_used")


def test_mcode_value_set_her2_codes_are_all_known() -> None:
    """Every HER2/ERBB2 LOINC code of mCODE's TumorMarkerTestVS is in the code table (used or named as not used)."""
    from her2cds.adapters.fhir.codes import default_code_map

    rows = (FIXTURES / "mcode-stu4" / "TumorMarkerTestVS.HER2_ERBB2_codes.tsv").read_text(encoding="utf-8")
    loinc = [line.split("\t")[0] for line in rows.splitlines()[1:] if line.strip()]
    assert len(loinc) == 13
    index = default_code_map().observation_index
    missing = [code for code in loinc if ("loinc", code) not in index]
    assert not missing, missing


# -- Genomics Reporting -------------------------------------------------------------------------------------
def test_genomics_reporting_her2_biomarker_examples() -> None:
    found = _instances("genomics-reporting/CGExamples.lines119-160.HER2-molecular-biomarker-examples.fsh.txt")
    immune, immunoassay = found["HER2byImmuneStainExample"], found["HER2byImmunoassayExample"]
    assert immune["component"][0]["valueCodeableConcept"]["coding"][0]["code"] == "HGNC:3430"
    conv = bundle_to_case(bundle(patient(), breast_condition(), _as_patient(immune), _as_patient(immunoassay)))
    # "Present" by immune stain is not a score; immunoassay units are not IHC
    assert conv.case["specimens"] == []
    assert "Observation/HER2byImmuneStainExample" in warning(conv, "fhir.value_unmapped")
    assert "immunoassay" in warning(conv, "fhir.observation_unsupported")


def test_genomics_reporting_erbb2_variant_without_protein_change() -> None:
    found = _instances("genomics-reporting/CGExamples.lines26-44.ERBB2-variant-example.fsh.txt")
    variant = _as_patient(found["VariantExample"])
    # The IG example carries no gene-studied or HGVS component: add the gene to see the ERBB2 path.
    conv = bundle_to_case(bundle(patient(), breast_condition(), variant))
    assert conv.case["specimens"] == []
    assert "no gene studied" in warning(conv, "fhir.variant_other_gene")
    variant["code"] = {"coding": [{"system": LOINC, "code": "69548-6"}]}
    variant["component"].append({"code": {"coding": [{"system": LOINC, "code": "48018-6"}]},
                                 "valueCodeableConcept": {"coding": [{"system": "http://www.genenames.org",
                                                                      "code": "HGNC:3430", "display": "ERBB2"}]}})
    variant["component"].append({"code": {"coding": [{"system": LOINC, "code": "48004-6"}]},
                                 "valueCodeableConcept": {"coding": [{"system": "http://varnomen.hgvs.org",
                                                                      "code": "NM_004448.4:c.2264_2278del"}]}})
    conv = bundle_to_case(bundle(patient(), breast_condition(), variant))
    assert "c.2264_2278del" in warning(conv, "fhir.variant_unparsed")


# -- MII molecular tumor board -----------------------------------------------------------------------------
def test_mii_her2_low_interpretation() -> None:
    obs = fixture_json("mii-mtb/Observation-PatientKimMusterperson-MolecularPathologyInterpret-0a-Her2neu.json")
    pt = patient("PatientKimMusterperson")
    cond = condition("c1", (ICD10CM, "C50.9"))
    cond["subject"] = {"reference": "Patient/PatientKimMusterperson"}
    ihc = {"resourceType": "Observation", "id": "ihc", "status": "final",
           "code": {"coding": [{"system": LOINC, "code": "18474-7"}]}, "valueCodeableConcept": {"text": "2+"},
           "subject": {"reference": "Patient/PatientKimMusterperson"}, "specimen": obs["specimen"]}
    conv = bundle_to_case(bundle(pt, cond, obs, ihc))
    spec = conv.case["specimens"][0]
    assert spec["id"] == "PatientKimMusterperson-AscitesSpecimen-2"
    assert spec["reported_status"] == "negative"  # SNOMED 1381317004 HER2-low is HER2-negative status
    assert spec["ihc"] == {"score": "2+"}
    assert conv.source_observations[spec["id"]] == [
        "Observation/PatientKimMusterperson-MolecularPathologyInterpret-0a-Her2neu", "Observation/ihc"]
    assert "fhir.specimen_unresolved" in codes(conv)


def test_mii_therapy_recommendation_resources_are_reported_as_unused() -> None:
    group = fixture_json("mii-mtb/RequestGroup-mii-exa-mtb-therapieempfehlung-kombinationstherapie.json")
    conv = bundle_to_case(bundle(patient(), breast_condition(), group))
    assert "1 RequestGroup resource(s)" in warning(conv, "fhir.resource_not_used")


# -- Synthea ------------------------------------------------------------------------------------------------
_SYNTHEA_SYSTEMS = {"LOINC": LOINC, "SNOMED-CT": SNOMED}


def _synthea_observation(states: dict[str, Any], name: str, *, encoding: str,
                         legacy_system: bool = False) -> dict[str, Any]:
    """A FHIR Observation as Synthea exports an Observation state of the hormone_diagnosis module."""
    state = states[name]
    assert state["type"] == "Observation"
    code = state["codes"][0]
    resource: dict[str, Any] = {
        "resourceType": "Observation", "id": name.replace("_", "-").replace(" ", "-").lower(), "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                  "code": state["category"]}]}],
        "code": {"coding": [{"system": _SYNTHEA_SYSTEMS[code["system"]], "code": code["code"],
                             "display": code["display"]}], "text": code["display"]},
        "subject": {"reference": PATIENT}, "effectiveDateTime": "2020-05-04T10:00:00-04:00",
    }
    if "value_code" in state:
        value = state["value_code"]
        system = LOINC if legacy_system else _SYNTHEA_SYSTEMS[value["system"]]
        resource["valueCodeableConcept"] = {"coding": [{"system": system, "code": str(value["code"]),
                                                        "display": value["display"]}], "text": value["display"]}
    else:
        text = state["exact"]["quantity"]
        resource.update({"valueString": text} if encoding == "string"
                        else {"valueQuantity": {"value": text, "unit": state["unit"]}})
    return resource


@pytest.fixture(scope="module")
def synthea_states() -> dict[str, Any]:
    module = json.loads((FIXTURES / "synthea" / "hormone_diagnosis.json").read_text(encoding="utf-8"))
    states = module["states"]
    assert isinstance(states, dict)
    return states


def _synthea_bundle(states: dict[str, Any], names: list[str], **kw: Any) -> dict[str, Any]:
    # Synthea's breast cancer Condition (SNOMED 254837009) comes from the breast_cancer module itself.
    cond = condition("c1", (SNOMED, "254837009"))
    return bundle(patient(), cond, *[_synthea_observation(states, n, **kw) for n in names])


@pytest.mark.parametrize("encoding", ["string", "quantity"])
def test_synthea_her2_positive_branch(synthea_states: dict[str, Any], encoding: str) -> None:
    names = ["HER2_positive", "HER2_ratio_greater_than_2point2", "ER_positive", "PR_negative",
             "Hormone Receptor Positive"]
    conv = bundle_to_case(_synthea_bundle(synthea_states, names, encoding=encoding))
    spec = conv.case["specimens"][0]
    assert spec["ihc"] == {"score": "3+"}  # SNOMED "Positive" on the IHC code, read as 3+ (NAACCR 3850)
    assert "ish" not in spec  # "greater than 2.2" is a bound, not a ratio
    assert "greater than 2.2" in warning(conv, "fhir.value_bound_only")
    assert conv.case["biomarkers"] == {"hormone_receptor": "positive"}
    assert conv.case["tumor"]["oncotree_code"] == "BRCA"
    assert "fhir.ihc_score_inferred" in codes(conv)
    Case.model_validate(conv.case)


def test_synthea_her2_negative_branch(synthea_states: dict[str, Any]) -> None:
    names = ["HER2_negative", "HER2 ratio less than 1point8", "ER_negative", "PR_negative", "Triple_Negative"]
    conv = bundle_to_case(_synthea_bundle(synthea_states, names, encoding="string"))
    # IHC "negative" has no score and "less than 1.8" is a bound: nothing measurable is left
    assert conv.case["specimens"] == []
    assert "fhir.ihc_negative_unscored" in codes(conv)
    assert "less than 1.8" in warning(conv, "fhir.value_bound_only")
    assert conv.case["biomarkers"] == {"hormone_receptor": "negative"}
    assert "loinc|21924-6" in warning(conv, "fhir.observation_not_used")


def test_synthea_legacy_snomed_under_loinc_system(synthea_states: dict[str, Any]) -> None:
    conv = bundle_to_case(_synthea_bundle(synthea_states, ["HER2_positive"], encoding="string", legacy_system=True))
    assert conv.case["specimens"][0]["ihc"] == {"score": "3+"}
    assert "code 10828004 is sent under system http://loinc.org" in warning(conv, "fhir.coding_system_mismatch")


def test_synthea_icdo3_histology_refines_tumor(synthea_states: dict[str, Any]) -> None:
    b = _synthea_bundle(synthea_states, ["HER2_positive"], encoding="string")
    b["entry"][1]["resource"] = condition("c1", (SNOMED, "254837009"), body_site=(ICDO3, "C50.9"),
                                          histology=(ICDO3, "8520/3"))
    conv = bundle_to_case(b)
    assert conv.case["tumor"]["oncotree_code"] == "ILC"
