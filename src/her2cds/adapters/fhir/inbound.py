"""FHIR R4 in: a Bundle (or CDS Hooks prefetch resources) -> a her2cds case.

Read: Patient, Condition, Specimen, Observation, DiagnosticReport (its specimen link), MedicationStatement,
MedicationRequest, MedicationAdministration and Medication. Observations are grouped into specimens by
``Observation.specimen`` (or the specimen of the DiagnosticReport listing them), else by effective date, else
into one default specimen. Every resource, code or value that cannot be used becomes an ``InputWarning``
naming the resource and the field; nothing is dropped silently. See ``docs/fhir.md``.

The functions are pure: they take parsed JSON and return a :class:`Conversion`; they raise
:class:`~her2cds.errors.InvalidInputError` only when no case can be built at all (not a Bundle, several
patients, no tumor type).
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from her2cds.adapters.fhir._values import (
    JsonObj,
    Number,
    Value,
    codings,
    concept_label,
    concept_texts,
    effective_date,
    iter_extensions,
    match_answer,
    normalise_text,
    obj,
    objs,
    parse_date,
    parse_ihc_text,
    parse_number_text,
    read_value,
    ref_key,
    reference_of,
    short,
    text,
)
from her2cds.adapters.fhir.codes import CodeMap, ObservationEntry, TumorRule, default_code_map
from her2cds.adapters.fhir.medications import medication_drugs
from her2cds.errors import FieldProblem, InvalidInputError
from her2cds.knowledge.variants import HgvsError, normalize_protein
from her2cds.model.assessment import InputWarning
from her2cds.model.case import Case, Specimen
from her2cds.model.enums import Setting

__all__ = ["Conversion", "bundle_to_case", "resources_to_case"]

_MAX_RESOURCES = 20_000
_OK_OBSERVATION = {"final", "amended", "corrected", "appended"}
_SKIP_OBSERVATION = {"registered", "cancelled", "entered-in-error"}
_ACTIVE_CONDITION = {"active", "recurrence", "relapse"}
_SPECIMEN_ID = re.compile(r"[^A-Za-z0-9._-]+")
_PRIOR_STATUS = {
    "MedicationStatement": {"active", "completed", "stopped", "on-hold", "unknown"},
    "MedicationRequest": {"active", "completed", "stopped", "on-hold"},
    "MedicationAdministration": {"completed", "in-progress", "on-hold", "stopped"},
}
_ORDER_INTENTS = {"order", "original-order", "reflex-order", "filler-order", "instance-order"}
_STATUS_WORD = {
    "positive": "positive", "negative": "negative", "equivocal": "equivocal", "indeterminate": None,
    "her2_low": "negative", "her2_ultralow": "negative", "amplified": "amplified",
    "not_amplified": "not amplified", "present": None, "absent": None,
}


class Conversion(BaseModel):
    """The result of a conversion: the case, what could not be used, and where each specimen came from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    case: dict[str, Any]
    warnings: list[InputWarning] = []
    source_observations: dict[str, list[str]] = {}
    specimen_refs: dict[str, str] = {}


# ---------------------------------------------------------------------------------------------------
@dataclass
class _Resource:
    data: JsonObj
    type: str
    label: str  # "Observation/abc" (or its fullUrl): how warnings and derivedFrom name it
    keys: tuple[str, ...]


@dataclass
class _Group:
    """Findings of one specimen."""

    key: str
    specimen: _Resource | None = None
    specimen_ref: str | None = None
    date: dt.date | None = None
    ihc: tuple[str, str, dt.date | None] | None = None  # score, observation, date
    antibody: str | None = None
    ihc_reported: str | None = None
    reported_refs: dict[str, str] = field(default_factory=dict)  # kind -> observation giving a reported status
    ratio: tuple[float, str, dt.date | None] | None = None
    copies: tuple[float, str, dt.date | None] | None = None
    ish_reported: str | None = None
    interpretation: str | None = None
    variants: list[str] = field(default_factory=list)
    cn_call: str | None = None
    copy_number: float | None = None
    ngs_assay: str | None = None
    ngs_seen: bool = False
    observations: list[str] = field(default_factory=list)
    reported_only: list[str] = field(default_factory=list)

    def use(self, label: str) -> None:
        if label not in self.observations:
            self.observations.append(label)


@dataclass
class _TumorCandidate:
    code: str
    rank: tuple[int, int, int, str]
    condition: str
    rule: TumorRule | None
    histology: str | None
    fallback: bool = False
    override: bool = False


class _Converter:
    def __init__(self, code_map: CodeMap) -> None:
        self.cm = code_map
        self.warnings: list[InputWarning] = []
        self.resources: list[_Resource] = []
        self.index: dict[str, _Resource] = {}
        self.patient_keys: set[str] = set()
        self.groups: dict[str, _Group] = {}
        self.obs_specimen: dict[str, str] = {}  # observation key -> specimen reference (from DiagnosticReport)
        self.biomarkers: dict[str, list[tuple[str, dt.date | None, str]]] = {}
        self.metastatic: list[str] = []
        self.unrecognised_codes: Counter[str] = Counter()
        self.unrecognised_first: dict[str, str] = {}
        self.unused_types: Counter[str] = Counter()
        self.other_genes: Counter[str] = Counter()

    # -- warnings ---------------------------------------------------------------------------------
    def warn(self, code: str, message: str, where: str | None) -> None:
        self.warnings.append(InputWarning(code=f"fhir.{code}", text=message, field=where))

    # -- collection -------------------------------------------------------------------------------
    def add(self, resource: Any, full_url: Any, where: str) -> None:
        data = obj(resource)
        if data is None or not isinstance(data.get("resourceType"), str):
            self.warn("entry_invalid", "an entry without a FHIR resource (no resourceType) was skipped", where)
            return
        rtype = str(data["resourceType"])
        rid = text(data.get("id"))
        url = text(full_url)
        label = f"{rtype}/{rid}" if rid else (url or f"{rtype}@{where}")
        keys = tuple(k for k in (f"{rtype}/{rid}" if rid else None, url, ref_key(url) if url else None) if k)
        item = _Resource(data, rtype, label, keys)
        self.resources.append(item)
        for key in keys:
            self.index.setdefault(key, item)
        for contained in objs(data.get("contained")):
            cid = text(contained.get("id"))
            ctype = contained.get("resourceType")
            if cid and isinstance(ctype, str):
                self.index.setdefault(f"{label}#{cid}", _Resource(contained, ctype, f"{label}#{cid}", ()))

    def resolve(self, reference: str | None, owner: _Resource | None = None) -> _Resource | None:
        if reference is None:
            return None
        if reference.startswith("#") and owner is not None:
            return self.index.get(f"{owner.label}{reference}")
        return self.index.get(ref_key(reference)) or self.index.get(reference)

    # -- patient ------------------------------------------------------------------------------------
    def find_patient(self) -> None:
        patients = [r for r in self.resources if r.type == "Patient"]
        if len(patients) > 1:
            raise InvalidInputError.single(
                "Patient", f"the input holds {len(patients)} Patient resources; send one patient per Bundle",
                len(patients))
        if patients:
            self.patient_keys = set(patients[0].keys)
            return
        subjects = {ref_key(ref) for r in self.resources
                    if (ref := reference_of(r.data.get("subject") or r.data.get("patient")))
                    and ref_key(ref).startswith("Patient/")}
        if len(subjects) > 1:
            raise InvalidInputError.single(
                "subject", "the resources refer to more than one patient; send one patient per Bundle",
                sorted(subjects)[:3])

    def for_patient(self, item: _Resource) -> bool:
        ref = reference_of(item.data.get("subject") or item.data.get("patient"))
        if ref is None or not self.patient_keys:
            return True
        if ref_key(ref) in self.patient_keys or ref in self.patient_keys:
            return True
        self.warn("subject_mismatch", f"{item.label} is about another subject than the Patient; not used",
                  f"{item.label}.subject")
        return False

    # -- conditions ---------------------------------------------------------------------------------
    def tumor(self, default_code: str | None) -> tuple[dict[str, Any], str | None]:
        candidates: list[_TumorCandidate] = []
        settings: list[tuple[str, str]] = []
        not_cancer: Counter[str] = Counter()
        for item in self.resources:
            if item.type != "Condition" or not self.for_patient(item):
                continue
            data = item.data
            verification = self._status_code(data.get("verificationStatus"))
            if verification in ("refuted", "entered-in-error"):
                self.warn("condition_not_used", f"{item.label} has verificationStatus {verification}; not used",
                          f"{item.label}.verificationStatus")
                continue
            for extension in iter_extensions(data, self.cm.urls.disease_setting_extension):
                value = text(extension.get("valueCode"))
                if value in {s.value for s in Setting}:
                    settings.append((value, item.label))
                else:
                    self.warn("value_unmapped", f"{item.label}: disease-setting extension value {value!r} is "
                              f"not one of {', '.join(s.value for s in Setting)}", f"{item.label}.extension")
            candidate = self._condition_candidate(item)
            if candidate == "secondary":
                self.metastatic.append(item.label)
            elif candidate is None:
                not_cancer[concept_label(data.get("code"), self.cm)] += 1
            else:
                candidates.append(candidate)
        for label, count in sorted(not_cancer.items()):
            self.warn("condition_not_cancer",
                      f"{count} Condition(s) with code {label} are not a cancer diagnosis in the code table; "
                      "not used", "Condition.code")
        setting: str | None = None
        if settings:
            setting = settings[-1][0]
            if len({s for s, _ in settings}) > 1:
                self.warn("conflicting_values", "Conditions give different disease settings "
                          f"({', '.join(sorted({s for s, _ in settings}))}); used {setting}", "Condition.extension")
        if not candidates:
            if default_code:
                return {"oncotree_code": default_code}, setting
            raise InvalidInputError.single(
                "Condition.code",
                "no Condition maps to a tumor type: give a cancer Condition coded in ICD-10(-CM), ICD-O-3 or "
                f"SNOMED CT, or the extension {self.cm.urls.oncotree_code_extension} (valueCode: an OncoTree code)",
                None, has_value=False)
        candidates.sort(key=lambda c: c.rank)
        best = candidates[0]
        others = sorted({c.code for c in candidates if c.code != best.code})
        if others:
            self.warn("tumor_ambiguous", f"Conditions map to several tumor types; used {best.code} from "
                      f"{best.condition} (also seen: {', '.join(others)})", f"{best.condition}.code")
        if best.fallback:
            self.warn("tumor_fallback", f"{best.condition}: {self.cm.file.fallback.assumption}",
                      f"{best.condition}.code")
        elif best.rule is not None:
            if best.rule.assumption:
                self.warn("tumor_assumed", f"{best.condition}: {best.rule.assumption} "
                          f"(code-table entry {best.rule.id})", f"{best.condition}.code")
            if best.rule.status != "verified":
                self.warn("tumor_mapping_unverified", f"{best.condition}: tumor type {best.code} comes from "
                          f"code-table entry {best.rule.id}, which is unverified; confirm the tumor type",
                          f"{best.condition}.code")
        tumor: dict[str, Any] = {"oncotree_code": best.code}
        if best.histology:
            tumor["histology"] = short(best.histology, 200)
        return tumor, setting

    @staticmethod
    def _status_code(concept: Any) -> str | None:
        for coding in objs((obj(concept) or {}).get("coding")):
            code = text(coding.get("code"))
            if code:
                return code
        return None

    def _condition_candidate(self, item: _Resource) -> _TumorCandidate | Literal["secondary"] | None:
        data = item.data
        cm = self.cm
        clinical = self._status_code(data.get("clinicalStatus"))
        active = 0 if clinical is None or clinical in _ACTIVE_CONDITION else 1
        when = parse_date(data.get("onsetDateTime")) or parse_date(data.get("recordedDate")) or dt.date.min
        recency = f"{dt.date.max.toordinal() - when.toordinal():08d}"
        for extension in iter_extensions(data, cm.urls.oncotree_code_extension):
            code = text(extension.get("valueCode")) or text((obj(extension.get("valueCoding")) or {}).get("code"))
            if code:
                return _TumorCandidate(code.upper(), (0, active, 0, recency), item.label, None, None,
                                       override=True)
            self.warn("value_unmapped", f"{item.label}: the oncotree-code extension has no valueCode",
                      f"{item.label}.extension")
        concepts = [data.get("code"), *objs(data.get("bodySite"))]
        histology_concepts = [obj(ext.get("valueCodeableConcept"))
                              for ext in iter_extensions(data, cm.urls.histology_extension)]
        concepts.extend(c for c in histology_concepts if c is not None)
        topography: list[str] = []
        morphology: list[str] = []
        snomed: list[str] = []
        histology_text: str | None = None
        for concept in concepts:
            for coding in codings(concept, cm):
                if not coding.code:
                    continue
                code = coding.code.strip().upper()
                if coding.system == "oncotree":
                    return _TumorCandidate(code, (0, active, 0, recency), item.label, None, None, override=True)
                if coding.system == "icd10":
                    topography.append(_topography(code))
                elif coding.system == "icdo3":
                    if re.match(r"^\d{4}(/\d)?$", code):
                        morphology.append(code)
                        histology_text = histology_text or coding.display
                    else:
                        topography.append(_topography(code))
                elif coding.system == "snomed":
                    snomed.append(code)
        for concept in histology_concepts:
            histology_text = histology_text or next(iter(concept_texts(concept, cm)), None)
        ranges = cm.file.neoplasm_ranges
        profiles = [p for p in (data.get("meta") or {}).get("profile", []) if isinstance(p, str)] \
            if isinstance(data.get("meta"), Mapping) else []
        if (cm.urls.secondary_cancer_profile in [p.split("|")[0] for p in profiles]
                or any(_in_ranges(t[:3], ranges.secondary) for t in topography if t[:1] == "C")
                or any(m.endswith("/6") for m in morphology)
                or any(s in ranges.secondary_snomed for s in snomed)):
            return "secondary"
        for rule in cm.file.tumor_rules:
            if self._rule_matches(rule, topography, morphology, snomed):
                specificity = 2 if rule.assumption else 1
                return _TumorCandidate(rule.oncotree, (1, active, specificity, recency), item.label, rule,
                                       histology_text)
        malignant = (any(_in_ranges(t[:3], ranges.malignant) for t in topography if t[:1] == "C")
                     or any(m.endswith("/3") for m in morphology)
                     or cm.urls.primary_cancer_profile in [p.split("|")[0] for p in profiles])
        if malignant:
            return _TumorCandidate(cm.file.fallback.oncotree, (1, active, 3, recency), item.label, None,
                                   histology_text, fallback=True)
        return None

    def _rule_matches(self, rule: TumorRule, topography: list[str], morphology: list[str],
                      snomed: list[str]) -> bool:
        if rule.snomed and any(code in rule.snomed for code in snomed):
            return True
        if rule.topography and not any(t.startswith(p.upper()) for t in topography for p in rule.topography):
            return False
        if not rule.topography and not (rule.morphology or rule.morphology_group):
            return False
        if rule.no_morphology:
            return not morphology
        digits = [m[:4] for m in morphology]
        if rule.morphology:
            return any(d.startswith(p) for d in digits for p in rule.morphology)
        if rule.morphology_group:
            group = self.cm.morphology_groups[rule.morphology_group]
            return any(lo <= int(d) <= hi for d in digits if d.isdigit() for lo, hi in group.ranges)
        return bool(rule.topography)

    # -- observations -------------------------------------------------------------------------------
    def link_reports(self) -> None:
        for item in self.resources:
            if item.type != "DiagnosticReport":
                continue
            specimens = [ref for s in objs(item.data.get("specimen")) if (ref := reference_of(s))]
            if len(specimens) != 1:
                continue
            for result in objs(item.data.get("result")):
                ref = reference_of(result)
                target = self.resolve(ref, item)
                if target is not None:
                    self.obs_specimen.setdefault(target.label, specimens[0])

    def observations(self) -> None:
        for item in self.resources:
            if item.type != "Observation" or not self.for_patient(item):
                continue
            status = text(item.data.get("status"))
            if status in _SKIP_OBSERVATION:
                self.warn("observation_status", f"{item.label} has status {status}; not used", f"{item.label}.status")
                continue
            if status not in _OK_OBSERVATION:
                self.warn("observation_status", f"{item.label} has status {status or 'missing'}; used, but the "
                          "result may not be final", f"{item.label}.status")
            self._observation(item, item.data, item.label, top=True)

    def _entry_for(self, code: Any, node: JsonObj | None = None) -> ObservationEntry | None:
        meta = obj(node.get("meta")) if node is not None else None
        for profile in (meta or {}).get("profile") or []:
            if isinstance(profile, str) and profile.split("|")[0] in self.cm.profile_index:
                return self.cm.profile_index[profile.split("|")[0]]
        for coding in codings(code, self.cm):
            if coding.system and coding.code:
                entry = self.cm.observation_index.get((coding.system, coding.code.upper()))
                if entry is not None:
                    return entry
        for label in concept_texts(code, self.cm):
            lowered = normalise_text(label)
            for pattern, entry in self.cm.text_pattern_entries:
                if pattern in lowered:
                    return entry
        return None

    def _group_for(self, item: _Resource, node: JsonObj) -> _Group:
        ref = reference_of(item.data.get("specimen")) or self.obs_specimen.get(item.label)
        date = effective_date(item.data)
        if ref is not None:
            key = f"spec:{ref_key(ref)}"
            group = self.groups.get(key)
            if group is None:
                group = _Group(key=key, specimen=self.resolve(ref, item), specimen_ref=ref)
                self.groups[key] = group
        else:
            key = f"date:{date.isoformat()}" if date else "default"
            group = self.groups.setdefault(key, _Group(key=key))
        if date is not None and (group.date is None or date < group.date):
            group.date = date
        return group

    def _observation(self, item: _Resource, node: JsonObj, label: str, *, top: bool) -> None:
        where = label if top else f"{label}.component"
        entry = self._entry_for(node.get("code"), node)
        gene = self._gene(node) if entry is None or entry.role == "variant" else None
        if entry is None:
            if gene in ("KRAS", "NRAS"):
                self._ras(item, node, label, gene, gene_level=True)
                return
            code_label = concept_label(node.get("code"), self.cm)
            if top:
                self.unrecognised_codes[code_label] += 1
                self.unrecognised_first.setdefault(code_label, label)
            else:
                self.warn("observation_not_used", f"{label}: component {code_label} is not a HER2-related code in "
                          "the code table; not used", f"{label}.component")
            return
        role = entry.role
        if role == "unsupported":
            self.warn("observation_unsupported", f"{label} ({concept_label(node.get('code'), self.cm)}) is not "
                      f"used: {entry.reason}", f"{where}.code")
            return
        if role == "variant":
            self._variant(item, node, label, gene)
            return
        if role in ("er", "pr", "hormone_receptor"):
            self._receptor(item, node, label, role)
            return
        if role == "pd_l1_cps":
            self._pd_l1(item, node, label)
            return
        if role == "m_category":
            self._m_category(node, label)
            return
        group = self._group_for(item, node)
        value = read_value(node)
        vpath = f"{where}.{value.path}"
        if role == "her2_ish_panel":
            for component in objs(node.get("component")):
                self._observation(item, component, label, top=False)
            if value.kind != "missing":
                self._ish_call(group, value, label, vpath)
            else:
                group.use(label)
            return
        if value.kind == "missing":
            reason = concept_label(node.get("dataAbsentReason"), self.cm) if node.get("dataAbsentReason") else None
            self.warn("value_missing", f"{label} has no value" + (f" (dataAbsentReason {reason})" if reason else ""),
                      f"{where}.value[x]")
            return
        if role == "her2_ihc":
            self._ihc(group, item, value, label, vpath)
        elif role == "her2_ish":
            self._ish_call(group, value, label, vpath)
        elif role == "her2_ish_ratio":
            self._ish_number(group, item, value, label, vpath, "ratio")
        elif role == "her2_ish_copies":
            self._ish_number(group, item, value, label, vpath, "copies")
        elif role == "her2_interpretation":
            self._interpretation(group, value, label, vpath)

    # -- HER2 findings --------------------------------------------------------------------------------
    def _meaning(self, value: Value, vpath: str) -> str | None:
        if value.kind == "coded":
            match = match_answer(value.concept, self.cm)
            if match is None:
                return None
            if match.system_mismatch is not None:
                self.warn("coding_system_mismatch", f"code {match.system_mismatch.code} is sent under system "
                          f"{match.system_mismatch.raw_system} but is a SNOMED CT concept; read as "
                          f"{match.entry.meaning} ({match.entry.id})", vpath)
            return match.entry.meaning
        if value.kind == "string" and value.string:
            found = self.cm.answer_texts.get(normalise_text(value.string))
            return found.meaning if found else None
        return None

    def _ihc(self, group: _Group, item: _Resource, value: Value, label: str, vpath: str) -> None:
        score: str | None = None
        meaning = self._meaning(value, vpath)
        if meaning in ("ihc_0", "ihc_1", "ihc_2", "ihc_3"):
            score = {"ihc_0": "0", "ihc_1": "1+", "ihc_2": "2+", "ihc_3": "3+"}[meaning]
        elif meaning is None and value.kind in ("coded", "string"):
            for candidate in ([value.string] if value.string else concept_texts(value.concept, self.cm)):
                score = parse_ihc_text(candidate)
                if score:
                    break
        elif meaning is None and value.kind == "number" and value.number is not None:
            number = value.number
            if number.comparator is None and number.value in (0, 1, 2, 3) and (number.unit or "") in ("", "{score}"):
                score = "0" if number.value == 0 else f"{int(number.value)}+"
        if score is None and meaning is not None and meaning in self.cm.qualitative_ihc:
            mapped = self.cm.qualitative_ihc[meaning]
            score = mapped.score.value
            self.warn("ihc_score_inferred", f"{label} reports IHC as '{meaning}' without a score; read as IHC "
                      f"{score} ({mapped.id})", vpath)
        if score is None:
            if meaning == "negative":
                group.ihc_reported = "negative"
                group.reported_refs["ihc"] = label
                group.reported_only.append(label)
                self.warn("ihc_negative_unscored", f"{label} reports IHC 'negative' without a score (0 and 1+ "
                          "are both negative and differ for HER2-low); kept as the reported status only", vpath)
            else:
                self._unmapped(label, value, vpath, "an IHC score (0, 1+, 2+, 3+)")
            return
        date = effective_date(item.data)
        if group.ihc is not None and group.ihc[0] != score:
            keep = group.ihc if (group.ihc[2] or dt.date.min) > (date or dt.date.min) else (score, label, date)
            self.warn("conflicting_values", f"specimen has two IHC scores ({group.ihc[0]} in {group.ihc[1]}, "
                      f"{score} in {label}); used the later one ({keep[0]})", vpath)
            group.ihc = keep
        else:
            group.ihc = (score, label, date)
        method = item.data.get("method")
        antibody = next(iter(concept_texts(method, self.cm)), None) if method else None
        if antibody:
            group.antibody = short(antibody, 200)
        group.use(label)

    def _ish_call(self, group: _Group, value: Value, label: str, vpath: str) -> None:
        if value.kind == "number" and value.number is not None and _is_ratio_unit(value.number):
            self.warn("value_interpreted", f"{label}: a number with unit '{value.number.unit}' under an ISH "
                      "presence code is read as the HER2/CEP17 ratio", vpath)
            self._set_number(group, value.number, label, None, vpath, "ratio")
            return
        if value.kind == "string" and value.string:
            number = parse_number_text(value.string)
            if number is not None:
                self._set_number(group, number, label, None, vpath, "ratio")
                return
        meaning = self._meaning(value, vpath)
        words = {"positive": "amplified", "amplified": "amplified", "present": "amplified",
                 "negative": "not amplified", "not_amplified": "not amplified", "absent": "not amplified",
                 "equivocal": "equivocal"}
        if meaning in words:
            group.ish_reported = words[meaning]
            group.reported_refs["ish"] = label
            group.reported_only.append(label)
            self.warn("ish_unquantified", f"{label} reports ISH as '{words[meaning]}' without counts or a ratio; "
                      "kept as the reported status only", vpath)
            return
        self._unmapped(label, value, vpath, "an ISH result (amplified / not amplified or a ratio)")

    def _ish_number(self, group: _Group, item: _Resource, value: Value, label: str, vpath: str,
                    what: Literal["ratio", "copies"]) -> None:
        number = value.number
        if value.kind == "string" and value.string:
            number = parse_number_text(value.string)
        if number is None:
            self._unmapped(label, value, vpath, "a number")
            return
        self._set_number(group, number, label, effective_date(item.data), vpath, what)

    def _set_number(self, group: _Group, number: Number, label: str, date: dt.date | None, vpath: str,
                    what: Literal["ratio", "copies"]) -> None:
        name = "HER2/CEP17 ratio" if what == "ratio" else "HER2 copies per cell"
        if number.comparator is not None:
            group.reported_only.append(label)
            self.warn("value_bound_only", f"{label} gives the {name} only as a bound "
                      f"('{short(number.legacy_text or f'{number.comparator} {number.value:g}')}'); a bound is "
                      "not a count, so it is not used as one", vpath)
            return
        if number.value < 0:
            self._unmapped(label, Value("number", vpath, number=number), vpath, f"a non-negative {name}")
            return
        if number.legacy_text is not None:
            self.warn("value_interpreted", f"{label}: the text '{short(number.legacy_text)}' is read as the "
                      f"{name} {number.value:g}", vpath)
        current = group.ratio if what == "ratio" else group.copies
        if current is not None and abs(current[0] - number.value) > 1e-9:
            self.warn("conflicting_values", f"specimen has two values of the {name} ({current[0]:g} in "
                      f"{current[1]}, {number.value:g} in {label}); used the first", vpath)
            return
        if what == "ratio":
            group.ratio = (number.value, label, date)
        else:
            group.copies = (number.value, label, date)
        group.use(label)

    def _interpretation(self, group: _Group, value: Value, label: str, vpath: str) -> None:
        meaning = self._meaning(value, vpath)
        word = _STATUS_WORD.get(meaning) if meaning else None
        if word is None:
            self._unmapped(label, value, vpath, "a HER2 status (positive, negative, equivocal, HER2-low)")
            return
        group.interpretation = word
        group.reported_refs["interpretation"] = label
        group.reported_only.append(label)

    def _unmapped(self, label: str, value: Value, vpath: str, expected: str) -> None:
        shown = value.string or (concept_label(value.concept, self.cm) if value.concept else None)
        if shown is None and value.number is not None:
            shown = f"{value.number.value:g} {value.number.unit or ''}".strip()
        self.warn("value_unmapped", f"{label}: value {short(shown or value.kind)!r} is not {expected}; not used",
                  vpath)

    # -- genomics -----------------------------------------------------------------------------------
    def _components(self, node: JsonObj) -> dict[str, list[JsonObj]]:
        found: dict[str, list[JsonObj]] = {}
        for component in objs(node.get("component")):
            for coding in codings(component.get("code"), self.cm):
                if coding.system and coding.code:
                    entry = self.cm.component_index.get((coding.system, coding.code.upper()))
                    if entry is not None:
                        found.setdefault(entry.role, []).append(component)
                        break
        return found

    def _gene(self, node: JsonObj) -> str | None:
        for component in self._components(node).get("gene_studied", []):
            concept = component.get("valueCodeableConcept")
            for coding in codings(concept, self.cm):
                for candidate in (coding.code, coding.display):
                    if candidate:
                        key = candidate.strip().upper()
                        gene = self.cm.gene_index.get(key) or self.cm.gene_index.get(f"HGNC:{key}")
                        if gene is not None:
                            return gene.gene
            for label in concept_texts(concept, self.cm):
                gene = self.cm.gene_index.get(label.strip().upper())
                if gene is not None:
                    return gene.gene
            return concept_label(concept, self.cm)
        return None

    def _variant(self, item: _Resource, node: JsonObj, label: str, gene: str | None) -> None:
        value = read_value(node)
        meaning = self._meaning(value, f"{label}.{value.path}") if value.kind != "missing" else None
        comps = self._components(node)
        if gene in ("KRAS", "NRAS"):
            self._ras(item, node, label, gene, gene_level=False)
            return
        if gene != "ERBB2":
            self.other_genes[gene or "(no gene studied)"] += 1
            return
        group = self._group_for(item, node)
        if meaning in ("absent", "negative"):
            group.ngs_seen = True
            group.use(label)
            return
        if meaning not in (None, "present", "positive"):
            self._unmapped(label, value, f"{label}.{value.path}", "present or absent")
            return
        used = False
        for component in comps.get("dna_change_type", []) + comps.get("cnv_type", []):
            for coding in codings(component.get("valueCodeableConcept"), self.cm):
                if coding.system and coding.code:
                    cnv = self.cm.copy_number_index.get((coding.system, coding.code.upper()))
                    if cnv is not None:
                        used = True
                        if cnv.call is not None:
                            group.cn_call = cnv.call.value
                        else:
                            self.warn("value_interpreted", f"{label}: {coding.display or coding.code} does not "
                                      "say gain or amplification; the copy number is passed without a call "
                                      f"({cnv.id})", f"{label}.component")
        for component in comps.get("copy_number", []):
            number = read_value(component).number
            if number is not None and number.comparator is None and number.value >= 0:
                group.copy_number = number.value
                used = True
        for component in comps.get("amino_acid_change", []):
            raw = self._hgvs_text(component)
            if raw is None:
                continue
            try:
                canonical = normalize_protein(raw.split(":")[-1])
            except HgvsError:
                self.warn("variant_unparsed", f"{label}: amino-acid change {short(raw)!r} is not HGVS protein "
                          "notation her2cds reads; not used", f"{label}.component")
                continue
            if canonical not in group.variants:
                group.variants.append(canonical)
            used = True
        if not used:
            dna = [self._hgvs_text(c) for c in comps.get("dna_change", [])]
            detail = f" (DNA change {short(dna[0])!r} without a protein change)" if dna and dna[0] else ""
            self.warn("variant_unparsed", f"{label}: ERBB2 result without a protein change or copy-number "
                      f"finding{detail}; not used", f"{label}.component")
            return
        group.ngs_seen = True
        method = obj(item.data.get("method"))
        device = obj(item.data.get("device"))
        assay = next(iter(concept_texts(method, self.cm)), None) if method else None
        assay = assay or (text(device.get("display")) if device else None)
        if assay:
            group.ngs_assay = short(assay, 200)
        group.use(label)

    def _hgvs_text(self, component: JsonObj) -> str | None:
        concept = component.get("valueCodeableConcept")
        if concept is not None:
            for coding in codings(concept, self.cm):
                if coding.code:
                    return coding.code
            texts = concept_texts(concept, self.cm)
            return texts[0] if texts else None
        return text(component.get("valueString"))

    def _ras(self, item: _Resource, node: JsonObj, label: str, gene: str, *, gene_level: bool) -> None:
        value = read_value(node)
        meaning = self._meaning(value, f"{label}.{value.path}")
        comps = self._components(node)
        specific = bool(comps.get("amino_acid_change") or comps.get("dna_change"))
        if meaning in ("present", "positive"):
            status = "mutant"
        elif meaning in ("absent", "negative"):
            if specific and not gene_level:
                self.warn("value_interpreted", f"{label}: the absence of one {gene} variant does not show that "
                          f"{gene} is wild type; not used", f"{label}.{value.path}")
                return
            status = "wild_type"
        else:
            self._unmapped(label, value, f"{label}.{value.path}", f"a {gene} result (detected / not detected)")
            return
        self.biomarkers.setdefault(gene.lower(), []).append((status, effective_date(item.data), label))

    # -- other biomarkers -----------------------------------------------------------------------------
    def _receptor(self, item: _Resource, node: JsonObj, label: str, role: str) -> None:
        value = read_value(node)
        meaning = self._meaning(value, f"{label}.{value.path}")
        status = {"positive": "positive", "present": "positive", "negative": "negative",
                  "absent": "negative"}.get(meaning or "")
        if status is None:
            self._unmapped(label, value, f"{label}.{value.path}", "positive or negative (a percentage has no "
                           "cut-off in the code table)")
            return
        self.biomarkers.setdefault(role, []).append((status, effective_date(item.data), label))

    def _pd_l1(self, item: _Resource, node: JsonObj, label: str) -> None:
        value = read_value(node)
        number = value.number
        if value.kind == "string" and value.string:
            number = parse_number_text(value.string)
        if number is None or number.comparator is not None or number.value < 0:
            self._unmapped(label, value, f"{label}.{value.path}", "a PD-L1 combined positive score (a number)")
            return
        self.biomarkers.setdefault("pd_l1_cps", []).append((f"{number.value:g}", effective_date(item.data), label))

    def _m_category(self, node: JsonObj, label: str) -> None:
        value = read_value(node)
        candidates = [value.string] if value.string else []
        if value.concept is not None:
            candidates += [c.code for c in codings(value.concept, self.cm) if c.code]
            candidates += concept_texts(value.concept, self.cm)
        for candidate in candidates:
            token = candidate.strip().replace(" ", "")
            if any(p.match(token) for p in self.cm.metastasis_patterns):
                self.metastatic.append(label)
                return

    def _latest(self, key: str) -> str | None:
        values = self.biomarkers.get(key, [])
        if not values:
            return None
        ordered = sorted(values, key=lambda v: v[1] or dt.date.min)
        if len({v[0] for v in values}) > 1:
            self.warn("conflicting_values", f"{key} results differ ({', '.join(f'{v[0]} in {v[2]}' for v in values)}); "
                      f"used the most recent ({ordered[-1][0]})", ordered[-1][2])
        return ordered[-1][0]

    def biomarker_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        cps = self._latest("pd_l1_cps")
        if cps is not None:
            out["pd_l1_cps"] = float(cps)
        for gene in ("kras", "nras"):
            values = [v[0] for v in self.biomarkers.get(gene, [])]
            if "mutant" in values:
                out[gene] = "mutant"
                if "wild_type" in values:
                    self.warn("conflicting_values", f"{gene.upper()} is reported both mutant and wild type; used "
                              "mutant", gene.upper())
            elif values:
                out[gene] = "wild_type"
        combined = self._latest("hormone_receptor")
        er, pr = self._latest("er"), self._latest("pr")
        if combined is not None:
            out["hormone_receptor"] = combined
        elif "positive" in (er, pr):
            out["hormone_receptor"] = "positive"
        elif er == "negative" and pr == "negative":
            out["hormone_receptor"] = "negative"
        elif er or pr:
            missing = "PR" if er else "ER"
            self.warn("hormone_receptor_incomplete", f"{'ER' if er else 'PR'} is negative and {missing} is not "
                      "given; hormone-receptor status left unknown", missing)
        return out

    # -- specimens ------------------------------------------------------------------------------------
    def specimens(self) -> tuple[list[dict[str, Any]], dict[str, list[str]], dict[str, str]]:
        out: list[dict[str, Any]] = []
        sources: dict[str, list[str]] = {}
        refs: dict[str, str] = {}
        used_ids: set[str] = set()
        for group in self.groups.values():
            has_content = group.ihc or group.ratio or group.copies or group.ngs_seen
            spec_id = self._specimen_id(group, used_ids)
            if not has_content:
                if group.reported_only:
                    reported = group.interpretation or group.ish_reported or group.ihc_reported
                    self.warn("specimen_without_measurements",
                              f"{', '.join(group.reported_only)} report HER2 as '{reported}' but give no IHC "
                              "score, ISH counts or NGS result; a reported status alone is not assessed",
                              group.reported_only[0])
                continue
            used_ids.add(spec_id)
            spec = self._specimen_dict(group, spec_id)
            try:
                Specimen.model_validate(spec)
            except ValidationError as exc:
                error = exc.errors()[0]
                where = ".".join(str(p) for p in error["loc"])
                self.warn("specimen_dropped", f"specimen {spec_id} from {', '.join(group.observations)} is not "
                          f"valid ({where}: {error['msg']}); not used", group.observations[0])
                continue
            out.append(spec)
            sources[spec_id] = list(group.observations)
            if group.specimen_ref:
                refs[spec_id] = group.specimen.label if group.specimen else ref_key(group.specimen_ref)
        return out, sources, refs

    def _specimen_id(self, group: _Group, used: set[str]) -> str:
        if group.specimen_ref:
            base = ref_key(group.specimen_ref).split("/")[-1]
        elif group.key.startswith("date:"):
            base = f"obs-{group.key[5:]}"
        else:
            base = "default"
        base = _SPECIMEN_ID.sub("-", base).strip("-")[:60] or "specimen"
        candidate, n = base, 2
        while candidate in used:
            candidate, n = f"{base}-{n}", n + 1
        return candidate

    def _specimen_dict(self, group: _Group, spec_id: str) -> dict[str, Any]:
        procedure, site, site_detail, collected = self._specimen_facts(group, spec_id)
        spec: dict[str, Any] = {"id": spec_id, "procedure": procedure}
        if site and procedure != "plasma":
            spec["site"] = site
        if site_detail:
            spec["site_detail"] = site_detail
        if collected is not None:
            spec["collected_on"] = collected.isoformat()
        has_tissue_tests = group.ihc or group.ratio or group.copies
        if procedure == "plasma" and has_tissue_tests:
            self.warn("value_unmapped", f"specimen {spec_id} is blood/plasma but carries IHC/ISH results; those "
                      "results are not used", group.observations[0])
        elif has_tissue_tests:
            if group.ihc:
                spec["ihc"] = {"score": group.ihc[0], **({"antibody": group.antibody} if group.antibody else {})}
            ish = self._ish_dict(group, spec_id)
            if ish:
                spec["ish"] = ish
        if group.ngs_seen:
            ngs: dict[str, Any] = {"erbb2_variants": list(group.variants)}
            if group.cn_call:
                ngs["erbb2_cn_call"] = group.cn_call
            if group.copy_number is not None:
                ngs["erbb2_copy_number"] = group.copy_number
            if group.ngs_assay:
                ngs["assay"] = group.ngs_assay
            spec["ngs"] = ngs
        reported = group.interpretation or group.ish_reported or group.ihc_reported
        if reported and procedure != "plasma":
            spec["reported_status"] = reported
            kind = "interpretation" if group.interpretation else "ish" if group.ish_reported else "ihc"
            source = group.reported_refs[kind]
            if source not in group.observations:
                group.observations.insert(0, source)
        return spec

    def _ish_dict(self, group: _Group, spec_id: str) -> dict[str, Any] | None:
        if group.ratio is not None:
            ish: dict[str, Any] = {"probe": "dual", "ratio": group.ratio[0]}
            if group.copies is not None:
                ish["her2_per_cell"] = group.copies[0]
            return ish
        if group.copies is not None:
            self.warn("ish_single_probe_assumed", f"specimen {spec_id}: only the HER2 copies per cell are given "
                      f"({group.copies[1]}); read as single-probe ISH", group.copies[1])
            return {"probe": "single", "her2_per_cell": group.copies[0]}
        return None

    def _specimen_facts(self, group: _Group, spec_id: str) -> tuple[str, str | None, str | None, dt.date | None]:
        procedure: str | None = None
        site: str | None = None
        site_detail: str | None = None
        collected: dt.date | None = None
        where = group.observations[0] if group.observations else spec_id
        if group.specimen is not None:
            data = group.specimen.data
            collection = obj(data.get("collection")) or {}
            collected = effective_date(collection)
            concepts = [data.get("type"), collection.get("method"), collection.get("bodySite")]
            procedure, site = self._classify_specimen(concepts)
            body = collection.get("bodySite")
            site_detail = next(iter(concept_texts(body, self.cm)), None) if body else None
            where = f"{group.specimen.label}.type"
        elif group.specimen_ref:
            self.warn("specimen_unresolved", f"{group.specimen_ref} is referenced but not in the input; its type "
                      "and collection date are unknown", where)
        if procedure is None:
            procedure = "biopsy"
            self.warn("specimen_procedure_assumed", f"specimen {spec_id}: the specimen type does not say biopsy, "
                      "resection, cytology or plasma; assumed a tissue biopsy", where)
        if collected is None and group.date is not None:
            collected = group.date
            self.warn("specimen_date_from_observation", f"specimen {spec_id}: no collection date; used the "
                      f"earliest observation date ({collected.isoformat()})", where)
        return procedure, site, short(site_detail, 200) if site_detail else None, collected

    def _classify_specimen(self, concepts: list[Any]) -> tuple[str | None, str | None]:
        procedure: str | None = None
        site: str | None = None
        words: list[str] = []
        for concept in concepts:
            for coding in codings(concept, self.cm):
                if coding.system and coding.code:
                    entry = self.cm.specimen_index.get((coding.system, coding.code.upper()))
                    if entry is not None:
                        procedure = procedure or (entry.procedure.value if entry.procedure else None)
                        site = site or (entry.site.value if entry.site else None)
            words.extend(normalise_text(t) for t in concept_texts(concept, self.cm))
        for entry in self.cm.file.specimens:
            if any(keyword in w for keyword in entry.keywords for w in words):
                if entry.procedure is not None and procedure is None:
                    procedure = entry.procedure.value
                if entry.site is not None and site is None:
                    site = entry.site.value
        return procedure, site

    # -- medications ----------------------------------------------------------------------------------
    def medications(self) -> list[str]:
        agents: list[str] = []
        for item in self.resources:
            if item.type not in _PRIOR_STATUS or not self.for_patient(item):
                continue
            status = text(item.data.get("status"))
            if status not in _PRIOR_STATUS[item.type]:
                self.warn("medication_not_prior", f"{item.label} has status {status or 'missing'}; not counted "
                          "as a prior therapy", f"{item.label}.status")
                continue
            intent = text(item.data.get("intent"))
            if item.type == "MedicationRequest" and intent not in _ORDER_INTENTS:
                self.warn("medication_not_prior", f"{item.label} has intent {intent or 'missing'}; not counted as "
                          "a prior therapy", f"{item.label}.intent")
                continue
            concept, where = self._medication_concept(item)
            found = self._drugs(concept)
            if not found:
                names = concept_texts(concept, self.cm) if concept is not None else []
                shown = short(names[0]) if names else concept_label(concept, self.cm) if concept else "no code"
                self.warn("medication_unmapped", f"{item.label}: medication {shown!r} is not in the drug table; "
                          "not counted as a prior agent", where)
                continue
            agents.extend(a for a in found if a not in agents)
        return agents

    def _medication_concept(self, item: _Resource) -> tuple[Any, str]:
        if "medicationCodeableConcept" in item.data:
            return item.data.get("medicationCodeableConcept"), f"{item.label}.medicationCodeableConcept"
        reference = obj(item.data.get("medicationReference"))
        target = self.resolve(reference_of(reference), item) if reference else None
        if target is not None and target.type == "Medication":
            return target.data.get("code"), f"{target.label}.code"
        display = text((reference or {}).get("display"))
        return ({"text": display} if display else None), f"{item.label}.medicationReference"

    def _drugs(self, concept: Any) -> list[str]:
        return medication_drugs(concept, self.cm)

    # -- everything else ------------------------------------------------------------------------------
    def leftovers(self) -> None:
        used = {"Patient", "Condition", "Observation", "Specimen", "DiagnosticReport", "Medication",
                *_PRIOR_STATUS}
        for item in self.resources:
            if item.type not in used:
                self.unused_types[item.type] += 1
        for rtype, count in sorted(self.unused_types.items()):
            self.warn("resource_not_used", f"{count} {rtype} resource(s) are not used by her2cds", rtype)
        for code, count in sorted(self.unrecognised_codes.items()):
            self.warn("observation_not_used", f"{count} Observation(s) with code {code} (e.g. "
                      f"{self.unrecognised_first[code]}) are not HER2-related codes in the code table; not used",
                      f"{self.unrecognised_first[code]}.code")
        for gene, count in sorted(self.other_genes.items()):
            self.warn("variant_other_gene", f"{count} variant observation(s) of gene {gene} are not used",
                      "Observation")


def _topography(code: str) -> str:
    """'C509', 'C50.9', 'c50.911' -> 'C50.9' / 'C50.911' (a dot after the category)."""
    compact = code.replace(".", "").replace(" ", "").upper()
    return f"{compact[:3]}.{compact[3:]}" if len(compact) > 3 else compact


def _is_ratio_unit(number: Number) -> bool:
    return (number.unit or "").strip().lower() in ("ratio", "{ratio}")


def _in_ranges(category: str, ranges: list[tuple[str, str]]) -> bool:
    return any(lo <= category <= hi for lo, hi in ranges)


# ---------------------------------------------------------------------------------------------------
def _convert(items: Iterable[tuple[Any, Any, str]], case_id: str | None, default_oncotree_code: str | None,
             code_map: CodeMap | None) -> Conversion:
    conv = _Converter(code_map or default_code_map())
    for count, (resource, full_url, where) in enumerate(items, start=1):
        if count > _MAX_RESOURCES:
            raise InvalidInputError.single("entry", f"more than {_MAX_RESOURCES} resources", count)
        conv.add(resource, full_url, where)
    conv.find_patient()
    tumor, setting = conv.tumor(default_oncotree_code)
    conv.link_reports()
    conv.observations()
    specimens, sources, refs = conv.specimens()
    biomarkers = conv.biomarker_dict()
    agents = conv.medications()
    conv.leftovers()
    if setting is None and conv.metastatic:
        setting = Setting.METASTATIC.value
    if setting is not None:
        tumor["setting"] = setting
    case: dict[str, Any] = {"tumor": tumor, "specimens": specimens, "biomarkers": biomarkers,
                            "history": {"prior_agents": agents}}
    if case_id:
        case = {"id": case_id[:128], **case}
    try:
        Case.model_validate(case)
    except ValidationError as exc:
        raise InvalidInputError([
            FieldProblem(".".join(str(p) for p in e["loc"]), f"{e['msg']} (in the case converted from FHIR)",
                         e.get("input"), has_value=True)
            for e in exc.errors()
        ]) from None
    return Conversion(case=case, warnings=conv.warnings, source_observations=sources, specimen_refs=refs)


def bundle_to_case(bundle: Mapping[str, Any], *, default_oncotree_code: str | None = None,
                   code_map: CodeMap | None = None) -> Conversion:
    """Convert a FHIR R4 Bundle (any type) to a case.

    ``default_oncotree_code`` is used only when no Condition maps to a tumor type. Raises
    :class:`~her2cds.errors.InvalidInputError` when the input is not a Bundle, holds several patients, or
    no tumor type can be found.
    """
    if not isinstance(bundle, Mapping):
        raise InvalidInputError.single("", "expected a FHIR Bundle (a JSON object)", type(bundle).__name__)
    if bundle.get("resourceType") != "Bundle":
        raise InvalidInputError.single("resourceType", "expected a FHIR Bundle", bundle.get("resourceType"))
    entries = bundle.get("entry", [])
    if not isinstance(entries, list):
        raise InvalidInputError.single("entry", "Bundle.entry must be an array", type(entries).__name__)
    items = [(e.get("resource"), e.get("fullUrl"), f"entry[{i}]") if isinstance(e, Mapping)
             else (None, None, f"entry[{i}]") for i, e in enumerate(entries)]
    return _convert(items, text(bundle.get("id")), default_oncotree_code, code_map)


def resources_to_case(resources: Iterable[Mapping[str, Any]], *, default_oncotree_code: str | None = None,
                      code_map: CodeMap | None = None) -> Conversion:
    """Convert loose resources (e.g. CDS Hooks prefetch values) to a case; Bundles among them are unpacked."""

    def flatten() -> Iterable[tuple[Any, Any, str]]:
        for i, resource in enumerate(resources):
            if isinstance(resource, Mapping) and resource.get("resourceType") == "Bundle":
                for j, entry in enumerate(objs(resource.get("entry"))):
                    yield entry.get("resource"), entry.get("fullUrl"), f"[{i}].entry[{j}]"
            elif resource is not None:
                yield resource, None, f"[{i}]"

    return _convert(flatten(), None, default_oncotree_code, code_map)
