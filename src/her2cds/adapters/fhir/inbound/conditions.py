"""Conditions -> the tumor type (OncoTree code, histology) and the disease setting.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from her2cds.adapters.fhir._values import (
    codings,
    concept_label,
    concept_texts,
    iter_extensions,
    obj,
    objs,
    parse_date,
    short,
    text,
)
from her2cds.adapters.fhir.codes import TumorRule
from her2cds.adapters.fhir.inbound.bundle import BundleIndex, Resource
from her2cds.errors import InvalidInputError
from her2cds.model.enums import Setting

_ACTIVE_CONDITION = {"active", "recurrence", "relapse"}


@dataclass
class _TumorCandidate:
    code: str
    rank: tuple[int, int, int, str]
    condition: str
    rule: TumorRule | None
    histology: str | None
    fallback: bool = False
    override: bool = False



class ConditionReader(BundleIndex):
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

    def _condition_candidate(self, item: Resource) -> _TumorCandidate | Literal["secondary"] | None:
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
                    concept_entry = cm.snomed_concepts.get(code)
                    if concept_entry is not None and concept_entry.morphology:
                        morphology.append(concept_entry.morphology)
                        histology_text = histology_text or coding.display or concept_entry.display
                    elif concept_entry is not None and concept_entry.topography:
                        topography.append(_topography(concept_entry.topography))
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
            return not (rule.no_morphology and morphology)  # a site-only rule is not for a known histology
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


def _topography(code: str) -> str:
    """'C509', 'C50.9', 'c50.911' -> 'C50.9' / 'C50.911' (a dot after the category)."""
    compact = code.replace(".", "").replace(" ", "").upper()
    return f"{compact[:3]}.{compact[3:]}" if len(compact) > 3 else compact


def _in_ranges(category: str, ranges: list[tuple[str, str]]) -> bool:
    return any(lo <= category <= hi for lo, hi in ranges)
