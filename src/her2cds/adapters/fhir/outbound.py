"""FHIR R4 out: an assessment -> a Bundle (type ``collection``, or ``transaction`` to post to a FHIR server).

The Bundle holds:

* a ``Device`` naming her2cds with the engine, knowledge-base, as-of and OncoTree versions;
* one ``Observation`` for the patient-level HER2 interpretation (LOINC 48676-1, LOINC answer codes for
  positive / negative / equivocal / indeterminate), ``derivedFrom`` the per-specimen Observations and the input
  Observations, with the basis, flags, recommendations and input warnings as notes;
* one ``Observation`` per specimen result (same code, ISH ratio and copies per cell as components);
* one Genomics-Reporting TherapeuticImplication-style ``Observation`` per therapy option, its drugs with RxNorm
  codings where the code table has a verified one;
* one ``DiagnosticReport`` (Genomics Reporting / mCODE style: LOINC 51969-4, category GE) whose ``result``
  references the result Observations, with the HER2 status as ``conclusionCode``.

Every resource about the patient has ``subject`` when the patient is known. In a ``transaction`` Bundle each
entry is a ``POST`` (resources without ids, linked by their ``urn:uuid`` fullUrls); the Device is created only
if none with the her2cds identifier exists (``ifNoneExist``).

Resource ids are name-based UUIDs of the assessment's content, so the same assessment always gives the same
Bundle. Pure: no I/O, no clock.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel

from her2cds.adapters.fhir.codes import CodeMap, CodeRef, default_code_map
from her2cds.model.assessment import Assessment, SpecimenResult

__all__ = ["BundleType", "assessment_to_bundle"]

BundleType = Literal["collection", "transaction"]

_OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
_UCUM = "http://unitsofmeasure.org"
_NAMESPACE = uuid.UUID("6f1d3f0e-52a6-5b0e-9f52-6c2b8c0d4e11")
_IHC_MEANING = {"0": "ihc_0", "1+": "ihc_1", "2+": "ihc_2", "3+": "ihc_3"}
_NAME_KEYS = ("regimen", "name", "title", "therapy", "drug", "label", "id")
_AGENT_KEYS = ("agents", "drugs", "medications", "components")
_STATUS_KEYS = ("outcome", "eligibility", "verdict", "match")
_MAX_NOTE = 4000


def _coding(code_map: CodeMap, ref: CodeRef) -> dict[str, Any]:
    coding: dict[str, Any] = {"system": code_map.uri(ref.system), "code": ref.code}
    if ref.display:
        coding["display"] = ref.display
    return coding


def _her2cds_coding(code_map: CodeMap, code: str, display: str | None = None) -> dict[str, Any]:
    coding: dict[str, Any] = {"system": code_map.urls.her2cds_codes, "code": code}
    if display:
        coding["display"] = display
    return coding


def _concept(*codings: dict[str, Any] | None, text: str | None = None) -> dict[str, Any]:
    concept: dict[str, Any] = {}
    present = [c for c in codings if c]
    if present:
        concept["coding"] = present
    if text:
        concept["text"] = text
    return concept


class _Builder:
    def __init__(self, assessment: Assessment, code_map: CodeMap, patient_ref: str | None) -> None:
        self.a = assessment
        self.cm = code_map
        self.patient_ref = patient_ref
        digest = hashlib.sha256(assessment.model_dump_json().encode()).hexdigest()
        self.seed = f"{digest}|{patient_ref or ''}"
        self.entries: list[dict[str, Any]] = []

    def uid(self, key: str) -> str:
        return str(uuid.uuid5(_NAMESPACE, f"{self.seed}|{key}"))

    def add(self, resource: dict[str, Any], key: str) -> str:
        rid = self.uid(key)
        resource = {"resourceType": resource.pop("resourceType"), "id": rid, **resource}
        url = f"urn:uuid:{rid}"
        self.entries.append({"fullUrl": url, "resource": resource})
        return url

    # -- shared pieces --------------------------------------------------------------------------------
    def meta(self) -> dict[str, Any]:
        v = self.a.versions
        system = self.cm.urls.her2cds_codes
        return {"tag": [
            {"system": system, "code": f"engine-{v.engine}", "display": f"her2cds engine {v.engine}"},
            {"system": system, "code": f"knowledge-base-{v.knowledge_base}",
             "display": f"her2cds knowledge base {v.knowledge_base} (as of {v.as_of.isoformat()})"},
        ]}

    def observation(self, code: dict[str, Any], device: str) -> dict[str, Any]:
        resource: dict[str, Any] = {
            "resourceType": "Observation",
            "meta": self.meta(),
            "status": "final",
            "category": [{"coding": [{"system": _OBSERVATION_CATEGORY, "code": "laboratory"}]}],
            "code": code,
        }
        if self.patient_ref:
            resource["subject"] = {"reference": self.patient_ref}
        resource["device"] = {"reference": device, "display": "her2cds"}
        return resource

    def status_value(self, status: str, extra_text: str | None = None) -> dict[str, Any]:
        ref = self.cm.answer_code(status)
        text = f"HER2 {status}" + (f" ({extra_text})" if extra_text else "")
        return _concept(_coding(self.cm, ref) if ref else None, _her2cds_coding(self.cm, f"status-{status}"),
                        text=text)

    def interpretation_code(self) -> dict[str, Any]:
        return _concept(_coding(self.cm, self.cm.observation_code("her2_interpretation")))

    def ihc_component(self, score: str) -> dict[str, Any]:
        ref = self.cm.answer_code(_IHC_MEANING[score])
        return {"code": _concept(_her2cds_coding(self.cm, "ihc-score", "HER2 IHC score")),
                "valueCodeableConcept": _concept(_coding(self.cm, ref) if ref else None, text=score)}

    def versions_text(self) -> str:
        v = self.a.versions
        return (f"her2cds engine {v.engine}; knowledge base {v.knowledge_base} (as of {v.as_of.isoformat()}); "
                f"OncoTree {v.oncotree}.")

    # -- resources ------------------------------------------------------------------------------------
    def device(self) -> str:
        v = self.a.versions
        return self.add({
            "resourceType": "Device",
            "identifier": [{"system": self.cm.urls.device_identifier, "value": "her2cds"}],
            "deviceName": [{"name": "her2cds", "type": "user-friendly-name"}],
            "version": [
                {"type": _concept(_her2cds_coding(self.cm, "engine-version"), text="engine"), "value": v.engine},
                {"type": _concept(_her2cds_coding(self.cm, "knowledge-base-version"), text="knowledge base"),
                 "value": v.knowledge_base},
                {"type": _concept(_her2cds_coding(self.cm, "knowledge-base-as-of"), text="knowledge base as of"),
                 "value": v.as_of.isoformat()},
                {"type": _concept(_her2cds_coding(self.cm, "oncotree-version"), text="OncoTree"), "value": v.oncotree},
            ],
            "note": [{"text": self.a.disclaimer}],
        }, "device")

    def specimen(self, spec: SpecimenResult, device: str, sources: list[str], specimen_ref: str | None) -> str:
        extra = spec.category.value if spec.category else None
        resource = self.observation(self.interpretation_code(), device)
        resource["valueCodeableConcept"] = self.status_value(spec.status.value, extra)
        if spec.collected_on is not None:
            resource["effectiveDateTime"] = spec.collected_on.isoformat()
        if specimen_ref:
            resource["specimen"] = {"reference": specimen_ref, "display": f"specimen {spec.id}"}
        else:
            resource["specimen"] = {"identifier": {"system": self.cm.urls.specimen_id, "value": spec.id},
                                    "display": f"specimen {spec.id} ({spec.procedure.value})"}
        components: list[dict[str, Any]] = []
        if spec.ihc_score is not None:
            components.append(self.ihc_component(spec.ihc_score.value))
        ish = spec.ish
        if ish is not None and ish.ratio is not None:
            components.append({"code": _concept(_coding(self.cm, self.cm.observation_code("her2_ish_ratio"))),
                               "valueQuantity": {"value": round(ish.ratio, 3), "unit": "ratio", "system": _UCUM,
                                                 "code": "{ratio}"}})
        if ish is not None and ish.her2_per_cell is not None:
            components.append({"code": _concept(_coding(self.cm, self.cm.observation_code("her2_ish_copies"))),
                               "valueQuantity": {"value": round(ish.her2_per_cell, 3), "unit": "copies per cell",
                                                 "system": _UCUM, "code": "{copies}/{cell}"}})
        if spec.ish_group is not None:
            components.append({"code": _concept(_her2cds_coding(self.cm, "ish-group", "ASCO/CAP ISH group")),
                               "valueInteger": spec.ish_group})
        if spec.ngs is not None:
            components.append({"code": _concept(_her2cds_coding(self.cm, "ngs-erbb2-amplification")),
                               "valueCodeableConcept": _concept(text=spec.ngs.amplification.value)})
            for variant in spec.ngs.variants:
                components.append(self.variant_component(variant.hgvs_p or variant.input, variant.activating))
        components.append({"code": _concept(_her2cds_coding(self.cm, "scoring-system")),
                           "valueString": spec.scoring_system})
        resource["component"] = components
        resource["derivedFrom"] = [{"reference": ref} for ref in sources]
        notes = [spec.basis]
        if not spec.adequate:
            notes.append("Specimen not adequate for a final result.")
        resource["note"] = [{"text": n} for n in notes if n]
        if not resource["derivedFrom"]:
            del resource["derivedFrom"]
        return self.add(resource, f"specimen:{spec.id}")

    def variant_component(self, hgvs: str, activating: bool | None) -> dict[str, Any]:
        label = "activating" if activating else ("not activating" if activating is False else "activity unknown")
        return {"code": _concept(_her2cds_coding(self.cm, "erbb2-variant", "ERBB2 protein change")),
                "valueCodeableConcept": _concept({"system": self.cm.uri("hgvs"), "code": f"p.{hgvs}"}
                                                 if not hgvs.startswith("p.") else {"system": self.cm.uri("hgvs"),
                                                                                    "code": hgvs},
                                                 text=f"ERBB2 {hgvs} ({label})")}

    def patient_level(self, device: str, specimen_urls: list[str], sources: Iterable[str]) -> str:
        her2 = self.a.her2
        extra = her2.category.value if her2.category else None
        resource = self.observation(self.interpretation_code(), device)
        resource["valueCodeableConcept"] = self.status_value(her2.status.value, extra)
        components: list[dict[str, Any]] = []
        if her2.ihc_score is not None:
            components.append(self.ihc_component(her2.ihc_score.value))
        if her2.category is not None:
            components.append({"code": _concept(_her2cds_coding(self.cm, "her2-category", "HER2 category")),
                               "valueCodeableConcept": _concept(_her2cds_coding(self.cm, her2.category.value),
                                                                text=her2.category.value)})
        if her2.erbb2_amplified is not None:
            components.append({"code": _concept(_her2cds_coding(self.cm, "erbb2-amplified", "ERBB2 amplified")),
                               "valueBoolean": her2.erbb2_amplified})
        for hgvs in her2.erbb2_activating_mutations:
            components.append(self.variant_component(hgvs, True))
        if components:
            resource["component"] = components
        derived = [*specimen_urls, *dict.fromkeys(sources)]
        if derived:
            resource["derivedFrom"] = [{"reference": ref} for ref in derived]
        notes = [f"Basis: {her2.basis}"]
        notes += [f"Flag {f.code}: {f.text}" for f in self.a.flags]
        notes += [f"Recommendation {r.code}: {r.text}" for r in self.a.recommendations]
        notes += [f"Input warning {w.code}: {w.text}" for w in self.a.warnings]
        notes += [self.versions_text(), self.a.disclaimer]
        resource["note"] = [{"text": n[:_MAX_NOTE]} for n in notes if n]
        resource["method"] = _concept(text=f"her2cds rule-based interpretation; {self.versions_text()}")
        return self.add(resource, "patient")

    def therapy(self, index: int, therapy: Mapping[str, Any], device: str, basis: str) -> str:
        tbd = self.cm.urls.tbd_codes
        resource = self.observation(_concept({"system": tbd, "code": "therapeutic-implication"},
                                             text="Therapeutic implication"), device)
        name = _first_text(therapy, _NAME_KEYS) or f"therapy option {index + 1}"
        agents = _agents(therapy) or [name]
        components: list[dict[str, Any]] = []
        medication = _coding(self.cm, self.cm.outbound_code("medication_assessed"))
        for agent in agents:
            components.append({"code": _concept(medication), "valueCodeableConcept": self.drug(agent)})
        context = _coding(self.cm, self.cm.outbound_code("treatment_context"))
        tumor = self.a.tumor
        components.append({"code": _concept(context), "valueCodeableConcept": _concept(
            {"system": self.cm.uri("oncotree"), "code": tumor.oncotree_code, "display": tumor.name},
            text=tumor.name)})
        status = _first_text(therapy, _STATUS_KEYS)
        if status:
            components.append({"code": _concept({"system": tbd, "code": "therapeutic-implication"}),
                               "valueCodeableConcept": _concept(text=status)})
        resource["component"] = components
        resource["derivedFrom"] = [{"reference": basis}]
        therapy_id = therapy.get("id")
        if isinstance(therapy_id, str) and therapy_id:
            resource["identifier"] = [{"system": self.cm.urls.knowledge_entry, "value": therapy_id}]
        note = _describe(therapy)
        if note:
            resource["note"] = [{"text": note[:_MAX_NOTE]}]
        return self.add(resource, f"therapy:{index}")

    def drug(self, name: str) -> dict[str, Any]:
        """A drug by name, with its RxNorm coding when the code table has a verified one."""
        entry = self.cm.rxnorm.get(name.strip().lower())
        coding = _coding(self.cm, entry.code) if entry is not None and entry.status == "verified" else None
        return _concept(coding, text=name)

    def report(self, results: list[str], specimen_refs: Iterable[str]) -> str:
        """The DiagnosticReport that carries the result Observations."""
        her2 = self.a.her2
        category = f", {her2.category.value}" if her2.category else ""
        resource: dict[str, Any] = {
            "resourceType": "DiagnosticReport",
            "meta": self.meta(),
            "status": "final",
            "category": [_concept(_coding(self.cm, self.cm.outbound_code("report_category")))],
            "code": _concept(_coding(self.cm, self.cm.outbound_code("diagnostic_report")),
                             text="HER2 (ERBB2) assessment"),
        }
        if self.patient_ref:
            resource["subject"] = {"reference": self.patient_ref}
        dates = [s.collected_on for s in self.a.specimens if s.collected_on is not None]
        if dates:
            resource["effectiveDateTime"] = max(dates).isoformat()
        specimens = list(dict.fromkeys(specimen_refs))
        if specimens:
            resource["specimen"] = [{"reference": ref} for ref in specimens]
        resource["result"] = [{"reference": ref} for ref in results]
        resource["conclusion"] = f"HER2 {her2.status.value}{category}. {her2.basis} {self.versions_text()}"[:_MAX_NOTE]
        resource["conclusionCode"] = [self.status_value(her2.status.value, her2.category.value if her2.category
                                                        else None)]
        return self.add(resource, "report")


def _as_mapping(therapy: Any) -> Mapping[str, Any]:
    if isinstance(therapy, BaseModel):
        dumped = therapy.model_dump(mode="json")
        return dumped if isinstance(dumped, Mapping) else {"value": dumped}
    if isinstance(therapy, Mapping):
        return json.loads(json.dumps(therapy, default=str))  # type: ignore[no-any-return]
    return {"value": str(therapy)}


def _first_text(data: Mapping[str, Any], keys: Iterable[str]) -> str | None:
    for key in keys:
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
        if isinstance(value, bool):
            return str(value).lower()
    return None


def _agents(data: Mapping[str, Any]) -> list[str]:
    for key in _AGENT_KEYS:
        value = data.get(key)
        if isinstance(value, list):
            names = [v.strip() for v in value if isinstance(v, str) and v.strip()]
            names += [n for v in value if isinstance(v, Mapping) and (n := _first_text(v, _NAME_KEYS))]
            if names:
                return names
    return []


def _describe(data: Mapping[str, Any]) -> str:
    """Every field of a therapy option as 'key: value' lines (lists joined), so nothing is lost."""
    lines: list[str] = []
    for key, value in data.items():
        if value is None or value == [] or value == {}:
            continue
        shown = "; ".join(_inline(v) for v in value) if isinstance(value, list) else _inline(value)
        lines.append(f"{key}: {shown}")
    return "\n".join(lines)


def _inline(value: Any) -> str:
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={_inline(v)}" for k, v in value.items() if v not in (None, [], {}))
    if isinstance(value, list):
        return "[" + "; ".join(_inline(v) for v in value) + "]"
    return str(value)


def assessment_to_bundle(
    assessment: Assessment,
    *,
    source_observations: Mapping[str, list[str]] | None = None,
    patient_ref: str | None = None,
    specimen_refs: Mapping[str, str] | None = None,
    code_map: CodeMap | None = None,
    bundle_type: BundleType = "collection",
) -> dict[str, Any]:
    """A FHIR R4 Bundle of the assessment: ``collection`` (default) or ``transaction`` (to post to a server).

    ``source_observations`` (specimen id -> input Observation references, from the inbound conversion) become
    ``derivedFrom``; ``patient_ref`` (e.g. ``Patient/123``) the ``subject``; ``specimen_refs`` (specimen id ->
    ``Specimen/x``) the ``specimen`` of the per-specimen Observations.
    """
    cm = code_map or default_code_map()
    sources = source_observations or {}
    refs = specimen_refs or {}
    builder = _Builder(assessment, cm, patient_ref)
    device = builder.device()
    specimen_urls = [
        builder.specimen(spec, device, list(sources.get(spec.id, [])), refs.get(spec.id))
        for spec in assessment.specimens
    ]
    all_sources = [ref for spec in assessment.specimens for ref in sources.get(spec.id, [])]
    patient = builder.patient_level(device, specimen_urls, all_sources)
    therapy_urls = [builder.therapy(index, _as_mapping(therapy), device, patient)
                    for index, therapy in enumerate(assessment.therapies)]
    builder.report([patient, *specimen_urls, *therapy_urls], (refs[s.id] for s in assessment.specimens if s.id in refs))
    if bundle_type == "transaction":
        _as_transaction(builder.entries, cm)
    elif bundle_type != "collection":
        raise ValueError(f"bundle_type must be collection or transaction, not {bundle_type!r}")
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": builder.uid("bundle"),
        "meta": builder.meta(),
        "type": bundle_type,
        "entry": builder.entries,
    }
    return bundle


def _as_transaction(entries: list[dict[str, Any]], code_map: CodeMap) -> None:
    """Each entry becomes a create (``POST <type>``): the server assigns ids, so resources carry none and refer to
    each other by their ``urn:uuid`` fullUrls; the Device is created only when none has the her2cds identifier."""
    for entry in entries:
        resource = entry["resource"]
        resource.pop("id", None)
        request: dict[str, Any] = {"method": "POST", "url": resource["resourceType"]}
        if resource["resourceType"] == "Device":
            request["ifNoneExist"] = f"identifier={code_map.urls.device_identifier}|her2cds"
        entry["request"] = request
