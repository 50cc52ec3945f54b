"""Loading and checking golden cases (tests/cases/<family>/*.yaml).

A golden case is reviewable data: input -> expected result + the rule ids that must fire + the source it
is transcribed from. See tests/cases/README.md for the format.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

CASES_DIR = Path(__file__).parent / "cases"


class Citation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    locator: str | None = None


class ExpectedError(BaseModel):
    model_config = ConfigDict(extra="forbid")
    field: str
    message_contains: str | None = None


class Expected(BaseModel):
    model_config = ConfigDict(extra="forbid")
    her2: dict[str, Any] = {}
    specimens: list[dict[str, Any]] | None = None
    rules: list[str] = []
    rules_absent: list[str] = []
    flags: list[str] | None = None
    flags_include: list[str] = []
    recommendations: list[str] | None = None
    recommendations_include: list[str] = []
    recommendations_absent: list[str] = []
    warnings_include: list[str] = []
    warnings_absent: list[str] = []
    therapies: list[dict[str, Any]] | None = None
    criteria: dict[str, Any] | None = None  # subset of the output's criteria block (the case's `criteria`)


class GoldenCase(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    title: str
    sources: list[Citation] = Field(min_length=1)
    input: Any
    expect: Expected | None = None
    expect_error: ExpectedError | None = None


@dataclass(frozen=True)
class Loaded:
    path: Path
    case: GoldenCase


def load_cases(directory: Path = CASES_DIR) -> Iterator[Loaded]:
    for path in sorted(directory.rglob("*.yaml")):
        if path.parts[-2] == "therapy" and "cases" in path.parts:
            # therapy golden cases have their own format (tests/therapy)
            continue
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        docs = raw if isinstance(raw, list) else [raw]
        for doc in docs:
            yield Loaded(path=path, case=GoldenCase.model_validate(doc))


def subset_mismatches(expected: dict[str, Any], actual: dict[str, Any], where: str) -> list[str]:
    """Keys of ``expected`` that ``actual`` lacks or differs on; nested dicts are compared as subsets too."""
    problems = []
    for key, value in expected.items():
        if key not in actual:
            problems.append(f"{where}.{key}: missing from output")
        elif isinstance(value, dict) and isinstance(actual[key], dict):
            problems += subset_mismatches(value, actual[key], f"{where}.{key}")
        elif (isinstance(value, list) and isinstance(actual[key], list) and len(value) == len(actual[key])
              and value and all(isinstance(v, dict) for v in value)):
            for i, (want, got) in enumerate(zip(value, actual[key], strict=True)):
                if isinstance(got, dict):
                    problems += subset_mismatches(want, got, f"{where}.{key}[{i}]")
                else:
                    problems.append(f"{where}.{key}[{i}]: expected an object, got {got!r}")
        elif actual[key] != value:
            problems.append(f"{where}.{key}: expected {value!r}, got {actual[key]!r}")
    return problems
