"""``/v1/service-info`` and ``/healthz``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from her2cds import __version__
from her2cds.adapters.api.deps import KnowledgeBaseDep
from her2cds.adapters.api.errors import ERROR_RESPONSES
from her2cds.adapters.api.fhir_json import FHIR_VERSION
from her2cds.adapters.cdshooks.services import CDS_HOOKS_VERSION
from her2cds.knowledge.loader import KnowledgeBase
from her2cds.model.assessment import Versions

router = APIRouter(tags=["service"])
v1_router = APIRouter(tags=["service"])


def versions(kb: KnowledgeBase) -> Versions:
    return Versions(engine=__version__, knowledge_base=kb.version, as_of=kb.meta.as_of, oncotree=kb.tumor_release)


@v1_router.get(
    "/service-info",
    summary="Service and standards versions",
    responses={401: ERROR_RESPONSES[401]},
)
async def service_info(kb: KnowledgeBaseDep) -> dict[str, Any]:
    return {
        "name": "her2cds",
        "description": ("Clinical decision support for HER2 testing and HER2-targeted therapy across solid tumors"),
        "versions": versions(kb).model_dump(mode="json"),
        "knowledge_base": {"version": kb.version, "as_of": kb.meta.as_of.isoformat(), "title": kb.meta.title},
        "standards": {"cds_hooks": CDS_HOOKS_VERSION, "fhir": FHIR_VERSION, "fhir_release": "R4"},
        "disclaimer": kb.meta.disclaimer,
    }


def health() -> dict[str, str]:
    """The body of ``GET /healthz`` (also answered by the server protocol itself: :mod:`..fastpath`)."""
    return {"status": "ok", "engine": __version__}


@router.get("/healthz", summary="Liveness check", tags=["service"])
async def healthz() -> dict[str, str]:
    return health()
