"""Hostile input over HTTP (issue 10): wrong JSON types in CDS Hooks bodies, invalid fhirServer URLs, integers
beyond float range in FHIR values, duplicate keys and deep nesting: 4xx naming the field, never a 500."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from her2cds.adapters.api.examples import FHIR_BUNDLE
from her2cds.adapters.fhir import bundle_to_case
from tests.api.client import Client, assert_envelope
from tests.cdshooks import fhirdata as fd

Mutation = Callable[[dict[str, Any]], None]


def _post(client: Client, path: str, body: Any) -> Any:
    return client.post(path, content=json.dumps(body), headers={"content-type": "application/json"})


def _assessment_request() -> dict[str, Any]:
    return fd.patient_view(fd.prefetch(conditions=[fd.condition("C16.9", "gastric")], her2=[fd.ihc("3+")]))


def _order_request() -> dict[str, Any]:
    return fd.hook_request(
        "order-select",
        fd.order_context(fd.medication_request("trastuzumab")),
        fd.prefetch(conditions=[fd.condition("C16.9", "gastric")], her2=[fd.ihc("3+")]),
    )


def _set(path: list[Any], value: Any) -> Mutation:
    def mutate(body: dict[str, Any]) -> None:
        node: Any = body
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value

    return mutate


PREFETCH_CASES = [
    (["prefetch", "conditions", "entry"], 5, "prefetch.conditions.entry"),
    (["prefetch", "her2Observations", "entry"], 1, "prefetch.her2Observations.entry"),
    (["prefetch", "her2Observations", "entry", 0], 7, "prefetch.her2Observations.entry[0]"),
    (["prefetch", "conditions", "entry", 0, "resource", "code", "coding"], 1,
     "prefetch.conditions.entry[0].resource.code.coding"),
    (["prefetch", "her2Observations", "entry", 0, "resource", "code", "coding"], 1,
     "prefetch.her2Observations.entry[0].resource.code.coding"),
    (["prefetch", "her2Observations", "entry", 0, "resource"], [1], "prefetch.her2Observations.entry[0].resource"),
    (["prefetch", "patient"], "Patient/1", "prefetch.patient"),
]


@pytest.mark.parametrize(("path", "value", "field"), PREFETCH_CASES)
def test_wrong_json_types_in_prefetch_are_422(client: Client, path: list[Any], value: Any, field: str) -> None:
    body = _assessment_request()
    _set(path, value)(body)
    assert_envelope(_post(client, "/cds-services/her2-assessment", body), 422, "invalid_input", field)


ORDER_CASES = [
    (["context", "draftOrders", "entry"], 1, "context.draftOrders.entry"),
    (["context", "draftOrders"], 5, "context.draftOrders"),
    (["context", "draftOrders", "entry", 0, "resource", "medicationCodeableConcept", "coding"], 1,
     "context.draftOrders.entry[0].resource.medicationCodeableConcept.coding"),
    (["context", "selections"], 3, "context.selections"),
    (["context", "selections"], [3], "context.selections"),
]


@pytest.mark.parametrize(("path", "value", "field"), ORDER_CASES)
def test_wrong_json_types_in_draft_orders_are_422(client: Client, path: list[Any], value: Any, field: str) -> None:
    body = _order_request()
    _set(path, value)(body)
    assert_envelope(_post(client, "/cds-services/her2-therapy-check", body), 422, "invalid_input", field)


def test_well_formed_requests_still_answer(client: Client) -> None:
    assert _post(client, "/cds-services/her2-assessment", _assessment_request()).status_code == 200
    assert _post(client, "/cds-services/her2-therapy-check", _order_request()).status_code == 200


@pytest.mark.parametrize(
    "url",
    ["http://fhir.example:99999", "http://[::1", "http://a b", "ftp://fhir.example", "http://user@fhir.example",
     "http://fhir.example/r4?x=1", "http://:80", "http://" + "a" * 3000],
)
def test_invalid_fhir_server_url_is_422_naming_it(client: Client, url: str) -> None:
    body = _assessment_request()
    del body["prefetch"]["her2Observations"]
    body["fhirServer"] = url
    assert_envelope(_post(client, "/cds-services/her2-assessment", body), 422, "invalid_input", "fhirServer")


@pytest.mark.parametrize("value", [2**100, 2**1100])
@pytest.mark.parametrize("element", ["valueQuantity", "valueInteger"])
def test_integer_beyond_float_range_in_fhir_values_is_not_a_500(client: Client, element: str, value: int) -> None:
    bundle = copy.deepcopy(FHIR_BUNDLE)
    observation = bundle["entry"][2]["resource"]
    del observation["valueCodeableConcept"]
    observation[element] = {"value": value} if element == "valueQuantity" else value
    conversion = bundle_to_case(bundle)  # the converter itself (no JSON reader in front) does not overflow
    assert "specimens" not in conversion.case or "Infinity" not in json.dumps(conversion.case)
    response = _post(client, "/v1/fhir/assess", bundle)
    if value > 10**40:  # the reader refuses over-long literals, naming the field
        assert_envelope(response, 400, "malformed_input", f"entry[2].resource.{element}"
                        + (".value" if element == "valueQuantity" else ""))
    else:
        assert response.status_code == 200, response.text
        assert "Infinity" not in response.text
    body = _assessment_request()
    resource = body["prefetch"]["her2Observations"]["entry"][0]["resource"]
    resource.pop("valueCodeableConcept", None)
    resource[element] = observation[element]
    response = _post(client, "/cds-services/her2-assessment", body)
    assert response.status_code == (400 if value > 10**40 else 200), response.text


def test_huge_integers_in_the_body_name_the_field(client: Client) -> None:
    raw = '{"tumor": {"oncotree_code": "STAD"}, "specimens": [{"id": "B1", "procedure": "biopsy", ' \
          '"ihc": {"cluster_cells": {"strong_complete": ' + "9" * 5000 + "}}}]}"
    response = client.post("/v1/assess", content=raw, headers={"content-type": "application/json"})
    assert_envelope(response, 400, "malformed_input", "specimens[0].ihc.cluster_cells.strong_complete")


def test_duplicate_keys_and_deep_nesting_over_http(client: Client) -> None:
    duplicate = '{"tumor": {"oncotree_code": "STAD"}, "tumor": {"oncotree_code": "IDC"}}'
    response = client.post("/v1/assess", content=duplicate, headers={"content-type": "application/json"})
    assert "duplicate key 'tumor'" in assert_envelope(response, 400, "malformed_input", "tumor")["message"]
    deep = "[" * 5000 + "]" * 5000
    for path in ("/v1/assess", "/v1/assess/batch", "/cds-services/her2-assessment"):
        response = client.post(path, content=deep, headers={"content-type": "application/json"})
        assert_envelope(response, 400, "malformed_input")
