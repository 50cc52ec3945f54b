"""Conformance: the spec's own examples replayed against the service, every answer checked against the
CDS Hooks 2.0 rules (``tests/cdshooks/spec.py``)."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest

from her2cds.adapters.api import Settings, create_app
from tests.api.client import Client, assert_envelope
from tests.cdshooks import fhirdata
from tests.cdshooks.spec import FIXTURES, card_problems, load, operation_outcome_problems, response_problems

SPEC_RESPONSES = [
    "spec-2.0/spec2-15-http-response.json",
    "spec-2.0/spec2-22-example.json",
    "spec-3.0-ballot/spec3-27-example.json",
    "spec-2.0/spec2-21-system-action.json",
]
FEEDBACK = [
    "spec-2.0/spec2-24-example-suggestion-accepted.json",
    "spec-2.0/spec2-25-example-overridden-guidance-without-overridereason.json-like.txt",
    "spec-2.0/spec2-26-example-overridden-guidance-with-overridereason.json",
    "spec-3.0-ballot/spec3-29-example-suggestion-accepted.json",
    "spec-3.0-ballot/spec3-30-example-overridden-guidance-without-overridereason.json",
    "spec-3.0-ballot/spec3-31-example-overridden-guidance-with-overridereason.json",
]
ORDER_EXAMPLES = [
    ("hooks-2.0/order-select-00-example-r4.json", "order-select", "her2-therapy-check"),
    ("hooks-2.0/order-select-01-example-stu3.json", "order-select", "her2-therapy-check"),
    ("hooks-2.0/order-sign-00-example-r4.json", "order-sign", "her2-therapy-check-sign"),
    ("hooks-2.0/order-sign-01-example-stu3.json", "order-sign", "her2-therapy-check-sign"),
]


def test_fixtures_are_present() -> None:
    assert (FIXTURES / "SOURCE.md").is_file(), f"CDS Hooks fixtures not found at {FIXTURES}"


# ---- the validator itself (positive and negative controls) ------------------------------------------------
@pytest.mark.parametrize("name", SPEC_RESPONSES)
def test_spec_example_responses_pass_the_validator(name: str) -> None:
    body = load(name)
    if "systemActions" in body:  # the spec example elides required parts with "..."; check the cards only
        body = {"cards": body["cards"]}
    assert response_problems(body) == []


@pytest.mark.parametrize("name", ["spec-2.0/spec2-23-example.json", "spec-3.0-ballot/spec3-28-example.json"])
def test_spec_example_without_indicator_is_flagged(name: str) -> None:
    """The autolaunchable-link example leaves out the REQUIRED indicator; the validator says so."""
    assert response_problems(load(name)) == ["cards[0].indicator: None"]


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda c: c.update(summary="x" * 140), "under 140"),
        (lambda c: c.pop("source"), "source.label"),
        (lambda c: c.update(indicator="hard-stop"), "indicator"),
        (lambda c: c.update(suggestions=[{"label": "Do it"}]), "selectionBehavior"),
        (lambda c: c.update(overrideReasons=[{"code": "x", "system": "s"}]), "display"),
        (
            lambda c: c.update(links=[{"label": "a", "url": "https://x", "type": "absolute", "appContext": "{}"}]),
            "appContext",
        ),
        (lambda c: c.update(detail=None), "null"),
        (lambda c: c.update(links=[]), "links"),
        (
            lambda c: c.update(
                suggestions=[
                    {
                        "label": "Del",
                        "actions": [{"type": "delete", "description": "d", "resource": {"resourceType": "X"}}],
                    }
                ],
                selectionBehavior="any",
            ),
            "delete",
        ),
    ],
)
def test_validator_catches_violations(mutate: Any, needle: str) -> None:
    card = copy.deepcopy(load("spec-2.0/spec2-22-example.json")["cards"][0])
    assert card_problems(card) == []
    mutate(card)
    problems = card_problems(card)
    assert problems and any(needle in p for p in problems), problems


# ---- discovery --------------------------------------------------------------------------------------------
def test_discovery_follows_the_spec_shape(client: Client) -> None:
    body = client.get("/cds-services").json()
    example = load("spec-2.0/spec2-02-discovery-example.json")
    allowed = set().union(*(set(service) for service in example["services"])) | {"usageRequirements"}
    assert set(body) == {"services"}
    for service in body["services"]:
        assert {"hook", "description", "id"} <= set(service) <= allowed
        for key, query in service.get("prefetch", {}).items():
            assert isinstance(key, str) and isinstance(query, str) and query


# ---- service calls replayed from the spec ----------------------------------------------------------------------
def test_patient_view_example_queries_the_fhir_server_with_the_token() -> None:
    """spec2-04: prefetch holds only a key we did not ask for, fhirServer and fhirAuthorization are given."""
    request = load("spec-2.0/spec2-04-example.json")
    server = fhirdata.FakeFhirServer([{"resourceType": "Patient", "id": "1288992"}])
    settings = Settings(fhir_allowed_servers=[request["fhirServer"]])
    client = Client(create_app(settings, fhir_transport=server.transport))
    response = client.post("/cds-services/her2-assessment", json=request)
    assert response.status_code == 200, response.text
    assert response_problems(response.json()) == []
    assert response.json() == {"cards": []}  # no cancer, no HER2 data: nothing to say
    assert server.requests, "missing prefetch keys must be queried from fhirServer"
    for sent in server.requests:
        assert str(sent.url).startswith("http://hooks.smarthealthit.org:9080/")
        assert sent.headers["authorization"] == "Bearer some-opaque-fhir-access-token"
        assert "1288992" in str(sent.url)


def test_patient_view_example_without_fhir_server_is_412(client: Client) -> None:
    request = load("spec-2.0/spec2-04-example.json")
    del request["fhirServer"], request["fhirAuthorization"]
    response = client.post("/cds-services/her2-assessment", json=request)
    assert response.status_code == 412
    body = response.json()
    assert operation_outcome_problems(body) == []
    assert "conditions" in body["issue"][0]["diagnostics"]


def test_spec_3_operation_outcome_example_passes_the_outcome_check() -> None:
    assert operation_outcome_problems(load("spec-3.0-ballot/spec3-20-example-operationoutcome-resource.json")) == []


@pytest.mark.parametrize(("name", "hook", "service"), ORDER_EXAMPLES)
def test_order_hook_examples_without_anti_her2_orders_give_no_cards(
    client: Client, name: str, hook: str, service: str
) -> None:
    """The spec's order-select / order-sign contexts (amoxicillin, a diet order): nothing to check, and no
    FHIR data needed, so no 412 either."""
    body = {"hook": hook, "hookInstance": str(uuid.uuid4()), **load(name)}
    response = client.post(f"/cds-services/{service}", json=body)
    assert response.status_code == 200, response.text
    assert response.json() == {"cards": []}


def test_extension_example_is_accepted_but_needs_a_patient() -> None:
    """spec2-30 carries the reserved ``extension`` member (accepted) but no patientId: 422 naming it when its
    fhirServer may be queried (412 when it may not: nothing is queried, nothing is rendered)."""
    request = load("spec-2.0/spec2-30-extensions.json")
    allowed = Client(create_app(Settings(fhir_allowed_servers=[request["fhirServer"]])))
    response = allowed.post("/cds-services/her2-assessment", json=request)
    assert_envelope(response, 422, "invalid_input", "context.patientId")
    closed = Client(create_app(Settings())).post("/cds-services/her2-assessment", json=request)
    assert closed.status_code == 412


@pytest.mark.parametrize(
    "name", ["hooks-2.0/patient-view-00-examples.json-like.txt", "hooks-2.0/patient-view-01-examples.json-like.txt"]
)
def test_patient_view_contexts_with_full_prefetch(client: Client, name: str) -> None:
    context = load(name)["context"]
    prefetch = fhirdata.prefetch(
        conditions=[fhirdata.condition("C16.9", "Malignant neoplasm of stomach")], her2=[fhirdata.ihc("3+")]
    )
    prefetch["patient"]["id"] = context["patientId"]
    body = {"hook": "patient-view", "hookInstance": str(uuid.uuid4()), "context": context, "prefetch": prefetch}
    response = client.post("/cds-services/her2-assessment", json=body)
    assert response.status_code == 200, response.text
    cards = response.json()["cards"]
    assert len(cards) == 1
    assert response_problems(response.json()) == []


# ---- feedback ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", FEEDBACK)
def test_spec_feedback_examples_are_accepted_and_stored(name: str) -> None:
    app = create_app(Settings())
    body = load(name)
    response = Client(app).post("/cds-services/her2-assessment/feedback", json=body)
    assert response.status_code == 200, response.text
    assert response.json() == {"received": len(body["feedback"])}
    stored = app.state.her2cds.feedback.items("her2-assessment")
    assert [item.feedback.card for item in stored] == [item["card"] for item in body["feedback"]]


def test_feedback_store_is_per_application() -> None:
    first, second = create_app(Settings()), create_app(Settings())
    Client(first).post(
        "/cds-services/her2-assessment/feedback", json=load("spec-2.0/spec2-24-example-suggestion-accepted.json")
    )
    assert len(first.state.her2cds.feedback) == 1
    assert len(second.state.her2cds.feedback) == 0


@pytest.mark.parametrize(
    ("feedback", "field"),
    [
        ({"card": "c", "outcome": "accepted", "outcomeTimestamp": "2021-12-11T10:05:31Z"}, "feedback[0]"),
        ({"card": "c", "outcome": "ignored", "outcomeTimestamp": "2021-12-11T10:05:31Z"}, "feedback[0].outcome"),
        ({"card": "c", "outcome": "overridden"}, "feedback[0].outcomeTimestamp"),
        ({"outcome": "overridden", "outcomeTimestamp": "2021-12-11T10:05:31Z"}, "feedback[0].card"),
    ],
)
def test_invalid_feedback_is_422(client: Client, feedback: dict[str, Any], field: str) -> None:
    response = client.post("/cds-services/her2-assessment/feedback", json={"feedback": [feedback]})
    assert_envelope(response, 422, "invalid_input", field)


def test_feedback_for_unknown_service_is_404(client: Client) -> None:
    response = client.post(
        "/cds-services/nope/feedback", json=load("spec-2.0/spec2-24-example-suggestion-accepted.json")
    )
    assert_envelope(response, 404, "not_found")


# ---- request validation ---------------------------------------------------------------------------------------
def test_unknown_service_is_404(client: Client) -> None:
    assert_envelope(
        client.post("/cds-services/static-patient-greeter", json=load("spec-2.0/spec2-04-example.json")),
        404,
        "not_found",
    )


def test_hook_must_match_the_service(client: Client) -> None:
    body = {"hook": "order-sign", "hookInstance": str(uuid.uuid4()), **load("hooks-2.0/order-sign-00-example-r4.json")}
    response = client.post("/cds-services/her2-assessment", json=body)
    error = assert_envelope(response, 422, "invalid_input", "hook")
    assert "patient-view" in error["message"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda b: b.pop("hookInstance"), "hookInstance"),
        (lambda b: b.pop("context"), "context"),
        (lambda b: b.pop("fhirServer"), None),  # fhirAuthorization without fhirServer
        (lambda b: b.update(unexpected=1), "unexpected"),
        (lambda b: b["fhirAuthorization"].pop("access_token"), "fhirAuthorization.access_token"),
    ],
)
def test_malformed_requests_are_422(client: Client, change: Any, field: str | None) -> None:
    body = load("spec-2.0/spec2-04-example.json")
    change(body)
    error = assert_envelope(client.post("/cds-services/her2-assessment", json=body), 422, "invalid_input")
    if field is not None:
        assert error["field"] == field
    else:
        assert "fhirServer" in error["message"]


def test_prefetch_value_must_be_a_resource(client: Client) -> None:
    body = fhirdata.patient_view({**fhirdata.prefetch(conditions=[], her2=[]), "conditions": "Condition/1"})
    assert_envelope(
        client.post("/cds-services/her2-assessment", json=body), 422, "invalid_input", "prefetch.conditions"
    )
