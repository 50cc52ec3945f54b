"""Fuzzing the service in-process (issue 10): a mutation fuzzer over valid cases, FHIR Bundles and CDS Hooks
requests, and arbitrary JSON on every POST route. Every answer must be one the OpenAPI document declares for the
operation, never a 5xx; a 200 must validate against its declared model and be strict JSON (no NaN/Infinity);
an error must be the envelope. Bounded for CI: derandomized examples (reproducible), a fixed example budget per
property (about a minute in all on two cores)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from her2cds import examples
from her2cds.adapters.api import Settings, create_app
from her2cds.adapters.api.examples import FHIR_BUNDLE
from her2cds.adapters.cdshooks.models import CdsResponse
from her2cds.model.assessment import Assessment
from tests.api.client import Client
from tests.cdshooks import fhirdata

pytestmark = pytest.mark.slow

FUZZ = settings(
    max_examples=250, deadline=None, derandomize=True, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

APP = create_app(Settings())
CLIENT = Client(APP)
SPEC = APP.openapi()

# values a hostile or broken client sends
NASTY: list[Any] = [
    None, True, False, 0, -1, 1, 2**31, 2**63, 2**100, -(2**100), 10**40, 0.0, -0.0, 5e-324, 1e308, -1e308,
    float("nan"), float("inf"), float("-inf"), 0.5, 99.999, 100.0001, "", " ", "3+", "0", "\x00", "\u202e",
    "\x1b[31mred", "a" * 300, "2026-13-45", "9999-12-31", "1900-01-01", [], {}, [None], {"": None},
    {"resourceType": "Bundle", "entry": 5}, {"coding": 1}, {"resourceType": 7},
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
replacement = st.sampled_from(NASTY) | json_values


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            out += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            out += _paths(child, (*prefix, index))
    return out


@st.composite
def mutated(draw: st.DrawFn, seed: Any) -> Any:
    """``seed`` with one to three nodes replaced by hostile values, or deleted."""
    value = copy.deepcopy(seed)
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(value)
        path = draw(st.sampled_from(paths))
        if not path:
            value = copy.deepcopy(draw(replacement))  # NASTY holds shared mutable values: never mutate them
            continue
        parent: Any = value
        try:
            for part in path[:-1]:
                parent = parent[part]
        except (KeyError, IndexError, TypeError):
            continue
        if isinstance(parent, dict) and draw(st.booleans()) and draw(st.booleans()):
            parent.pop(path[-1], None)
        elif isinstance(parent, dict | list):
            parent[path[-1]] = copy.deepcopy(draw(replacement))
    return value


def _declared(path: str, method: str = "post") -> set[int]:
    operation = SPEC["paths"][path][method]
    return {int(code) for code in operation["responses"] if code.isdigit()}


def _check(path: str, template: str, body: Any, status_ok: tuple[int, ...] = ()) -> Any:
    raw = json.dumps(body, allow_nan=True)
    response = CLIENT.post(path, content=raw, headers={"content-type": "application/json"})
    assert response.status_code < 500, (response.status_code, response.text[:500], raw[:500])
    assert response.status_code in _declared(template) | set(status_ok), (response.status_code, response.text[:300])
    text = response.text
    assert "Traceback" not in text
    parsed = json.loads(text, parse_constant=lambda name: pytest.fail(f"non-JSON constant {name} in {path}"))
    if response.status_code >= 400 and response.status_code != 412:
        assert set(parsed) == {"error"} and set(parsed["error"]) == {"code", "message", "field"}, parsed
    return response.status_code, parsed


CASES = [examples.load(name) for name in examples.names()]


@FUZZ
@given(st.sampled_from(CASES).flatmap(mutated))
def test_mutated_cases(case: Any) -> None:
    status, parsed = _check("/v1/assess", "/v1/assess", case)
    if status == 200:
        Assessment.model_validate(parsed)


@FUZZ
@given(st.lists(st.sampled_from(CASES).flatmap(mutated), min_size=1, max_size=3))
def test_mutated_batches(cases: list[Any]) -> None:
    status, parsed = _check("/v1/assess/batch", "/v1/assess/batch", cases)
    if status == 200:
        assert len(parsed) == len(cases)
        for item in parsed:
            if "error" in item:
                assert set(item) == {"index", "error"}
            else:
                Assessment.model_validate(item)


@FUZZ
@given(mutated(FHIR_BUNDLE))
def test_mutated_fhir_bundles(bundle: Any) -> None:
    status, parsed = _check("/v1/fhir/assess", "/v1/fhir/assess", bundle)
    if status == 200:
        Assessment.model_validate(parsed)


HOOK = fhirdata.patient_view(
    fhirdata.prefetch(
        conditions=[fhirdata.condition("C16.9", "Malignant neoplasm of stomach")],
        her2=[fhirdata.ihc("2+"), fhirdata.ish_ratio(2.4)],
        medications=[fhirdata.medication_statement("trastuzumab")],
    )
)
ORDER = fhirdata.hook_request(
    "order-select",
    fhirdata.order_context(
        fhirdata.medication_request("trastuzumab deruxtecan"), selections=["MedicationRequest/draft-1"]
    ),
    HOOK["prefetch"],
)


@FUZZ
@given(st.sampled_from([("her2-assessment", HOOK), ("her2-therapy-check", ORDER)]).flatmap(
    lambda pair: mutated(pair[1]).map(lambda body: (pair[0], body))
))
def test_mutated_cds_hooks_requests(call: tuple[str, Any]) -> None:
    service, body = call
    status, parsed = _check(f"/cds-services/{service}", "/cds-services/{service_id}", body)
    if status == 200:
        CdsResponse.model_validate(parsed)


@FUZZ
@given(json_values, st.sampled_from(["/v1/assess", "/v1/assess/batch", "/v1/fhir/assess",
                                     "/cds-services/her2-assessment", "/cds-services/her2-assessment/feedback"]))
def test_arbitrary_json_on_every_post_route(body: Any, path: str) -> None:
    template = path.replace("her2-assessment", "{service_id}")
    _check(path, template, body)


@settings(max_examples=500, deadline=None, derandomize=True, database=None)
@given(st.text(max_size=200))
def test_reading_arbitrary_text_fails_only_cleanly(text: str) -> None:
    from her2cds.errors import MalformedInputError
    from her2cds.reading import parse_document

    message = ""
    try:
        parse_document(text)
    except MalformedInputError as exc:  # the only failure allowed: a clear, bounded message
        message = str(exc)
    assert len(message) < 500
