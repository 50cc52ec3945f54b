"""Arbitrary JSON inside a Bundle gives a conversion or an InvalidInputError, never another exception."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from her2cds.adapters.fhir import bundle_to_case, resources_to_case
from her2cds.errors import InvalidInputError
from her2cds.model.case import Case
from tests.fhir.helpers import bundle, concept, gastric_condition, observation, patient, quantity, variant

_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**6), st.floats(allow_nan=True),
                     st.text(max_size=12), st.sampled_from(["2+", "greater than 2.2", "C16.9", "8140/3", "LA6576-8"]))
_JSON = st.recursive(_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                     max_leaves=20)
_KEYS = st.sampled_from(["code", "valueQuantity", "valueString", "valueCodeableConcept", "component", "specimen",
                         "subject", "status", "effectiveDateTime", "extension", "meta", "bodySite", "valueRatio",
                         "medicationCodeableConcept", "collection", "type", "coding", "value", "resourceType"])
_TEMPLATES = [
    patient(), gastric_condition(),
    observation("ihc", "18474-7", valueCodeableConcept=concept(text="2+")),
    observation("r", "49683-6", valueQuantity=quantity(2.1)),
    variant("v", ("HGNC:3430", "ERBB2"), protein="p.S310F"),
    {"resourceType": "MedicationStatement", "id": "m", "status": "completed",
     "medicationCodeableConcept": concept(text="trastuzumab")},
    {"resourceType": "Specimen", "id": "s", "type": concept(text="plasma")},
]


def _check(run: Any) -> None:
    problems: list[Any] | None = None
    try:
        conversion = run()
    except InvalidInputError as exc:
        problems = exc.problems
    if problems is not None:
        assert problems and all(isinstance(p.field, str) for p in problems)
        return
    Case.model_validate(conversion.case)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, len(_TEMPLATES) - 1), _KEYS, _JSON), max_size=6))
def test_mutated_resources_never_crash(mutations: list[tuple[int, str, Any]]) -> None:
    resources = copy.deepcopy(_TEMPLATES)
    for index, key, value in mutations:
        resources[index][key] = value
    _check(lambda: bundle_to_case(bundle(*resources)))
    _check(lambda: resources_to_case(resources))


@settings(max_examples=100, deadline=None)
@given(_JSON)
def test_arbitrary_json_never_crashes(value: Any) -> None:
    _check(lambda: bundle_to_case({"resourceType": "Bundle", "entry": value}))
    _check(lambda: bundle_to_case({"resourceType": "Bundle", "entry": [{"resource": value}]}))
