"""Prefetch resolution: templates, tokens, missing keys, FHIR server queries, 412."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
import pytest

from her2cds.adapters.api import Settings, create_app
from her2cds.adapters.cdshooks.egress import FhirAccess, parse_allowed
from her2cds.adapters.cdshooks.models import CdsRequest
from her2cds.adapters.cdshooks.prefetch import FETCH_FAILED, PrefetchUnavailableError, render, resolve_prefetch
from her2cds.adapters.cdshooks.services import discovery, prefetch_templates
from her2cds.errors import InvalidInputError
from tests.api.client import Client, assert_envelope
from tests.cdshooks import fhirdata
from tests.cdshooks.spec import operation_outcome_problems, response_problems

ISSUE_HER2_CODES = {"85319-2", "18474-7", "85318-4", "31150-6", "96893-3", "49683-6", "74860-8", "48676-1"}
SERVER = "https://fhir.example.org/r4"
ALLOW_SERVER = FhirAccess(allowed=parse_allowed([SERVER]))
AUTH = {
    "access_token": "opaque-token",
    "token_type": "Bearer",
    "expires_in": 300,
    "scope": "patient/*.read",
    "subject": "her2cds",
}


def resolve(
    request: dict[str, Any],
    transport: httpx.MockTransport | None = None,
    opened: list[int] | None = None,
    access: FhirAccess | None = None,
) -> Any:
    opened = [] if opened is None else opened

    @contextlib.asynccontextmanager
    async def client() -> AsyncIterator[httpx.AsyncClient]:
        opened.append(1)
        async with httpx.AsyncClient(transport=transport) as http:
            yield http

    async def go() -> Any:
        return await resolve_prefetch(
            CdsRequest.model_validate(request), prefetch_templates(), client, access=access or ALLOW_SERVER
        )

    result = anyio.run(go)
    if not request.get("fhirServer"):
        assert opened == []
    return result


def test_templates_ask_for_the_her2_loinc_codes() -> None:
    templates = {t.key: t for t in prefetch_templates()}
    her2_codes = set(templates["her2Observations"].query.split("code=", 1)[1].split(","))
    assert her2_codes >= ISSUE_HER2_CODES
    assert "69548-6" in templates["variantObservations"].query
    assert templates["conditions"].required and templates["her2Observations"].required
    assert {"patient", "conditions", "medicationRequests"} <= set(templates)


def test_templates_use_only_the_recommended_query_subset() -> None:
    """Instance reads or type-level searches by patient with token equality, the only token {{context.patientId}}."""
    for service in discovery().services:
        assert service.prefetch
        for query in service.prefetch.values():
            assert re.findall(r"\{\{[^}]*\}\}", query) == ["{{context.patientId}}"]
            resource, _, params = query.partition("?")
            if not params:
                assert re.fullmatch(r"[A-Z][A-Za-z]+/\{\{context\.patientId\}\}", resource)
                continue
            assert re.fullmatch(r"[A-Z][A-Za-z]+", resource)
            names = [p.split("=", 1)[0] for p in params.split("&")]
            assert set(names) <= {"patient", "code"}


def test_render_substitutes_context_ids() -> None:
    assert render("Condition?patient={{context.patientId}}", {"patientId": "abc-1.2"}) == "Condition?patient=abc-1.2"


@pytest.mark.parametrize("bad", ["1 OR 1=1", "../admin", "a&code=x", "", "x" * 65, 42])
def test_render_refuses_unsafe_ids(bad: Any) -> None:
    with pytest.raises(InvalidInputError) as info:
        render("Condition?patient={{context.patientId}}", {"patientId": bad})
    assert info.value.field == "context.patientId"


def test_render_refuses_unknown_tokens() -> None:
    with pytest.raises(InvalidInputError):
        render("Practitioner/{{userPractitionerId}}", {})


def test_full_prefetch_needs_no_server() -> None:
    body = fhirdata.patient_view(fhirdata.prefetch(conditions=[], her2=[]))
    result = resolve(body)
    assert result.queried == [] and result.warnings == []
    assert [p["resourceType"] for p in result.payloads] == ["Patient", "Bundle", "Bundle"]


def test_full_prefetch_opens_no_http_client_even_with_a_server() -> None:
    opened: list[int] = []
    body = fhirdata.patient_view(fhirdata.prefetch(conditions=[], her2=[]), fhirServer=SERVER)
    resolve(body, fhirdata.FakeFhirServer([]).transport, opened)
    assert opened == []


def test_missing_required_key_without_server_fails() -> None:
    prefetch = fhirdata.prefetch(conditions=[], her2=[])
    del prefetch["her2Observations"]
    with pytest.raises(PrefetchUnavailableError) as info:
        resolve(fhirdata.patient_view(prefetch))
    assert info.value.template.key == "her2Observations"


def test_missing_optional_key_without_server_is_a_warning() -> None:
    prefetch = fhirdata.prefetch(conditions=[], her2=[])
    del prefetch["medicationStatements"], prefetch["patient"]
    result = resolve(fhirdata.patient_view(prefetch))
    assert {w.field for w in result.warnings} == {"prefetch.medicationStatements", "prefetch.patient"}
    assert all(w.code == "prefetch_missing" for w in result.warnings)


def test_unrequested_key_is_reported() -> None:
    prefetch = {**fhirdata.prefetch(conditions=[], her2=[]), "patientToGreet": {"resourceType": "Patient"}}
    result = resolve(fhirdata.patient_view(prefetch))
    assert [w.field for w in result.warnings] == ["prefetch.patientToGreet"]


def test_missing_keys_are_queried_with_the_token() -> None:
    server = fhirdata.FakeFhirServer([fhirdata.patient(), fhirdata.condition("C16.9", "Stomach"), fhirdata.ihc("3+")])
    result = resolve(fhirdata.patient_view(None, fhirServer=SERVER, fhirAuthorization=AUTH), server.transport)
    assert sorted(result.queried) == sorted(t.key for t in prefetch_templates())
    assert len(server.requests) == len(prefetch_templates())
    for request in server.requests:
        assert request.headers["authorization"] == "Bearer opaque-token"
        assert str(request.url).startswith(SERVER + "/")
        assert request.headers["accept"] == "application/fhir+json"
    kinds = sorted(p["resourceType"] for p in result.payloads)
    assert kinds.count("Patient") == 1


def test_next_pages_are_followed_on_the_same_server_only() -> None:
    def respond(request: httpx.Request) -> httpx.Response | None:
        if request.url.path.endswith("/Condition") and "page" not in request.url.params:
            bundle = fhirdata.searchset(fhirdata.condition("C16.9", "Stomach"))
            bundle["link"] = [{"relation": "next", "url": f"{SERVER}/Condition?patient=pat-001&page=2"}]
            return httpx.Response(200, json=bundle)
        if request.url.path.endswith("/Observation"):
            bundle = fhirdata.searchset()
            bundle["link"] = [{"relation": "next", "url": "https://evil.example.com/steal?page=2"}]
            return httpx.Response(200, json=bundle)
        return None

    server = fhirdata.FakeFhirServer([], respond)
    resolve(fhirdata.patient_view(None, fhirServer=SERVER, fhirAuthorization=AUTH), server.transport)
    urls = [str(r.url) for r in server.requests]
    assert any("page=2" in url and url.startswith(SERVER) for url in urls)
    assert not any("evil.example.com" in url for url in urls)


def test_page_limit_is_respected() -> None:
    def respond(request: httpx.Request) -> httpx.Response | None:
        bundle = fhirdata.searchset()
        bundle["link"] = [{"relation": "next", "url": f"{SERVER}/Condition?patient=pat-001&again=1"}]
        return httpx.Response(200, json=bundle)

    server = fhirdata.FakeFhirServer([], respond)
    prefetch = fhirdata.prefetch(conditions=[], her2=[])
    del prefetch["conditions"]
    resolve(fhirdata.patient_view(prefetch, fhirServer=SERVER), server.transport,
            access=FhirAccess(allowed=parse_allowed([SERVER]), max_pages=3))
    assert len(server.requests) == 3


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(500, text="boom"),
        httpx.Response(200, text="<html>"),
        httpx.Response(200, json={"resourceType": "OperationOutcome", "issue": []}),
        httpx.Response(401, json={}),
    ],
)
def test_server_failure_for_a_required_key_is_412(answer: httpx.Response) -> None:
    server = fhirdata.FakeFhirServer([], lambda request: answer)
    app = create_app(Settings(fhir_allowed_servers=[SERVER]), fhir_transport=server.transport)
    response = Client(app).post(
        "/cds-services/her2-assessment", json=fhirdata.patient_view(None, fhirServer=SERVER, fhirAuthorization=AUTH)
    )
    assert response.status_code == 412
    assert operation_outcome_problems(response.json()) == []


def test_unreachable_server_is_412() -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("no route", request=request)

    app = create_app(Settings(fhir_allowed_servers=[SERVER]), fhir_transport=httpx.MockTransport(fail))
    response = Client(app).post("/cds-services/her2-assessment", json=fhirdata.patient_view(None, fhirServer=SERVER))
    assert response.status_code == 412
    assert FETCH_FAILED in response.json()["issue"][0]["diagnostics"]


def test_server_outside_the_allowlist_is_not_queried() -> None:
    server = fhirdata.FakeFhirServer([])
    app = create_app(
        Settings(fhir_allowed_servers=["https://ehr.hospital.example/fhir"]), fhir_transport=server.transport
    )
    response = Client(app).post(
        "/cds-services/her2-assessment", json=fhirdata.patient_view(None, fhirServer=SERVER, fhirAuthorization=AUTH)
    )
    assert response.status_code == 412
    assert server.requests == []


def test_server_inside_the_allowlist_is_queried() -> None:
    server = fhirdata.FakeFhirServer([fhirdata.patient(), fhirdata.condition("C16.9", "Stomach"), fhirdata.ihc("3+")])
    app = create_app(Settings(fhir_allowed_servers=[SERVER]), fhir_transport=server.transport)
    response = Client(app).post(
        "/cds-services/her2-assessment", json=fhirdata.patient_view(None, fhirServer=SERVER, fhirAuthorization=AUTH)
    )
    assert response.status_code == 200
    assert response_problems(response.json()) == []
    (card,) = response.json()["cards"]
    assert card["summary"].startswith("HER2-positive (IHC 3+)")


def test_bad_patient_id_with_a_server_is_422() -> None:
    server = fhirdata.FakeFhirServer([])
    app = create_app(Settings(fhir_allowed_servers=[SERVER]), fhir_transport=server.transport)
    body = fhirdata.hook_request("patient-view", {"patientId": "x&_include=*"}, None, fhirServer=SERVER)
    assert_envelope(
        Client(app).post("/cds-services/her2-assessment", json=body), 422, "invalid_input", "context.patientId"
    )
    assert server.requests == []
