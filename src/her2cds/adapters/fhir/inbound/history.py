"""Medication resources -> prior agents and regimens; breast-surgery Procedures -> surgery (the treatment history).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from her2cds.adapters.fhir._values import (
    JsonObj,
    concept_label,
    concept_texts,
    obj,
    objs,
    parse_date,
    reference_of,
    short,
    text,
)
from her2cds.adapters.fhir.codes import CodeMap
from her2cds.adapters.fhir.inbound.bundle import BundleIndex, Resource
from her2cds.adapters.fhir.medications import medication_drugs

PRIOR_STATUS = {
    "MedicationStatement": {"active", "completed", "stopped", "on-hold", "unknown"},
    "MedicationRequest": {"active", "completed", "stopped", "on-hold"},
    "MedicationAdministration": {"completed", "in-progress", "on-hold", "stopped"},
}
_ORDER_INTENTS = {"order", "original-order", "reflex-order", "filler-order", "instance-order"}


class MedicationReader(BundleIndex):
    # -- medications ----------------------------------------------------------------------------------
    def medications(self) -> list[str]:
        agents: list[str] = []
        for _, found in self.prior_medications():
            agents.extend(a for a in found if a not in agents)
        return agents

    def prior_medications(self) -> list[tuple[Resource, list[str]]]:
        """Each medication resource that counts as prior therapy, with the drugs (INN) it names."""
        out: list[tuple[Resource, list[str]]] = []
        for item in self.resources:
            if item.type not in PRIOR_STATUS or not self.for_patient(item):
                continue
            status = text(item.data.get("status"))
            if status not in PRIOR_STATUS[item.type]:
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
            out.append((item, found))
        return out

    def _medication_concept(self, item: Resource) -> tuple[Any, str]:
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


# ---------------------------------------------------------------------------------------- regimens
# Words in a medication resource's category, reasonCode, extensions or notes that state the setting.
_SETTING_WORDS = (
    ("neoadjuvant", "neoadjuvant"), ("neo-adjuvant", "neoadjuvant"), ("preoperative", "neoadjuvant"),
    ("adjuvant", "adjuvant"), ("postoperative", "adjuvant"), ("maintenance", "maintenance"),
    ("metastatic", "metastatic"), ("locally advanced", "locally_advanced"),
)
_STOP_WORDS = (("progress", "progression"), ("toxic", "toxicity"), ("adverse", "toxicity"),
               ("intoleran", "toxicity"), ("complet", "completion"))
_SURGERY_WORDS = ("mastectomy", "lumpectomy", "breast conserving", "breast-conserving", "excision of breast",
                  "excision of part of breast", "quadrantectomy", "partial mastectomy", "segmental mastectomy")
_PCR_WORDS = ("pathologic complete response", "pathological complete response", "pcr", "ypt0")
_RESIDUAL_WORDS = ("residual invasive", "residual disease", "residual tumor", "residual tumour")


def _full_date(value: Any) -> dt.date | None:
    """A full calendar date (YYYY-MM-DD...) or None: a partial date is never completed by guessing a day."""
    raw = text(value)
    if raw is None or len(raw) < 10:
        return None
    return parse_date(raw)


def _texts(data: JsonObj, keys: tuple[str, ...], cm: CodeMap) -> list[str]:
    out: list[str] = []
    for key in keys:
        value = data.get(key)
        for concept in value if isinstance(value, list) else [value]:
            if isinstance(concept, dict):
                out.extend(t.lower() for t in concept_texts(concept, cm))
                if isinstance(concept.get("text"), str) and key == "note":
                    out.append(concept["text"].lower())
    for ext in objs(data.get("extension")):
        concept = ext.get("valueCodeableConcept")
        if isinstance(concept, dict):
            out.extend(t.lower() for t in concept_texts(concept, cm))
        if isinstance(ext.get("valueString"), str):
            out.append(ext["valueString"].lower())
    return out


def _first_word(texts: list[str], table: tuple[tuple[str, str], ...]) -> str | None:
    for label in texts:
        for word, value in table:
            if word in label:
                return value
    return None


class RegimenReader(MedicationReader):
    """Medication resources with a stated setting or a full start date become ``history.regimens``; the others
    stay bare ``prior_agents``. Resources with the same setting and start date form one regimen (e.g. the
    taxane, trastuzumab and pertuzumab of THP). Procedures of breast surgery give ``history.surgery``."""

    def history(self) -> dict[str, Any]:
        groups: dict[tuple[str | None, dt.date | None], dict[str, Any]] = {}
        bare: list[str] = []
        keys: dict[str, tuple[str | None, dt.date | None, dt.date | None]] = {}  # request label -> key + end
        for item, agents in self.prior_medications():
            data = item.data
            setting = _first_word(_texts(data, ("category", "reasonCode", "note"), self.cm), _SETTING_WORDS)
            period = obj(data.get("effectivePeriod"))
            if period is None:
                dispense = obj(data.get("dispenseRequest"))
                period = obj(dispense.get("validityPeriod")) if dispense else None
            period = period or {}
            start = (_full_date(period.get("start")) or _full_date(data.get("effectiveDateTime"))
                     or (_full_date(data.get("authoredOn")) if item.type == "MedicationRequest" else None))
            end = _full_date(period.get("end"))
            if setting is None and start is None:
                bare.extend(a for a in agents if a not in bare)
                continue
            order = self._ordering_request(item, agents, setting, start, keys, groups)
            if order is not None:  # an administration of an order already read: part of that order's regimen
                groups[order]["agents"].extend(a for a in agents if a not in groups[order]["agents"])
                continue
            if item.type == "MedicationRequest":
                keys[item.label] = (setting, start, end)
            reg = groups.setdefault((setting, start), {"agents": []})
            reg["agents"].extend(a for a in agents if a not in reg["agents"])
            if setting is not None:
                reg["setting"] = setting
            if start is not None:
                reg["start"] = start.isoformat()
            if end is not None and (start is None or end >= start):
                reg["end"] = max(reg.get("end", end.isoformat()), end.isoformat())
            reason = _first_word(_texts(data, ("statusReason",), self.cm), _STOP_WORDS)
            if reason is None and text(data.get("status")) == "completed":
                reason = "completion"
            if reason is not None and reg.get("stopped_for") != "progression":
                reg["stopped_for"] = reason
        regimens = sorted(groups.values(), key=lambda r: (r.get("start") or "9999", r.get("setting") or ""))
        in_regimens = {a for r in regimens for a in r["agents"]}
        history: dict[str, Any] = {"prior_agents": [a for a in bare if a not in in_regimens]}
        if regimens:
            history["regimens"] = regimens
        surgery = self.surgery()
        if surgery:
            history["surgery"] = surgery
        return history

    def _ordering_request(
        self, item: Resource, agents: list[str], setting: str | None, day: dt.date | None,
        keys: dict[str, tuple[str | None, dt.date | None, dt.date | None]],
        groups: dict[tuple[str | None, dt.date | None], dict[str, Any]],
    ) -> tuple[str | None, dt.date | None] | None:
        """The regimen of the MedicationRequest a MedicationAdministration carries out: the one its ``request``
        names, else one ordering all its drugs in the same (possibly unstated) setting whose period covers the
        administration day. An administration is one dose, not a new regimen (mCODE pairs each
        CancerRelatedMedicationAdministration with its CancerRelatedMedicationRequest)."""
        if item.type != "MedicationAdministration":
            return None
        target = self.resolve(reference_of(obj(item.data.get("request"))), item)
        if target is not None and target.label in keys:
            key = keys[target.label]
            return key[0], key[1]
        for req_setting, start, end in keys.values():
            regimen = groups.get((req_setting, start))
            if (regimen is None or req_setting != setting or day is None or start is None or day < start
                    or (end is not None and day > end) or not set(agents) <= set(regimen["agents"])):
                continue
            return req_setting, start
        return None

    def surgery(self) -> dict[str, Any]:
        """The latest completed breast-surgery Procedure: its date and the pathologic response it states."""
        found: list[tuple[dt.date | None, dict[str, Any]]] = []
        for item in self.resources:
            if item.type != "Procedure" or not self.for_patient(item):
                continue
            names = _texts(item.data, ("code",), self.cm)
            if not any(word in name for name in names for word in _SURGERY_WORDS):
                self.warn("procedure_not_used", f"{item.label} is not a breast surgery the history reads",
                          f"{item.label}.code")
                continue
            if text(item.data.get("status")) != "completed":
                self.warn("procedure_not_used", f"{item.label} is not completed; not read as surgery",
                          f"{item.label}.status")
                continue
            period = obj(item.data.get("performedPeriod")) or {}
            day = _full_date(item.data.get("performedDateTime")) or _full_date(period.get("start"))
            result: dict[str, Any] = {}
            if day is not None:
                result["date"] = day.isoformat()
            outcome = _texts(item.data, ("outcome", "note"), self.cm)
            if any(word in t for t in outcome for word in _RESIDUAL_WORDS):
                result["pathologic_response"] = "residual_invasive"
            elif any(word in t for t in outcome for word in _PCR_WORDS):
                result["pathologic_response"] = "pcr"
            found.append((day, result))
        if not found:
            return {}
        return max(found, key=lambda pair: pair[0] or dt.date.min)[1]
