"""The load benchmarks send distinct cases: every body once, no repeats across phases (issue 14's service figure)."""

from __future__ import annotations

import asyncio
import json

import pytest
from bench.load_service import Bodies, Endpoint, endpoints, run_load


def _content(body: bytes) -> str:
    case = json.loads(body)
    return json.dumps({k: v for k, v in case.items() if k != "id"}, sort_keys=True)


def test_each_endpoint_streams_distinct_bodies_and_unsent_ones_come_back_first() -> None:
    assess, hooks = endpoints()
    first = assess.take(3_000)
    assert len({_content(body) for body in first.bodies}) == 3_000  # distinct findings, not only distinct ids
    sent, unsent = first.bodies[:1_000], first.bodies[1_000:]
    assess.put_back(unsent)
    assert assess.handed == 1_000
    second = assess.take(2_500)
    assert second.bodies[:2_000] == unsent  # what a phase did not send is sent next, once
    assert not set(second.bodies) & set(sent)
    assert assess.handed == 3_500 and len(set(sent) | set(second.bodies)) == 3_500
    calls = [json.loads(body) for body in hooks.take(500).bodies]
    assert len({call["context"]["patientId"] for call in calls}) == 500


def test_a_phase_refuses_to_repeat_bodies() -> None:
    endpoint = Endpoint("POST /v1/assess", "/v1/assess", Bodies("x", "/v1/assess", iter([b"{}"] * 3)).take(3).bodies)
    with pytest.raises(ValueError, match="4 requests need as many distinct bodies, got 3"):
        asyncio.run(run_load(1, endpoint, rate=10, count=4, deadline=0))
