"""The default document written directly from the engine's plain data (D14.4) equals pydantic's serialization
of the public ``Assessment``, on every golden case and on generated cases; the pydantic therapy options are
built only when objects are asked for."""

from __future__ import annotations

import json
from typing import Any

import pytest
from bench.cases import generate

from her2cds import examples
from her2cds.engine import Engine, default_engine
from her2cds.errors import InvalidInputError
from her2cds.model.assessment import Assessment
from her2cds.therapy import matching
from her2cds.therapy.output import quote
from tests.golden import load_cases

GOLDEN = [c.case.input for c in load_cases() if c.case.expect is not None]
AWKWARD = 'quote " backslash \\ controls \x00\x01\x08\x0c\n\r\t\x1f\x7f unicode é ß 漢 😀 ,"therapies":[],"trace":'


def _check(engine: Engine, case: Any) -> str:
    evaluation = engine.evaluate(case)
    direct = engine.document(evaluation)
    assert direct == engine.assessment(evaluation).model_dump_json()
    assert direct == engine.assess_json(case)
    assert Assessment.model_validate_json(direct).model_dump_json() == direct  # the public contract, unchanged
    return direct


def test_golden_cases_direct_document_equals_pydantic() -> None:
    engine = default_engine()
    assert len(GOLDEN) >= 40
    with_therapies = sum(bool(json.loads(_check(engine, case))["therapies"]) for case in GOLDEN)
    assert with_therapies >= 10


def test_generated_cases_direct_document_equals_pydantic() -> None:
    engine = default_engine()
    checked = 0
    for case in generate(400, 2026):
        try:
            _check(engine, case)
        except InvalidInputError:
            continue
        checked += 1
    assert checked >= 350


def test_awkward_strings_are_escaped_as_pydantic_does() -> None:
    case = examples.load("breast-her2-low")
    case["id"] = AWKWARD
    case["history"] = {"prior_agents": [AWKWARD, "trastuzumab"]}  # shown in reasons, line of therapy, warnings
    direct = _check(default_engine(), case)
    assert AWKWARD in json.loads(direct)["id"]
    assert quote(AWKWARD) == json.dumps(AWKWARD, ensure_ascii=False)


def test_default_document_builds_no_therapy_option_objects(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = Engine()
    case = examples.load("breast-her2-low")
    expected = engine.assess_json(case)

    def refuse(*_: Any) -> Any:
        raise AssertionError("a pydantic therapy option was built for the default document")

    monkeypatch.setattr(matching, "to_option", refuse)
    monkeypatch.setattr("her2cds.engine.to_option", refuse)
    assert engine.assess_json(case) == expected
    assert json.loads(expected)["therapies"]
    with pytest.raises(AssertionError, match="pydantic therapy option"):
        engine.assess(case)


def test_region_eu_document_equals_pydantic_and_unknown_region_is_refused() -> None:
    engine = default_engine()
    case = {**examples.load("breast-her2-low"), "region": "eu"}
    direct = _check(engine, case)
    assert all(t["region_status"] for t in json.loads(direct)["therapies"])
    default = json.loads(_check(engine, examples.load("breast-her2-low")))
    assert all("region_status" not in t for t in default["therapies"])  # left out in the default region
    with pytest.raises(InvalidInputError):
        engine.assess_json({**examples.load("breast-her2-low"), "region": "mars"})
