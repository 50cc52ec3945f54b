"""Load test of the running service on loopback: throughput and latency of ``POST /v1/assess`` and of the
CDS Hooks ``her2-assessment`` service at a fixed request rate.

Run (from the repository root, with the ``service`` extra installed):

    python bench/load_service.py                       # 200 requests/s for 10 s per endpoint
    python bench/load_service.py --rate 300 --duration 5 --json

The script starts ``her2cds.adapters.api.run`` in a subprocess on a free port of 127.0.0.1 (never another
interface), waits for ``/healthz``, warms up, then sends requests *open loop*: request i is due at
``start + i / rate`` whatever happened before, and its latency is measured from that due time, so a server
that falls behind is charged for the queueing it causes (no coordinated omission). The run is bounded by
``--duration`` x ``--rate`` requests per endpoint, ``--max-requests`` and a hard ``--deadline``; the server
is stopped at the end in every case. Prints the figures; asserts nothing (see ``--check`` to exit non-zero
when the p99 target is missed).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

HOST = "127.0.0.1"  # loopback only, by design
TARGET_P99_MS = 20.0

PATIENT = "bench-patient-1"
SUBJECT = {"reference": f"Patient/{PATIENT}"}


# ---- workloads ------------------------------------------------------------------------------------------------
def _cases() -> list[dict[str, Any]]:
    """The packaged example cases, then 12,000 distinct generated cases (bench/cases.py): requests are sent in
    this order, so a run of up to 12,000 requests never repeats a case after the first few."""
    from her2cds import examples

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from bench.cases import generate

    return [examples.load(name) for name in examples.names()] + list(generate(12_000, seed=23))


def _searchset(*resources: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in resources]}


def _observation(ident: str, code: str, **value: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": ident,
        "status": "final",
        "subject": SUBJECT,
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
        **value,
    }


def _hook_requests() -> list[dict[str, Any]]:
    """patient-view calls with a complete prefetch (no FHIR server round trips: the service alone is timed)."""
    scenarios = [
        (
            "C50.911",
            "Malignant neoplasm of right female breast",
            [_observation("o1", "18474-7", valueCodeableConcept={"text": "2+"})],
        ),
        (
            "C16.9",
            "Malignant neoplasm of stomach",
            [
                _observation("o1", "18474-7", valueCodeableConcept={"text": "2+"}),
                _observation("o2", "49683-6", valueQuantity={"value": 2.6, "unit": "{ratio}"}),
            ],
        ),
        (
            "C22.1",
            "Intrahepatic bile duct carcinoma",
            [_observation("o1", "18474-7", valueCodeableConcept={"text": "3+"})],
        ),
    ]
    requests = []
    for icd10, display, observations in scenarios:
        condition = {
            "resourceType": "Condition",
            "id": "c1",
            "subject": SUBJECT,
            "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": icd10, "display": display}]},
        }
        prefetch = {
            "patient": {"resourceType": "Patient", "id": PATIENT},
            "conditions": _searchset(condition),
            "her2Observations": _searchset(*observations),
            "variantObservations": None,
            "biomarkerObservations": None,
            "stagingObservations": None,
            "specimens": None,
            "medicationRequests": None,
            "medicationStatements": _searchset(
                {
                    "resourceType": "MedicationStatement",
                    "id": "m1",
                    "status": "completed",
                    "subject": SUBJECT,
                    "medicationCodeableConcept": {"text": "gemcitabine"},
                }
            ),
        }
        requests.append(
            {
                "hook": "patient-view",
                "hookInstance": str(uuid.uuid4()),
                "context": {"userId": "Practitioner/bench", "patientId": PATIENT},
                "prefetch": prefetch,
            }
        )
    return requests


@dataclass(frozen=True)
class Endpoint:
    name: str
    path: str
    bodies: list[bytes]


def endpoints() -> list[Endpoint]:
    return [
        Endpoint("POST /v1/assess", "/v1/assess", [json.dumps(c).encode() for c in _cases()]),
        Endpoint(
            "POST /cds-services/her2-assessment",
            "/cds-services/her2-assessment",
            [json.dumps(r).encode() for r in _hook_requests()],
        ),
    ]


# ---- the server ---------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def running_server(port: int, startup_timeout: float = 60.0) -> Iterator[subprocess.Popen[bytes]]:
    """``her2cds.adapters.api.run`` in a subprocess on 127.0.0.1:port; always stopped on exit."""
    code = f"from her2cds.adapters.api import run; run({HOST!r}, {port})"
    env = {**os.environ, "HER2CDS_LOG_LEVEL": os.environ.get("HER2CDS_LOG_LEVEL", "warning")}
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen([sys.executable, "-c", code], stdout=log, stderr=log, env=env)
        try:
            deadline = time.monotonic() + startup_timeout
            while True:
                if process.poll() is not None:
                    log.seek(0)
                    raise RuntimeError(f"the server exited with {process.returncode}:\n{log.read().decode()[-2000:]}")
                try:
                    if httpx.get(f"http://{HOST}:{port}/healthz", timeout=1.0).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("the server did not become healthy in time")
                time.sleep(0.1)
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


# ---- a lean HTTP/1.1 keep-alive client ------------------------------------------------------------------------
class RawClient:
    """Minimal HTTP/1.1 client over persistent loopback connections. A general-purpose client costs more CPU
    per request than the service under test, and on a 2-core machine that CPU is taken from the server."""

    #: idle connections older than this are closed rather than reused: the server drops idle keep-alive
    #: connections after a few seconds (uvicorn: 5 s), and a write to such a socket fails
    MAX_IDLE_SECONDS = 2.0

    def __init__(self, host: str, port: int, max_connections: int = 64) -> None:
        self.host, self.port = host, port
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []
        self.slots = asyncio.Semaphore(max_connections)

    async def post(self, path: str, body: bytes) -> int:
        """POST ``body``; the status code (the response body is read and dropped)."""
        async with self.slots:
            reader = writer = None
            while self.idle:
                idle_reader, idle_writer, since = self.idle.pop()
                if time.monotonic() - since <= self.MAX_IDLE_SECONDS:
                    reader, writer = idle_reader, idle_writer
                    break
                idle_writer.close()
            if reader is None or writer is None:
                reader, writer = await asyncio.open_connection(self.host, self.port)
            try:
                writer.write(
                    f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head.split(b" ", 2)[1])
                length = 0
                keep = True
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                    elif name.strip().lower() == b"connection" and value.strip().lower() == b"close":
                        keep = False  # e.g. a 503 of load shedding: the server closes this connection
                await reader.readexactly(length)
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
                writer.close()
                raise
            if keep:
                self.idle.append((reader, writer, time.monotonic()))
            else:
                writer.close()
            return status

    async def close(self) -> None:
        for _, writer, _ in self.idle:
            writer.close()
        self.idle.clear()


# ---- the load generator ---------------------------------------------------------------------------------------
@dataclass
class Figures:
    endpoint: str
    rate_target: float
    requests: int
    completed: int
    errors: int
    throughput: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    mean_service_ms: float
    error_kinds: dict[str, int]

    def line(self) -> str:
        return (
            f"{self.endpoint:38s} {self.completed:6d}/{self.requests:<6d} err {self.errors:3d}  "
            f"{self.throughput:7.1f} req/s  p50 {self.p50_ms:6.2f}  p90 {self.p90_ms:6.2f}  "
            f"p99 {self.p99_ms:6.2f}  max {self.max_ms:7.2f} ms"
            + (f"  errors: {self.error_kinds}" if self.error_kinds else "")
        )


def _percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]


async def run_load(
    port: int,
    endpoint: Endpoint,
    *,
    rate: float,
    count: int,
    deadline: float,
    clock: Callable[[], float] = time.perf_counter,
    max_connections: int = 64,
) -> Figures:
    latencies: list[float] = []  # from the due time (includes any queueing behind the schedule)
    service: list[float] = []  # from the actual send
    errors = 0
    kinds: dict[str, int] = {}
    client = RawClient(HOST, port, max_connections)
    try:

        async def one(i: int, due: float) -> None:
            nonlocal errors
            sent = clock()
            try:
                status = await asyncio.wait_for(
                    client.post(endpoint.path, endpoint.bodies[i % len(endpoint.bodies)]), timeout=10.0
                )
                kind = "ok" if status == 200 else f"HTTP {status}"
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, TimeoutError) as exc:
                kind = type(exc).__name__
            done = clock()
            if kind == "ok":
                latencies.append(done - due)
                service.append(done - sent)
            else:
                errors += 1
                kinds[kind] = kinds.get(kind, 0) + 1

        start = clock() + 0.05
        tasks: list[asyncio.Task[None]] = []
        for i in range(count):
            due = start + i / rate
            delay = due - clock()
            if delay > 0:
                await asyncio.sleep(delay)
            if time.monotonic() > deadline:
                break
            tasks.append(asyncio.create_task(one(i, due)))
        remaining = max(0.1, deadline - time.monotonic())
        _, pending = await asyncio.wait(tasks, timeout=remaining) if tasks else (set(), set())
        for task in pending:
            task.cancel()
        errors += len(pending)
        if pending:
            kinds["unfinished at the deadline"] = len(pending)
        finished = clock()
    finally:
        await client.close()
    ordered = sorted(latencies)
    elapsed = max(finished - start, 1e-9)
    return Figures(
        endpoint=endpoint.name,
        rate_target=rate,
        requests=len(tasks),
        completed=len(latencies),
        errors=errors,
        throughput=len(latencies) / elapsed,
        p50_ms=_percentile(ordered, 0.50) * 1000,
        p90_ms=_percentile(ordered, 0.90) * 1000,
        p99_ms=_percentile(ordered, 0.99) * 1000,
        max_ms=(ordered[-1] * 1000 if ordered else float("nan")),
        mean_service_ms=(statistics.fmean(service) * 1000 if service else float("nan")),
        error_kinds=kinds,
    )


async def warm_up(base_url: str, endpoint: Endpoint, n: int) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=30.0) as client:
        for i in range(n):
            response = await client.post(
                endpoint.path,
                content=endpoint.bodies[-1 - i % len(endpoint.bodies)],  # from the end: the measured run
                headers={"content-type": "application/json"},  # starts at the first body, so no case repeats
            )
            if response.status_code != 200:
                raise RuntimeError(f"{endpoint.name} answered {response.status_code}: {response.text[:500]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second (default 200)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per endpoint (default 10)")
    parser.add_argument("--max-requests", type=int, default=10_000, help="cap per endpoint (default 10000)")
    parser.add_argument("--deadline", type=float, default=180.0, help="hard limit of the whole run, seconds")
    parser.add_argument("--warm-up", type=int, default=100, help="requests per endpoint before measuring")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--check", action="store_true", help=f"exit 1 unless p99 < {TARGET_P99_MS} ms, no errors")
    args = parser.parse_args(argv)
    if args.rate <= 0 or args.duration <= 0:
        parser.error("--rate and --duration must be positive")

    load_before = os.getloadavg()
    deadline = time.monotonic() + args.deadline
    count = min(args.max_requests, int(args.rate * args.duration))
    port = free_port()
    results: list[Figures] = []
    with running_server(port) as process:
        base_url = f"http://{HOST}:{port}"
        for endpoint in endpoints():
            asyncio.run(warm_up(base_url, endpoint, args.warm_up))
            results.append(asyncio.run(run_load(port, endpoint, rate=args.rate, count=count, deadline=deadline)))
        server_pid = process.pid

    load = os.getloadavg()
    if args.json:
        print(
            json.dumps(
                {
                    "host": HOST,
                    "port": port,
                    "cpus": os.cpu_count(),
                    "target_p99_ms": TARGET_P99_MS,
                    "loadavg_before": load_before,
                    "loadavg_after": load,
                    "results": [asdict(r) for r in results],
                },
                indent=2,
            )
        )
    else:
        print(
            f"her2cds service load test on {HOST}:{port} (server pid {server_pid}, {os.cpu_count()} CPUs), "
            f"{args.rate:g} req/s open loop, {count} requests per endpoint; load average before "
            f"{load_before[0]:.2f}, after {load[0]:.2f} (other work on the machine inflates the tail)"
        )
        for figures in results:
            print("  " + figures.line())
        verdict = all(r.p99_ms < TARGET_P99_MS and r.errors == 0 for r in results)
        print(f"  target p99 < {TARGET_P99_MS:g} ms with no errors: {'met' if verdict else 'NOT met'}")
    if args.check:
        return 0 if all(r.p99_ms < TARGET_P99_MS and r.errors == 0 for r in results) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
