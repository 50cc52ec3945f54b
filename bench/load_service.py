"""Load test of the running service on loopback: throughput and latency of ``POST /v1/assess`` and of the
CDS Hooks ``her2-assessment`` service at a fixed request rate.

Run (from the repository root, with the ``service`` extra installed):

    python bench/load_service.py                       # per endpoint: saturation, 200 req/s, 50 % of saturation
    python bench/load_service.py --repeat 3 --json     # every phase three times
    python bench/load_service.py --saturation-seconds 0 --rate 300 --duration 5   # one fixed rate only

The script starts ``her2cds.adapters.api.run`` in a subprocess on a free port of 127.0.0.1 (never another
interface), waits for ``/healthz``, warms up, measures the saturation rate of each endpoint (closed loop, 32
connections that never wait), then sends requests *open loop* at ``--rate`` and at ``--fraction`` of the
saturation rate: request i is due at
``start + i / rate`` whatever happened before, and its latency is measured from that due time, so a server
that falls behind is charged for the queueing it causes (no coordinated omission). The run is bounded by
``--duration`` x ``--rate`` requests per endpoint, ``--max-requests`` and a hard ``--deadline``; the server
is stopped at the end in every case. **No request body is sent twice** (warm-up included): each endpoint has
an endless stream of distinct bodies generated on demand, and every phase sends the next ones (``/v1/assess``:
the packaged examples, then generated cases from bench/cases.py, a case whose findings repeat an earlier one's
skipped; the CDS Hooks patient-view: generated calls, each
a new patient with its own diagnosis, results and history). Next to every figure: the CPU seconds of the
server's event-loop process, of its engine workers and of this generator, and the load average (the machine is
shared). Prints the figures; asserts nothing (see ``--check`` to exit non-zero when the p99 target is missed).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import hashlib
import itertools
import json
import os
import random
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
#: the saturation phase is handed this many distinct bodies per second of its length (it sends what it can)
SATURATION_CAP_RPS = 5_000



# ---- workloads ------------------------------------------------------------------------------------------------
def _case_bodies() -> Iterator[bytes]:
    """The packaged example cases, then generated cases (bench/cases.py, an endless stream): each body once,
    and no two with the same content (the case id aside: a generated case that repeats an earlier one's findings
    is skipped)."""
    from her2cds import examples

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from bench.cases import make_case

    seen: set[bytes] = set()

    def fresh(case: dict[str, Any]) -> bytes | None:
        content = json.dumps({k: v for k, v in case.items() if k != "id"}, sort_keys=True).encode()
        digest = hashlib.blake2b(content, digest_size=16).digest()
        if digest in seen:
            return None
        seen.add(digest)
        return json.dumps(case).encode()

    for name in examples.names():
        if (body := fresh(examples.load(name))) is not None:
            yield body
    rng = random.Random(23)
    for i in itertools.count():
        if (body := fresh(make_case(rng, i))) is not None:
            yield body


def _searchset(*resources: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in resources]}


#: (ICD-10-CM code, display): breast and gastroesophageal first, then other HER2 tumor sites
_DIAGNOSES = (
    ("C50.911", "Malignant neoplasm of unspecified site of right female breast"),
    ("C50.412", "Malignant neoplasm of upper-outer quadrant of left female breast"),
    ("C50.919", "Malignant neoplasm of unspecified site of unspecified female breast"),
    ("C16.0", "Malignant neoplasm of cardia"),
    ("C16.9", "Malignant neoplasm of stomach, unspecified"),
    ("C15.5", "Malignant neoplasm of lower third of esophagus"),
    ("C18.7", "Malignant neoplasm of sigmoid colon"),
    ("C20", "Malignant neoplasm of rectum"),
    ("C34.11", "Malignant neoplasm of upper lobe, right bronchus or lung"),
    ("C22.1", "Intrahepatic bile duct carcinoma"),
    ("C23", "Malignant neoplasm of gallbladder"),
    ("C54.1", "Malignant neoplasm of endometrium"),
    ("C67.9", "Malignant neoplasm of bladder, unspecified"),
)
_AGENTS = (None, None, "gemcitabine", "trastuzumab", "capecitabine", "paclitaxel", "trastuzumab deruxtecan", "FOLFOX")


def _hook_request(rng: random.Random, i: int) -> dict[str, Any]:
    """A distinct patient-view call with a complete prefetch: a new patient, diagnosis, IHC score, ISH ratio
    and copy number with two decimals (in about half), dates and medication history drawn at random."""
    patient = f"bench-{i}-{rng.randint(0, 10**9)}"
    subject = {"reference": f"Patient/{patient}"}
    icd10, display = rng.choice(_DIAGNOSES)
    day = f"20{rng.randint(18, 26)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"

    def observation(ident: str, code: str, **value: Any) -> dict[str, Any]:
        return {"resourceType": "Observation", "id": f"{ident}-{i}", "status": "final", "subject": subject,
                "effectiveDateTime": day, "code": {"coding": [{"system": "http://loinc.org", "code": code}]}, **value}

    observations = [observation("ihc", "18474-7", valueCodeableConcept={"text": rng.choice(["0", "1+", "2+", "3+"])})]
    if rng.random() < 0.5:
        observations.append(observation("ratio", "49683-6",
                                        valueQuantity={"value": round(rng.uniform(0.8, 6.0), 2), "unit": "{ratio}"}))
        if rng.random() < 0.5:
            observations.append(observation("copies", "74860-8", valueQuantity={
                "value": round(rng.uniform(1.5, 12.0), 2), "unit": "{copies}/{nucleus}"}))
    agent = rng.choice(_AGENTS)
    medications = None if agent is None else _searchset({
        "resourceType": "MedicationStatement", "id": f"m-{i}", "status": "completed", "subject": subject,
        "medicationCodeableConcept": {"text": agent}})
    condition = {"resourceType": "Condition", "id": f"c-{i}", "subject": subject, "recordedDate": day,
                 "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": icd10,
                                      "display": display}]}}
    prefetch = {
        "patient": {"resourceType": "Patient", "id": patient},
        "conditions": _searchset(condition),
        "her2Observations": _searchset(*observations),
        "variantObservations": None,
        "biomarkerObservations": None,
        "stagingObservations": None,
        "specimens": None,
        "medicationRequests": None,
        "medicationStatements": medications,
        "procedures": None,
    }
    return {
        "hook": "patient-view",
        "hookInstance": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "context": {"userId": "Practitioner/bench", "patientId": patient},
        "prefetch": prefetch,
    }


def _hook_bodies(seed: int = 23) -> Iterator[bytes]:
    """Patient-view calls with a complete prefetch (no FHIR server round trips: the service alone is timed), an
    endless stream: each a new patient (its own id, diagnosis, results and history)."""
    rng = random.Random(seed)
    for i in itertools.count():
        yield json.dumps(_hook_request(rng, i)).encode()


@dataclass(frozen=True)
class Endpoint:
    name: str
    path: str
    bodies: list[bytes]


class Bodies:
    """The distinct request bodies of one endpoint, generated on demand and each sent at most once: every phase
    takes (:meth:`take`) the next ones, and gives back (:meth:`put_back`) those it did not send, which the next phase
    then sends. ``handed`` counts the bodies sent so far: all distinct."""

    def __init__(self, name: str, path: str, source: Iterator[bytes]) -> None:
        self.name, self.path = name, path
        self._source = source
        self._back: list[bytes] = []
        self.handed = 0

    def take(self, n: int) -> Endpoint:
        bodies = self._back[:n]
        del self._back[:n]
        bodies += itertools.islice(self._source, n - len(bodies))
        self.handed += len(bodies)
        return Endpoint(self.name, self.path, bodies)

    def put_back(self, unsent: list[bytes]) -> None:
        self._back[:0] = unsent
        self.handed -= len(unsent)


def endpoints() -> list[Bodies]:
    """The two endpoints, each with its own stream of distinct request bodies."""
    return [
        Bodies("POST /v1/assess", "/v1/assess", _case_bodies()),
        Bodies("POST /cds-services/her2-assessment", "/cds-services/her2-assessment", _hook_bodies()),
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


def _freeze_client_heap() -> None:
    """Move this generator's long-lived objects (request bodies, earlier figures) out of the garbage collector's
    generations before a timed phase: a full collection walking them pauses the *client* for 80-100 ms (measured),
    which would be charged to the service's latency."""
    gc.collect()
    gc.freeze()


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
    if count > len(endpoint.bodies):
        raise ValueError(f"{endpoint.name}: {count} requests need as many distinct bodies, got {len(endpoint.bodies)}")
    _freeze_client_heap()
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
                    client.post(endpoint.path, endpoint.bodies[i]), timeout=10.0
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


async def warm_up(base_url: str, endpoint: Endpoint) -> None:
    """One request per body of ``endpoint`` (bodies of their own: the measured phases send others)."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30.0) as client:
        for body in endpoint.bodies:
            response = await client.post(endpoint.path, content=body, headers={"content-type": "application/json"})
            if response.status_code != 200:
                raise RuntimeError(f"{endpoint.name} answered {response.status_code}: {response.text[:500]}")


async def saturation(port: int, endpoint: Endpoint, seconds: float, concurrency: int = 32) -> tuple[float, int]:
    """Completed requests per second with ``concurrency`` clients that never wait, and the requests sent: the
    first bodies of ``endpoint``, each once (the phase ends early, and says so, if they run out first)."""
    _freeze_client_heap()
    client = RawClient(HOST, port, max_connections=concurrency)
    done = 0
    index = 0
    stop = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done, index
        while time.perf_counter() < stop and index < len(endpoint.bodies):
            body = endpoint.bodies[index]
            index += 1
            if await client.post(endpoint.path, body) == 200:
                done += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    await client.close()
    if index >= len(endpoint.bodies) and elapsed < seconds:
        print(f"note: {endpoint.name}: the saturation phase sent all {index} bodies it had in {elapsed:.2f} s "
              f"(of {seconds:g} s)", file=sys.stderr)
    return done / elapsed, index


# ---- CPU accounting ---------------------------------------------------------------------------------------------
def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    if int(stat.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except OSError:
                continue
    return found


def _run_queue_seconds(pid: int) -> float:
    """Seconds the main thread of ``pid`` (the server's event loop) was runnable but waiting for a CPU."""
    try:
        with open(f"/proc/{pid}/schedstat") as stat:
            return int(stat.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return float("nan")


@dataclass
class Cpu:
    """CPU seconds used during a phase: the server's event-loop process, its engine worker processes, this load
    generator; the seconds the event loop waited, runnable, for a CPU taken by something else (its run-queue
    delay: what other work on the shared machine costs it); and the load average at the end."""

    server_s: float
    workers_s: float
    generator_s: float
    loadavg_1min: float
    server_waited_s: float = float("nan")

    @staticmethod
    def sample(pid: int) -> tuple[float, float, float, float]:
        if not os.path.exists(f"/proc/{pid}/stat"):
            return (float("nan"),) * 4
        times = os.times()
        workers = 0.0
        for child in _children(pid):
            try:
                workers += _cpu_seconds(child)
            except OSError:
                continue
        return _cpu_seconds(pid), workers, times.user + times.system, _run_queue_seconds(pid)

    @classmethod
    def between(cls, before: tuple[float, ...], after: tuple[float, ...]) -> Cpu:
        server, workers, generator, waited = (round(b - a, 2) for a, b in zip(before, after, strict=True))
        return cls(server, workers, generator, round(os.getloadavg()[0], 2), waited)

    def line(self) -> str:
        return (f"CPU s: server loop {self.server_s:.2f} (waited for a CPU {self.server_waited_s:.2f}), workers "
                f"{self.workers_s:.2f}, generator {self.generator_s:.2f}; load {self.loadavg_1min:.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rate", type=float, default=200.0, help="fixed request rate per second (default 200)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per open-loop phase (default 10)")
    parser.add_argument("--max-requests", type=int, default=10_000, help="cap per phase (default 10000)")
    parser.add_argument("--deadline", type=float, default=600.0, help="hard limit of the whole run, seconds")
    parser.add_argument("--warm-up", type=int, default=100, help="requests per endpoint before measuring")
    parser.add_argument("--saturation-seconds", type=float, default=4.0,
                        help="closed-loop saturation phase per endpoint (0: skip it and the 50%% phase)")
    parser.add_argument("--fraction", type=float, default=0.5, help="open-loop rate as a fraction of saturation")
    parser.add_argument("--repeat", type=int, default=1, help="run every phase this many times (same server)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--check", action="store_true", help=f"exit 1 unless p99 < {TARGET_P99_MS} ms, no errors")
    args = parser.parse_args(argv)
    if args.rate <= 0 or args.duration <= 0 or args.repeat < 1 or not 0 < args.fraction <= 1:
        parser.error("--rate, --duration and --repeat must be positive, --fraction in (0, 1]")

    load_before = os.getloadavg()
    deadline = time.monotonic() + args.deadline
    port = free_port()
    results: list[dict[str, Any]] = []
    saturations: dict[str, list[float]] = {}
    distinct_bodies: dict[str, int] = {}
    lines: list[str] = []
    with running_server(port) as process:
        base_url = f"http://{HOST}:{port}"
        for stream in endpoints():
            asyncio.run(warm_up(base_url, stream.take(args.warm_up)))
            for _ in range(args.repeat):
                rates = [("fixed", args.rate)]
                if args.saturation_seconds > 0:
                    before = Cpu.sample(process.pid)
                    offered = stream.take(int(SATURATION_CAP_RPS * args.saturation_seconds))
                    rps, sent = asyncio.run(saturation(port, offered, args.saturation_seconds))
                    stream.put_back(offered.bodies[sent:])
                    cpu = Cpu.between(before, Cpu.sample(process.pid))
                    saturations.setdefault(stream.name, []).append(round(rps, 1))
                    lines.append(f"  {stream.name:38s} saturation (closed loop, 32 connections): {rps:7.1f} req/s;"
                                 f"  {cpu.line()}")
                    rates.append((f"{args.fraction:.0%} of saturation", args.fraction * rps))
                for phase, rate in rates:
                    count = min(args.max_requests, int(rate * args.duration))
                    before = Cpu.sample(process.pid)
                    figures = asyncio.run(run_load(port, stream.take(count), rate=rate, count=count,
                                                   deadline=deadline))
                    cpu = Cpu.between(before, Cpu.sample(process.pid))
                    results.append({"phase": phase, **asdict(figures), "cpu": asdict(cpu)})
                    lines.append(f"  {figures.line()}  [{phase}, {rate:.0f} req/s]  {cpu.line()}")
            distinct_bodies[stream.name] = stream.handed
            lines.append(f"  {stream.name}: {stream.handed} requests (warm-up included), each a distinct case: "
                         "none sent twice")
        server_pid = process.pid

    load = os.getloadavg()
    met = all(r["p99_ms"] < TARGET_P99_MS and r["errors"] == 0 for r in results)
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
                    "saturation_rps": saturations,
                    "distinct_requests": distinct_bodies,
                    "results": results,
                },
                indent=2,
            )
        )
    else:
        print(
            f"her2cds service load test on {HOST}:{port} (server pid {server_pid}, {os.cpu_count()} CPUs, engine "
            f"{os.environ.get('HER2CDS_ENGINE', 'default')}), open loop; load average before {load_before[0]:.2f}, "
            f"after {load[0]:.2f} (other work on the machine inflates the tail)"
        )
        print("\n".join(lines))
        print(f"  target p99 < {TARGET_P99_MS:g} ms with no errors in every phase: {'met' if met else 'NOT met'}")
    if args.check:
        return 0 if met else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
