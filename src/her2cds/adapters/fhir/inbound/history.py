"""Medication resources -> prior agents (the history of HER2-directed and other therapy).
"""

from __future__ import annotations

from typing import Any

from her2cds.adapters.fhir._values import (
    concept_label,
    concept_texts,
    obj,
    reference_of,
    short,
    text,
)
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
            agents.extend(a for a in found if a not in agents)
        return agents

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
