"""The conversion: walk the input, read each kind of resource with its reader, validate the case.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from her2cds.adapters.fhir._values import (
    objs,
    text,
)
from her2cds.adapters.fhir.codes import CodeMap, default_code_map
from her2cds.adapters.fhir.inbound.conditions import ConditionReader
from her2cds.adapters.fhir.inbound.history import PRIOR_STATUS, MedicationReader
from her2cds.adapters.fhir.inbound.observations import ObservationReader
from her2cds.adapters.fhir.inbound.specimens import SpecimenBuilder
from her2cds.errors import FieldProblem, InvalidInputError
from her2cds.model.assessment import InputWarning
from her2cds.model.case import Case
from her2cds.model.enums import Setting

__all__ = ["Conversion", "bundle_to_case", "resources_to_case"]

_MAX_RESOURCES = 20_000


class Conversion(BaseModel):
    """The result of a conversion: the case, what could not be used, and where each specimen came from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    case: dict[str, Any]
    warnings: list[InputWarning] = []
    source_observations: dict[str, list[str]] = {}
    specimen_refs: dict[str, str] = {}
    patient_ref: str | None = None  # the patient the input is about (Patient/<id>), when it names one



class _Converter(ConditionReader, ObservationReader, SpecimenBuilder, MedicationReader):
    # -- everything else ------------------------------------------------------------------------------
    def leftovers(self) -> None:
        used = {"Patient", "Condition", "Observation", "Specimen", "DiagnosticReport", "Medication",
                *PRIOR_STATUS}
        unused_types: Counter[str] = Counter()
        for item in self.resources:
            if item.type not in used:
                unused_types[item.type] += 1
        for rtype, count in sorted(unused_types.items()):
            self.warn("resource_not_used", f"{count} {rtype} resource(s) are not used by her2cds", rtype)
        for code, count in sorted(self.unrecognised_codes.items()):
            self.warn("observation_not_used", f"{count} Observation(s) with code {code} (e.g. "
                      f"{self.unrecognised_first[code]}) are not HER2-related codes in the code table; not used",
                      f"{self.unrecognised_first[code]}.code")
        for gene, count in sorted(self.other_genes.items()):
            self.warn("variant_other_gene", f"{count} variant observation(s) of gene {gene} are not used",
                      "Observation")




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
    return Conversion(case=case, warnings=conv.warnings, source_observations=sources, specimen_refs=refs,
                      patient_ref=conv.patient_ref)


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
