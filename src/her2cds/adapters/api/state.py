"""Per-application state (no module globals): settings, the CDS Hooks feedback store, the JWT verifier, the
replay cache and the shared HTTP client used to query FHIR servers."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import httpx

from her2cds.adapters.api.capacity import Admission, Engine, make_engine
from her2cds.adapters.api.jobs import Assessor as Assessor
from her2cds.adapters.api.jobs import EngineContext
from her2cds.adapters.api.settings import Settings
from her2cds.adapters.cdshooks.egress import FhirAccess, guarded_transport, parse_allowed
from her2cds.adapters.cdshooks.feedback import FeedbackStore
from her2cds.adapters.cdshooks.security import CdsJwtVerifier
from her2cds.adapters.cdshooks.therapy_check import anti_her2_inns
from her2cds.cores import available_cores
from her2cds.knowledge.loader import KnowledgeBase, default_knowledge_base


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

    @functools.cached_property
    def engine(self) -> Engine:
        """The bounded pool of workers the engine runs on (off the event loop)."""
        kind = "thread" if self.settings.engine == "auto" else self.settings.engine
        return make_engine(kind, self.settings.workers or available_cores(), self.settings.log_level)

    def engine_context(self, assessor: Assessor, kb: KnowledgeBase | None = None) -> EngineContext | None:
        """What a worker thread runs a request's job with (the request's dependencies, which tests may
        override); None for worker processes, which have their own."""
        if self.engine.kind != "thread":
            return None
        kb = kb or default_knowledge_base()
        return EngineContext(assessor, kb, functools.partial(self.anti_her2, kb))

    @functools.cached_property
    def admission(self) -> Admission:
        """Admission control of engine requests (load shedding)."""
        settings = self.settings
        return Admission(
            settings.max_pending_requests or 16 * self.engine.workers,
            retry_after_seconds=settings.retry_after_seconds,
            max_body_bytes=settings.max_body_bytes,
        )

    @functools.cached_property
    def fhir_access(self) -> FhirAccess:
        """Which FHIR servers calls may query (before any client registration), and the limits."""
        settings = self.settings
        return FhirAccess(
            allowed=parse_allowed(settings.fhir_allowed_servers),
            allow_private_networks=settings.fhir_allow_private_networks,
            max_response_bytes=settings.fhir_max_response_bytes,
            time_budget_seconds=settings.fhir_time_budget_seconds,
            max_pages=settings.fhir_max_pages,
        )

    def new_http_client(self) -> httpx.AsyncClient:
        """The client of FHIR queries: connections only to allowed addresses, no redirects, no proxies from
        the environment."""
        transport = self.fhir_transport or guarded_transport(
            allow_private_networks=self.settings.fhir_allow_private_networks
        )
        return httpx.AsyncClient(
            transport=transport,
            timeout=self.settings.fhir_timeout_seconds,
            follow_redirects=False,
            trust_env=False,
            headers={"Accept": "application/fhir+json"},
        )
