"""The CDS services this server offers (the discovery document) and their prefetch templates."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from her2cds.adapters.cdshooks.models import Discovery, ServiceDefinition

CDS_HOOKS_VERSION = "2.0"

#: HER2 LOINC codes read by the FHIR converter (mCODE TumorMarkerTestVS / Genomics Reporting): interpretation,
#: IHC and ISH (presence, ratio, copies per nucleus).
HER2_OBSERVATION_CODES = (
    "48676-1",
    "85319-2",
    "18474-7",
    "85318-4",
    "31150-6",
    "96893-3",
    "49683-6",
    "74860-8",
)
#: Genomics Reporting variant observations (the converter keeps ERBB2, HGNC:3430, and reports the rest).
VARIANT_OBSERVATION_CODES = ("69548-6",)


@dataclass(frozen=True)
class PrefetchTemplate:
    key: str
    query: str
    required: bool
    what: str  # human-readable, used in warnings and OperationOutcomes


def _observations(codes: tuple[str, ...]) -> str:
    return "Observation?patient={{context.patientId}}&code=" + ",".join(codes)


COMMON_PREFETCH: tuple[PrefetchTemplate, ...] = (
    PrefetchTemplate("patient", "Patient/{{context.patientId}}", False, "the patient"),
    PrefetchTemplate(
        "conditions", "Condition?patient={{context.patientId}}", True, "the patient's conditions"
    ),
    PrefetchTemplate(
        "her2Observations", _observations(HER2_OBSERVATION_CODES), True, "HER2 IHC/ISH observations"
    ),
    PrefetchTemplate(
        "variantObservations", _observations(VARIANT_OBSERVATION_CODES), False, "genomic variant observations"
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
)


@dataclass(frozen=True)
class CdsService:
    id: str
    hook: str
    title: str
    description: str
    kind: str  # "assessment" | "therapy-check"
    prefetch: tuple[PrefetchTemplate, ...] = COMMON_PREFETCH

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
