"""The CDS services this server offers (the discovery document) and their prefetch templates.

The observation codes of the prefetch templates come from the FHIR code table
(``knowledge/data/fhir/code_map.yaml``): the service asks exactly for what the FHIR converter reads.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from her2cds.adapters.cdshooks.models import Discovery, ServiceDefinition

CDS_HOOKS_VERSION = "2.0"

#: prefetch key -> observation roles (or entry ids) of the code table whose codes it asks for
OBSERVATION_KEYS: dict[str, tuple[str, ...]] = {
    "her2Observations": (
        "her2_ihc",
        "her2_ish",
        "her2_ish_ratio",
        "her2_ish_copies",
        "her2_ish_panel",
        "her2_interpretation",
    ),
    "variantObservations": ("variant",),
    # PD-L1 results coded without "CPS" are read when their text names the combined positive score
    "biomarkerObservations": ("er", "pr", "hormone_receptor", "pd_l1_cps", "fhir.obs.pd-l1-other"),
    "stagingObservations": ("m_category",),
}


@dataclass(frozen=True)
class PrefetchTemplate:
    key: str
    query: str
    required: bool
    what: str  # human-readable, used in warnings and OperationOutcomes


def _observation_codes(roles: Iterable[str]) -> list[str]:
    from her2cds.adapters.fhir.codes import default_code_map

    code_map = default_code_map()
    wanted = set(roles)
    codes: list[str] = []
    for entry in code_map.file.observations:
        if entry.role in wanted or entry.id in wanted:
            for ref in entry.codes:
                token = ref.code if ref.system == "loinc" else f"{code_map.uri(ref.system)}|{ref.code}"
                if token not in codes:
                    codes.append(token)
    return codes


def _observations(key: str) -> str:
    return "Observation?patient={{context.patientId}}&code=" + ",".join(_observation_codes(OBSERVATION_KEYS[key]))


@functools.cache
def prefetch_templates() -> tuple[PrefetchTemplate, ...]:
    """The prefetch templates of every service (built once, from the code table)."""
    return (
        PrefetchTemplate("patient", "Patient/{{context.patientId}}", False, "the patient"),
        PrefetchTemplate("conditions", "Condition?patient={{context.patientId}}", True, "the patient's conditions"),
        PrefetchTemplate("her2Observations", _observations("her2Observations"), True, "HER2 IHC/ISH observations"),
        PrefetchTemplate(
            "variantObservations", _observations("variantObservations"), False, "genomic variant observations"
        ),
        PrefetchTemplate(
            "biomarkerObservations", _observations("biomarkerObservations"), False, "ER/PR and PD-L1 observations"
        ),
        PrefetchTemplate(
            "stagingObservations",
            _observations("stagingObservations"),
            False,
            "distant-metastasis staging observations",
        ),
        PrefetchTemplate("specimens", "Specimen?patient={{context.patientId}}", False, "specimens"),
        PrefetchTemplate(
            "medicationRequests",
            "MedicationRequest?patient={{context.patientId}}",
            False,
            "medication requests (prior therapy)",
        ),
        PrefetchTemplate(
            "medicationStatements",
            "MedicationStatement?patient={{context.patientId}}",
            False,
            "medication statements (prior therapy)",
        ),
        PrefetchTemplate(
            "procedures",
            "Procedure?patient={{context.patientId}}",
            False,
            "procedures (breast surgery and its pathologic response)",
        ),
    )


@dataclass(frozen=True)
class CdsService:
    id: str
    hook: str
    title: str
    description: str
    kind: str  # "assessment" | "therapy-check"

    @property
    def prefetch(self) -> tuple[PrefetchTemplate, ...]:
        return prefetch_templates()

    def definition(self) -> ServiceDefinition:
        return ServiceDefinition(
            hook=self.hook,
            title=self.title,
            description=self.description,
            id=self.id,
            prefetch={template.key: template.query for template in self.prefetch},
            usageRequirements=(
                "Needs the prefetch data, or fhirServer with fhirAuthorization so that missing prefetch "
                "keys can be queried; without either the service answers 412."
            ),
        )


_CHECK_DESCRIPTION = (
    "Checks a drafted anti-HER2 medication order against the indication criteria of the matching therapy "
    "option (HER2 status, tumor type, setting, prior therapy) and warns with the criteria that are not met."
)

SERVICES: tuple[CdsService, ...] = (
    CdsService(
        id="her2-assessment",
        hook="patient-view",
        title="HER2 status and HER2-targeted options",
        description=(
            "Interprets the patient's HER2 IHC/ISH/NGS results with the guideline for the tumor type, flags "
            "discordant or incomplete testing (e.g. a missing reflex ISH) and lists HER2-targeted options."
        ),
        kind="assessment",
    ),
    CdsService(
        id="her2-therapy-check",
        hook="order-select",
        title="HER2-targeted therapy indication check (order-select)",
        description=_CHECK_DESCRIPTION,
        kind="therapy-check",
    ),
    CdsService(
        id="her2-therapy-check-sign",
        hook="order-sign",
        title="HER2-targeted therapy indication check (order-sign)",
        description=_CHECK_DESCRIPTION,
        kind="therapy-check",
    ),
)


def services_by_id() -> Mapping[str, CdsService]:
    return {service.id: service for service in SERVICES}


def discovery() -> Discovery:
    return Discovery(services=[service.definition() for service in SERVICES])
