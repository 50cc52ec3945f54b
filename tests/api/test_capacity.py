"""The engine off the event loop in a bounded worker pool, load shedding with 503 + Retry-After, /healthz
responsive while the workers are busy (issue 10 item 7, issue 14 item 4)."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import anyio
import httpx
import pytest

import her2cds
from her2cds import examples
from her2cds.adapters.api import Settings, create_app
from her2cds.adapters.api.deps import get_assessor
from her2cds.adapters.api.server import check_exposure
from her2cds.errors import UsageError
from her2cds.model.assessment import Assessment
from tests.api.client import assert_envelope

CASE = examples.load()
JSON_HEADERS = {"content-type": "application/json"}


class SlowAssessor:
    """Blocks each assessment until released; records how many ran at once and on which threads."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.started = 0
        self.threads: set[str] = set()

    def __call__(self, case: dict[str, Any]) -> Assessment:
        with self.lock:
            self.running += 1
            self.started += 1
            self.most = max(self.most, self.running)
            self.threads.add(threading.current_thread().name)
        try:
            if not self.release.wait(10):
                raise TimeoutError("never released")
            return her2cds.assess(case)
        finally:
            with self.lock:
                self.running -= 1


def _app(slow: SlowAssessor, **settings: Any) -> Any:
    app = create_app(Settings(**settings))

    async def provider() -> SlowAssessor:
        return slow

    app.dependency_overrides[get_assessor] = provider
    return app


async def _wait_for(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        await anyio.sleep(0.01)


def test_overload_is_shed_with_503_and_healthz_stays_up() -> None:
    slow = SlowAssessor()
    app = _app(slow, workers=1, max_pending_requests=2, retry_after_seconds=3)
    answers: list[httpx.Response] = []

    async def go() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=20) as client:

            async def post() -> None:
                answers.append(await client.post("/v1/assess", content=json.dumps(CASE), headers=JSON_HEADERS))

            async with anyio.create_task_group() as group:
                group.start_soon(post)
                group.start_soon(post)
                await _wait_for(lambda: slow.started == 1)  # one runs, one waits for the single worker
                await anyio.sleep(0.05)
                assert slow.started == 1  # the pool is bounded: the second waits
                shed = await client.post("/v1/assess", content=json.dumps(CASE), headers=JSON_HEADERS)
                error = assert_envelope(shed, 503, "service_unavailable")
                assert "capacity" in error["message"]
                assert shed.headers["retry-after"] == "3"
                started = time.perf_counter()
                health = await client.get("/healthz")
                assert health.status_code == 200
                assert time.perf_counter() - started < 0.5  # the event loop is free while the engine works
                slow.release.set()

    anyio.run(go)
    assert [r.status_code for r in answers] == [200, 200]
    assert slow.most == 1
    assert all(name.startswith("her2cds-engine") for name in slow.threads)


def test_pool_runs_one_worker_per_setting_and_admits_again_after_load() -> None:
    slow = SlowAssessor()
    app = _app(slow, workers=2, max_pending_requests=4)

    async def go() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        statuses: list[int] = []
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=20) as client:

            async def post() -> None:
                response = await client.post("/v1/assess", content=json.dumps(CASE), headers=JSON_HEADERS)
                statuses.append(response.status_code)

            async with anyio.create_task_group() as group:
                for _ in range(4):
                    group.start_soon(post)
                await _wait_for(lambda: slow.started == 2)
                await anyio.sleep(0.05)
                assert slow.running == 2
                slow.release.set()
            after = await client.post("/v1/assess", content=json.dumps(CASE), headers=JSON_HEADERS)
            statuses.append(after.status_code)
        return statuses

    assert anyio.run(go) == [200] * 5
    assert slow.most == 2


def test_cds_hooks_and_fhir_run_on_the_pool_too() -> None:
    from her2cds.adapters.api.examples import FHIR_BUNDLE
    from tests.cdshooks import fhirdata

    slow = SlowAssessor()
    slow.release.set()
    app = _app(slow, workers=1)

    async def go() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=20) as client:
            assert (await client.post("/v1/fhir/assess", json=FHIR_BUNDLE)).status_code == 200
            body = fhirdata.patient_view(
                fhirdata.prefetch(conditions=[fhirdata.condition("C16.9", "Stomach")], her2=[fhirdata.ihc("3+")])
            )
            assert (await client.post("/cds-services/her2-assessment", json=body)).status_code == 200
            assert (await client.post("/v1/assess/batch", json=[CASE, CASE])).status_code == 200

    anyio.run(go)
    assert slow.started == 4 and slow.threads == {"her2cds-engine_0"}


def test_get_requests_are_never_shed() -> None:
    slow = SlowAssessor()
    app = _app(slow, workers=1, max_pending_requests=1)

    async def go() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=20) as client:
            async def post() -> None:
                await client.post("/v1/assess", content=json.dumps(CASE), headers=JSON_HEADERS)

            async with anyio.create_task_group() as group:
                group.start_soon(post)
                await _wait_for(lambda: slow.started == 1)
                for path in ("/healthz", "/v1/service-info", "/cds-services", "/openapi.json"):
                    assert (await client.get(path)).status_code == 200, path
                slow.release.set()

    anyio.run(go)


# -- deployment defaults -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::", "cds.example.org"])
def test_binding_beyond_loopback_without_authentication_is_refused(host: str) -> None:
    with pytest.raises(UsageError, match="--insecure"):
        check_exposure(host, Settings(), insecure=False)
    with pytest.raises(UsageError, match="HER2CDS_CDS_CLIENTS_FILE"):
        check_exposure(host, Settings(api_token="t" * 32), insecure=False)
    check_exposure(host, Settings(), insecure=True)  # explicitly accepted (logged as a warning)


def test_loopback_and_authenticated_binds_are_allowed(tmp_path: Any) -> None:
    for host in ("127.0.0.1", "localhost", "::1"):
        check_exposure(host, Settings(), insecure=False)
    jwks = tmp_path / "k.json"
    jwks.write_text("{}")
    check_exposure("0.0.0.0", Settings(api_token="t" * 32, cds_jwks_file=jwks), insecure=False)
