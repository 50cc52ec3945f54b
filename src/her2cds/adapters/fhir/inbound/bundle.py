"""Bundle walking: collect the resources of a Bundle (or loose resources), index them for
references (fullUrl, type/id, contained), and find the one patient they are about.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from her2cds.adapters.fhir._values import (
    JsonObj,
    obj,
    objs,
    ref_key,
    reference_of,
    text,
)
from her2cds.adapters.fhir.codes import CodeMap
from her2cds.errors import InvalidInputError
from her2cds.model.assessment import InputWarning


@dataclass
class Resource:
    data: JsonObj
    type: str
    label: str  # "Observation/abc" (or its fullUrl): how warnings and derivedFrom name it
    keys: tuple[str, ...]




class BundleIndex:
    """The resources of one input, indexed by every name a reference may use; the warnings so far."""

    def __init__(self, code_map: CodeMap) -> None:
        self.cm = code_map
        self.warnings: list[InputWarning] = []
        self.resources: list[Resource] = []
        self.index: dict[str, Resource] = {}
        self.patient_keys: set[str] = set()
        self.patient_ref: str | None = None  # Patient/<id> (or its fullUrl) when the input names one patient
        self.metastatic: list[str] = []  # labels of what shows metastatic disease (Conditions, M category)

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
        item = Resource(data, rtype, label, keys)
        self.resources.append(item)
        for key in keys:
            self.index.setdefault(key, item)
        for contained in objs(data.get("contained")):
            cid = text(contained.get("id"))
            ctype = contained.get("resourceType")
            if cid and isinstance(ctype, str):
                self.index.setdefault(f"{label}#{cid}", Resource(contained, ctype, f"{label}#{cid}", ()))

    def resolve(self, reference: str | None, owner: Resource | None = None) -> Resource | None:
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
            self.patient_ref = patients[0].keys[0] if patients[0].keys else None
            return
        subjects = {ref_key(ref) for r in self.resources
                    if (ref := reference_of(r.data.get("subject") or r.data.get("patient")))
                    and ref_key(ref).startswith("Patient/")}
        if len(subjects) > 1:
            raise InvalidInputError.single(
                "subject", "the resources refer to more than one patient; send one patient per Bundle",
                sorted(subjects)[:3])
        self.patient_ref = next(iter(subjects), None)

    def for_patient(self, item: Resource) -> bool:
        ref = reference_of(item.data.get("subject") or item.data.get("patient"))
        if ref is None or not self.patient_keys:
            return True
        if ref_key(ref) in self.patient_keys or ref in self.patient_keys:
            return True
        self.warn("subject_mismatch", f"{item.label} is about another subject than the Patient; not used",
                  f"{item.label}.subject")
        return False
