"""Engine inputs for the therapy tests that compare two forms of the same computation: every golden case with an
expectation, generated cases (bench/cases.py), and each dict input again with the ``include_unverified`` opt-in."""

from __future__ import annotations

import copy
from typing import Any

from bench.cases import generate

from tests.golden import load_cases


def engine_cases(generated: int, seed: int) -> list[Any]:
    cases: list[Any] = [loaded.case.input for loaded in load_cases() if loaded.case.expect is not None]
    cases += list(generate(generated, seed))
    opted = []
    for case in cases:
        if isinstance(case, dict):
            twin = copy.deepcopy(case)
            twin["include_unverified"] = True
            opted.append(twin)
    return cases + opted
