"""Per-application state (no module globals): settings, the CDS Hooks feedback store, the JWT verifier, the
replay cache and the shared HTTP client used to query FHIR servers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from her2cds.adapters.api.settings import Settings
from her2cds.adapters.cdshooks.feedback import FeedbackStore
from her2cds.adapters.cdshooks.security import CdsJwtVerifier
from her2cds.adapters.cdshooks.therapy_check import anti_her2_inns
from her2cds.knowledge.loader import KnowledgeBase
from her2cds.model.assessment import Assessment

Assessor = Callable[[dict[str, Any]], Assessment]


@dataclass
class AppState:
    settings: Settings
    feedback: FeedbackStore
    jwt_verifier: CdsJwtVerifier | None
    fhir_transport: httpx.AsyncBaseTransport | None = None
    http_client: httpx.AsyncClient | None = field(default=None, repr=False)
    _anti_her2: dict[int, frozenset[str]] = field(default_factory=dict, repr=False)

    def anti_her2(self, kb: KnowledgeBase) -> frozenset[str]:
        """The anti-HER2 INNs of ``kb``, computed once per knowledge base for this application."""
        found = self._anti_her2.get(id(kb))
        if found is None:
            found = self._anti_her2[id(kb)] = anti_her2_inns(kb)
        return found

    def new_http_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=self.fhir_transport,
            timeout=self.settings.fhir_timeout_seconds,
            follow_redirects=False,
            headers={"Accept": "application/fhir+json"},
        )
