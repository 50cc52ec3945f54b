"""Therapy golden cases (tests/cases/therapy/*.yaml): typed facts in, expected options out.

Each case cites the label or paper it is transcribed from::

    - id: gastric-first-line-cps5            # unique
      title: First-line HER2-positive gastric cancer with PD-L1 CPS 5
      sources: [{id: fda-pembrolizumab-gastric-2025}]
      facts: {tumor: STAD, setting: metastatic, her2_status: positive, pd_l1_cps: 5, prior_lines: 0}
      expect:
        first: fda.pembrolizumab.gastric-first-line        # optional: the first option listed
        listed: [...]                                       # optional: exactly these options are listed
        absent: [...]                                       # optional: these options are not listed
        options:                                            # per option: outcome, and optionally
          fda.pembrolizumab.gastric-first-line:             #   not_met / unknown (exact criterion id sets),
            outcome: eligible                               #   met (subset), needs_include (substrings),
                                                            #   reason_contains {criterion id: substring}

``facts`` are TherapyFacts fields, except ``tumor`` (the OncoTree code; the lineage comes from the tumor
table), ``include_unverified`` (the case's opt-in) and ``region`` (``us`` / ``eu``: the options as seen from that
region, docs/therapy.md "Regions"). Lists become tuples.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

CASES = Path(__file__).resolve().parents[1] / "cases" / "therapy"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Citation(_Strict):
    id: str
    locator: str | None = None


class OptionExpectation(_Strict):
    outcome: Literal["eligible", "insufficient_data", "not_eligible"]
    not_met: list[str] | None = None
    unknown: list[str] | None = None
    met: list[str] = []
    needs_include: list[str] = []
    reason_contains: dict[str, str] = {}
    region_status: str | None = None  # substring of region_status; "" expects none (the default region)
    agencies: list[str] | None = None  # the agencies of the option's regulatory records, in order


class Expectation(_Strict):
    first: str | None = None
    listed: list[str] | None = None
    absent: list[str] = []
    options: dict[str, OptionExpectation] = {}


class TherapyCase(_Strict):
    id: str
    title: str
    sources: list[Citation] = Field(min_length=1)
    facts: dict[str, Any]
    expect: Expectation


def load_cases(directory: Path = CASES) -> Iterator[tuple[Path, TherapyCase]]:
    for path in sorted(directory.glob("*.yaml")):
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        for doc in raw if isinstance(raw, list) else [raw]:
            yield path, TherapyCase.model_validate(doc)
