"""The engine in worker processes (``HER2CDS_ENGINE=process``, the default of ``her2cds serve``): the same
answers as the thread engine on every engine route (and their errors), CDS Hooks calls that need a FHIR server
query, a worker that dies, a request cancelled mid-job, and shutdown finishing the job in flight
(issue 10 item 7, issue 14 item 4)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from her2cds import examples
from her2cds.adapters.api import Settings, create_app, procpool
from her2cds.adapters.api.errors import ServiceError
from her2cds.adapters.api.examples import FHIR_BUNDLE
from her2cds.adapters.api.jobs import assess_one, json_type
from her2cds.adapters.api.procpool import ProcessEngine
from her2cds.adapters.api.state import AppState
from tests.api import holding
from tests.cdshooks import fhirdata

pytestmark = pytest.mark.slow  # starts worker processes

CASE = examples.load()
SERVER = "https://fhir.example.org/r4"
JSON_HEADERS = {"content-type": "application/json"}

#: (method, path, body, headers): every route that runs on the engine, valid and invalid bodies
REQUESTS: list[tuple[str, Any, dict[str, str]]] = [
    ("/v1/assess", CASE, {}),
    ("/v1/assess?expand=therapies", CASE, {}),
    ("/v1/assess", CASE, {"accept": "application/fhir+json"}),
    ("/v1/assess", {**CASE, "specimens": [{"ihc": {"score": "4+"}}]}, {}),
    ("/v1/assess", [CASE], {}),
    ("/v1/assess", b"{not json", {}),
    ("/v1/assess/batch", [CASE, {"tumor": 5}, 7], {}),
    ("/v1/assess/batch", [CASE], {"accept": "application/fhir+json"}),
    ("/v1/fhir/assess", FHIR_BUNDLE, {}),
    ("/v1/fhir/assess", {"resourceType": "Patient"}, {}),
    ("/cds-services/her2-assessment",
     fhirdata.patient_view(fhirdata.prefetch(conditions=[fhirdata.condition("C16.9", "Stomach")],
                                             her2=[fhirdata.ihc("3+")])), {}),
    ("/cds-services/her2-assessment", fhirdata.patient_view(None), {}),  # 412: no data, no server
    ("/cds-services/her2-assessment", {"hook": "patient-view", "context": 5}, {}),
    ("/cds-services/her2-therapy-check",
     fhirdata.hook_request("order-select", fhirdata.order_context(fhirdata.medication_request("trastuzumab")),
                           fhirdata.prefetch(conditions=[fhirdata.condition("C50.911", "Breast")],
                                             her2=[fhirdata.ihc("3+")])), {}),
]


def _content(body: Any) -> bytes:
    return body if isinstance(body, bytes) else json.dumps(body).encode()


def _without_uuids(value: Any) -> Any:
    """``value`` without the "uuid" members of CDS cards and suggestions (fresh in every answer)."""
    if isinstance(value, dict):
        return {key: _without_uuids(item) for key, item in value.items() if key != "uuid"}
    if isinstance(value, list):
        return [_without_uuids(item) for item in value]
    return value


async def _answers(app: Any) -> list[tuple[int, Any]]:
    transport = httpx.ASGITransport(app=app)
    out: list[tuple[int, Any]] = []
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=60) as client:
        for path, body, headers in REQUESTS:
            response = await client.post(path, content=_content(body), headers={**JSON_HEADERS, **headers})
            out.append((response.status_code, _without_uuids(response.json())))
    return out


async def _closed(app: Any) -> None:
    state: AppState = app.state.her2cds
    await state.engine.aclose()


def test_process_engine_answers_exactly_as_the_thread_engine() -> None:
    async def go() -> tuple[list[tuple[int, Any]], list[tuple[int, Any]]]:
        threads = create_app(Settings(engine="thread"))
        processes = create_app(Settings(engine="process", workers=2))
        try:
            return await _answers(threads), await _answers(processes)
        finally:
            await _closed(threads)
            await _closed(processes)

    by_threads, by_processes = asyncio.run(go())
    assert [status for status, _ in by_processes] == [200, 200, 200, 422, 422, 400, 200, 200, 200, 422, 200, 412,
                                                      422, 200]
    assert by_processes == by_threads


def test_a_cds_call_needing_a_fhir_query_is_queried_by_the_service_and_assessed_by_a_worker() -> None:
    server = fhirdata.FakeFhirServer([fhirdata.patient(), fhirdata.condition("C16.9", "Stomach"), fhirdata.ihc("3+")])
    body = fhirdata.patient_view(None, fhirServer=SERVER)

    async def go(engine: str) -> tuple[int, Any]:
        app = create_app(Settings(engine=engine, workers=1, fhir_allowed_servers=[SERVER]),
                         fhir_transport=server.transport)
        transport = httpx.ASGITransport(app=app)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=60) as client:
                response = await client.post("/cds-services/her2-assessment", json=body)
                return response.status_code, response.json()
        finally:
            await _closed(app)

    status, answer = asyncio.run(go("process"))
    assert status == 200 and server.requests  # the service queried the FHIR server
    assert "HER2-positive" in json.dumps(answer)
    queried = len(server.requests)
    assert asyncio.run(go("thread"))[0] == 200 and len(server.requests) == 2 * queried


@pytest.fixture
def held(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Worker processes that hold cases whose id starts with "hold" until :func:`holding.release`."""
    monkeypatch.setenv("TEST_GATE_DIR", str(tmp_path))
    monkeypatch.setattr(procpool, "worker_command", holding.worker_command)
    yield tmp_path
    holding.release(tmp_path)


def _body(case_id: str) -> bytes:
    return json.dumps({**CASE, "id": case_id}).encode()


async def _started(gate: Path, count: int = 1) -> list[int]:
    return await asyncio.get_running_loop().run_in_executor(None, holding.started, gate, count)


def test_a_killed_worker_fails_its_job_cleanly_and_is_replaced(held: Path) -> None:
    async def go() -> None:
        engine = ProcessEngine(1)
        try:
            await engine.start()
            (first,) = engine.pids
            job = asyncio.ensure_future(engine.call(assess_one, None, _body("hold-1"), "application/json", None,
                                                    request_id="r-1"))
            assert await _started(held) == [first]
            os.kill(first, signal.SIGKILL)
            with pytest.raises(ServiceError) as failure:
                await job
            assert failure.value.status == 500 and failure.value.code == "internal_error"
            assert "r-1" in failure.value.message
            waiting = engine.call(assess_one, None, _body("after"), "application/json", None)
            reply = await asyncio.wait_for(waiting, 120)  # waits for the replacement worker
            assert reply.status == 200 and json.loads(reply.body)["id"] == "after"
            assert engine.replaced == 1 and len(engine.pids) == 1 and engine.pids != [first]
        finally:
            await engine.aclose()

    asyncio.run(go())


def test_a_cancelled_request_leaves_the_worker_in_step(held: Path) -> None:
    async def go() -> None:
        engine = ProcessEngine(1)
        try:
            job = asyncio.ensure_future(engine.call(assess_one, None, _body("hold-1"), "application/json", None))
            await _started(held)
            job.cancel()  # e.g. the server gave up on the request
            queued = asyncio.ensure_future(engine.call(assess_one, None, _body("second"), "application/json", None))
            holding.release(held)
            with pytest.raises(asyncio.CancelledError):
                await job
            reply = await queued
            assert json.loads(reply.body)["id"] == "second"  # its own answer, not the cancelled one's
            third = await engine.call(assess_one, None, _body("third"), "application/json", None)
            assert json.loads(third.body)["id"] == "third"
        finally:
            await engine.aclose()

    asyncio.run(go())


def test_closing_finishes_the_job_in_flight_then_stops_the_workers(held: Path) -> None:
    async def go() -> None:
        engine = ProcessEngine(2)
        await engine.start()
        pids = engine.pids
        if hasattr(os, "sched_getscheduler"):  # batch scheduling: waking a worker does not preempt the event loop
            assert [os.sched_getscheduler(pid) for pid in pids] == [os.SCHED_BATCH] * 2
        job = asyncio.ensure_future(engine.call(assess_one, None, _body("hold-1"), "application/json", None))
        await _started(held)
        closing = asyncio.ensure_future(engine.aclose())
        await asyncio.sleep(0.2)
        assert not job.done() and not closing.done()
        holding.release(held)
        reply = await job
        await closing
        assert reply.status == 200 and engine.pids == []
        for pid in pids:
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)
        with pytest.raises(ServiceError) as refused:
            await engine.call(assess_one, None, _body("late"), "application/json", None)
        assert refused.value.status == 503

    asyncio.run(go())


def test_only_registered_jobs_run_on_a_worker_process() -> None:
    async def go() -> None:
        engine = ProcessEngine(1)
        try:
            with pytest.raises(ServiceError) as refused:
                await engine.call(json_type, None, 5)
            assert refused.value.status == 500
            assert engine.pids == []  # refused before any worker was needed
        finally:
            await engine.aclose()

    asyncio.run(go())
