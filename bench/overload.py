"""Load shedding of the running service: 503s, not timeouts, at 4x overload; /healthz responsive; p99 at
200 req/s. Every request carries a distinct generated case (``bench/cases.py``): no answer is repeated.

Run (from the repository root, with the ``service`` extra installed):

    python bench/overload.py                 # saturation, 200 req/s for 8 s, 4x saturation for 8 s
    python bench/overload.py --json --overload 4 --duration 8

Phases, against ``her2cds serve`` defaults (one engine worker process per core, 16 admitted requests per worker;
``HER2CDS_ENGINE=thread`` in the environment to compare with worker threads) in a subprocess on 127.0.0.1:

1. *saturation*: closed loop, 32 concurrent connections, ``POST /v1/assess`` for 4 s: the rate the service
   completes when it never waits for a client;
2. *nominal*: open loop at ``--rate`` (200/s) for ``--duration`` s: latency p50/p99 from each request's due time;
3. *overload*: open loop at ``--overload`` x saturation for ``--duration`` s, while ``/healthz`` is probed 20
   times a second: answers by status (200 / 503 / other), timeouts (10 s), /healthz p99.

Next to each phase: CPU seconds of the server's event loop, of its engine workers and of the load generator,
and the load average (the machine may be shared). Prints the figures; asserts nothing (``--check`` exits 1
when: nominal p99 >= 20 ms or errors; any overload timeout; no 503 at overload; /healthz p99 >= 100 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.cases import generate
from bench.load_service import Cpu, Endpoint, Figures, free_port, run_load, running_server, saturation

NOMINAL_P99_MS = 20.0
HEALTH_P99_MS = 100.0


@dataclass
class Overload:
    rate_target: float
    sent: int
    ok: int
    shed_503: int
    timeouts: int
    other_errors: dict[str, int]
    ok_p99_ms: float
    healthz_probes: int
    healthz_failures: int
    healthz_p50_ms: float
    healthz_p99_ms: float
    healthz_max_ms: float


def _bodies(n: int, seed: int) -> list[bytes]:
    return [json.dumps(case).encode() for case in generate(n, seed)]


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def probe_health(port: int, seconds: float) -> tuple[list[float], int]:
    """Probe ``/healthz`` 20 times a second for ``seconds`` *from another process* (blocking http.client), so
    that the load generator's own event loop does not delay the probe: (latencies, failures)."""
    code = (
        "import http.client, json, sys, time\n"
        f"port, seconds = {port}, {seconds}\n"
        "lat, fail, stop = [], 0, time.monotonic() + seconds\n"
        "while time.monotonic() < stop:\n"
        "    t = time.perf_counter()\n"
        "    try:\n"
        "        c = http.client.HTTPConnection('127.0.0.1', port, timeout=10); c.request('GET', '/healthz')\n"
        "        ok = c.getresponse().status == 200; c.close()\n"
        "    except OSError:\n"
        "        ok = False\n"
        "    lat.append(time.perf_counter() - t); fail += not ok\n"
        "    time.sleep(0.05)\n"
        "print(json.dumps([lat, fail]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=seconds + 60,
                          check=True)
    latencies, failures = json.loads(done.stdout)
    return latencies, failures


async def overload(port: int, bodies: list[bytes], rate: float, seconds: float) -> Figures:
    endpoint = Endpoint("POST /v1/assess (overload)", "/v1/assess", bodies)
    return await run_load(port, endpoint, rate=rate, count=int(rate * seconds),
                          deadline=time.monotonic() + seconds + 30, max_connections=1024)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rate", type=float, default=200.0, help="nominal requests per second (default 200)")
    parser.add_argument("--overload", type=float, default=4.0, help="overload factor x saturation (default 4)")
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per phase (default 8)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)

    port = free_port()
    nominal_count = int(args.rate * args.duration)
    bodies = _bodies(nominal_count + 20_000, seed=10)  # distinct cases for every phase
    cpu: dict[str, Cpu] = {}
    with running_server(port) as server:
        warm = Endpoint("warm-up", "/v1/assess", bodies[:200])
        asyncio.run(run_load(port, warm, rate=100, count=200, deadline=time.monotonic() + 30))
        before = Cpu.sample(server.pid)
        saturated, _ = asyncio.run(saturation(port, Endpoint("saturation", "/v1/assess", bodies[200:6200]), 4.0))
        cpu["saturation"] = Cpu.between(before, before := Cpu.sample(server.pid))
        nominal_endpoint = Endpoint("POST /v1/assess (nominal)", "/v1/assess", bodies[6200:6200 + nominal_count])
        nominal = asyncio.run(run_load(port, nominal_endpoint, rate=args.rate, count=nominal_count,
                                       deadline=time.monotonic() + args.duration + 30))
        cpu["nominal"] = Cpu.between(before, before := Cpu.sample(server.pid))
        over_rate = args.overload * saturated
        over_bodies = bodies[6200 + nominal_count:]
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            probe = pool.submit(probe_health, port, args.duration)
            figures = asyncio.run(overload(port, over_bodies, over_rate, args.duration))
            health, health_failures = probe.result()
        cpu["overload"] = Cpu.between(before, Cpu.sample(server.pid))

    kinds = dict(figures.error_kinds)
    shed = kinds.pop("HTTP 503", 0)
    timeouts = kinds.pop("TimeoutError", 0) + kinds.pop("unfinished at the deadline", 0)
    result = Overload(
        rate_target=over_rate, sent=figures.requests, ok=figures.completed, shed_503=shed, timeouts=timeouts,
        other_errors=kinds, ok_p99_ms=figures.p99_ms, healthz_probes=len(health), healthz_failures=health_failures,
        healthz_p50_ms=_percentile(health, 0.5) * 1000, healthz_p99_ms=_percentile(health, 0.99) * 1000,
        healthz_max_ms=max(health, default=float("nan")) * 1000,
    )
    report = {"cpus": os.cpu_count(), "loadavg": os.getloadavg(), "engine": os.environ.get("HER2CDS_ENGINE", "default"),
              "saturation_rps": saturated, "nominal": asdict(nominal), "overload": asdict(result),
              "cpu": {phase: asdict(figures) for phase, figures in cpu.items()}}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"cpus {os.cpu_count()}  loadavg {os.getloadavg()}  engine {report['engine']}")
        print(f"saturation (closed loop, 32 connections): {saturated:.0f} req/s  [{cpu['saturation'].line()}]")
        print(f"nominal {args.rate:.0f} req/s:  {nominal.line()}  [{cpu['nominal'].line()}]")
        print(f"overload {over_rate:.0f} req/s ({args.overload:g}x): sent {result.sent}, 200 {result.ok}, "
              f"503 {result.shed_503}, timeouts {result.timeouts}, other {result.other_errors}; "
              f"200s p99 {result.ok_p99_ms:.1f} ms  [{cpu['overload'].line()}]")
        print(f"/healthz under overload: {result.healthz_probes} probes, {result.healthz_failures} failed, "
              f"p50 {result.healthz_p50_ms:.1f} ms, p99 {result.healthz_p99_ms:.1f} ms, "
              f"max {result.healthz_max_ms:.1f} ms")
    if args.check:
        missed = (nominal.p99_ms >= NOMINAL_P99_MS or nominal.errors or result.timeouts or not result.shed_503
                  or result.healthz_failures or result.healthz_p99_ms >= HEALTH_P99_MS)
        return 1 if missed else 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
