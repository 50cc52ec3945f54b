"""Load shedding of the running service: 503s, not timeouts, at 4x overload; /healthz responsive; p99 at
200 req/s. Every request carries a distinct generated case (``bench/cases.py``): no answer is repeated.

Run (from the repository root, with the ``service`` extra installed):

    python bench/overload.py                 # saturation, 200 req/s for 8 s, 4x saturation for 8 s
    python bench/overload.py --json --overload 4 --duration 8
    python bench/overload.py --generator-nice 0   # the load generator at the server's own CPU priority

Phases, against ``her2cds serve`` defaults (one engine worker process per core, 16 admitted requests per worker;
``HER2CDS_ENGINE=thread`` in the environment to compare with worker threads) in a subprocess on 127.0.0.1:

1. *saturation*: closed loop, 32 concurrent connections, ``POST /v1/assess`` for 4 s: the rate the service
   completes when it never waits for a client;
2. *nominal*: open loop at ``--rate`` (200/s) for ``--duration`` s: latency p50/p99 from each request's due time;
3. *overload*: open loop at ``--overload`` x saturation for ``--duration`` s: answers by status (200 / 503 /
   other), timeouts (10 s). Meanwhile ``/healthz`` is probed ``--probe-rate`` (150) times a second, open loop,
   *from its own process* (a liveness checker's view: a new connection per probe; 1,200 probes with the
   defaults): probes, failures, and the latency from the probe's start (connect) to the last byte of the answer
   (p50, p90, p99, max, count >= 100 ms; the target is judged on it), and the same timed from the probe's due
   time (which adds the prober's own lateness in getting the CPU).

**CPU priority.** The server, its workers, the /healthz prober and the saturation and nominal phases run at the
priority the bench was started with; the overload phase's load generator (a child process) runs
``--generator-nice`` (10) lower, to stand in for clients on other machines: on this 2-core machine it would
otherwise take about a third of the CPU the service needs while it floods it. ``--generator-nice 0`` keeps it
equal. The setting is printed with the figures.

Next to each phase: CPU seconds of the server's event loop, of its engine workers and of the load generator,
and the load average (the machine may be shared). Prints the figures; asserts nothing (``--check`` exits 1
when: nominal p99 >= 20 ms or errors; any overload timeout; no 503 at overload; /healthz p99 >= 100 ms or a
failed probe).
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import json
import multiprocessing
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.load_service import (
    SATURATION_CAP_RPS,
    Cpu,
    Endpoint,
    Figures,
    endpoints,
    free_port,
    run_load,
    running_server,
    saturation,
)

NOMINAL_P99_MS = 20.0
HEALTH_P99_MS = 100.0

#: the prober (its own process): waits for a line on stdin, then probes GET /healthz open loop from several
#: threads (a late answer does not delay the next probe), a new connection each, and prints per probe the
#: latency from its start (connect) and from its due time (adds the prober's own lateness), and success
PROBER = r"""
import json, socket, sys, threading, time
port, rate, seconds, threads = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
count = int(rate * seconds)
sys.stdin.readline()
start = time.perf_counter() + 0.02
results = [None] * count
lock = threading.Lock()
next_index = [0]

def probe():
    while True:
        with lock:
            i = next_index[0]
            next_index[0] += 1
        if i >= count:
            return
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        ok, began = False, time.perf_counter()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.sendall(request)
                answer = b""
                while chunk := sock.recv(65536):
                    answer += chunk
            ok = answer.startswith(b"HTTP/1.1 200 ") and b'"status":"ok"' in answer
        except OSError:
            pass
        done = time.perf_counter()
        results[i] = (done - began, done - due, ok)

workers = [threading.Thread(target=probe) for _ in range(threads)]
for worker in workers:
    worker.start()
for worker in workers:
    worker.join()
print(json.dumps(results))
"""


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
    healthz_p90_ms: float
    healthz_p99_ms: float
    healthz_max_ms: float
    healthz_over_100ms: int
    # the same probes timed from their due time: adds the prober's own lateness (its CPU share on this machine)
    healthz_due_p99_ms: float
    healthz_due_max_ms: float
    healthz_due_over_100ms: int


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


class Prober:
    """The /healthz prober process, started (at the priority of the caller) before the generator lowers its
    own; it probes when :meth:`go` is called and its latencies are collected by :meth:`result`."""

    def __init__(self, port: int, rate: float, seconds: float, threads: int = 32) -> None:
        self.from_due: list[float] = []
        self.process = subprocess.Popen(
            [sys.executable, "-c", PROBER, str(port), str(rate), str(seconds), str(threads)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        self.seconds = seconds

    def go(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("go\n")
        self.process.stdin.flush()

    def result(self) -> tuple[list[float], int]:
        """(latencies of the probes answered 200 with the health body, failed probes)."""
        out, _ = self.process.communicate(timeout=self.seconds + 60)
        probes = json.loads(out)
        latencies = [latency for latency, _, ok in probes if ok]
        self.from_due = [latency for _, latency, ok in probes if ok]
        return latencies, len(probes) - len(latencies)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


async def overload(port: int, bodies: list[bytes], rate: float, seconds: float) -> Figures:
    endpoint = Endpoint("POST /v1/assess (overload)", "/v1/assess", bodies)
    return await run_load(port, endpoint, rate=rate, count=int(rate * seconds),
                          deadline=time.monotonic() + seconds + 30, max_connections=1024)


def _overload_generator(port: int, bodies: list[bytes], rate: float, seconds: float) -> tuple[Figures, float]:
    """The overload phase's load generator, in its own (lowered-priority) process: its figures and CPU seconds."""
    figures = asyncio.run(overload(port, bodies, rate, seconds))
    times = os.times()
    return figures, times.user + times.system


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rate", type=float, default=200.0, help="nominal requests per second (default 200)")
    parser.add_argument("--overload", type=float, default=4.0, help="overload factor x saturation (default 4)")
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per phase (default 8)")
    parser.add_argument("--probe-rate", type=float, default=150.0,
                        help="/healthz probes per second during the overload phase (default 150)")
    parser.add_argument("--generator-nice", type=int, default=10,
                        help="niceness the load generator adds to its own CPU priority (default 10; 0: none)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)

    port = free_port()
    nominal_count = int(args.rate * args.duration)
    stream = endpoints()[0]  # POST /v1/assess: distinct cases, each sent once in the whole run
    cpu: dict[str, Cpu] = {}
    loads: dict[str, tuple[float, ...]] = {"start": tuple(round(x, 2) for x in os.getloadavg())}
    with running_server(port) as server:
        prober = Prober(port, args.probe_rate, args.duration)
        try:
            warm = stream.take(200)
            asyncio.run(run_load(port, warm, rate=100, count=200, deadline=time.monotonic() + 30))
            offered = stream.take(int(SATURATION_CAP_RPS * 4.0))
            before = Cpu.sample(server.pid)
            saturated, sent = asyncio.run(saturation(port, offered, 4.0))
            cpu["saturation"] = Cpu.between(before, before := Cpu.sample(server.pid))
            stream.put_back(offered.bodies[sent:])
            nominal = asyncio.run(run_load(port, stream.take(nominal_count), rate=args.rate, count=nominal_count,
                                           deadline=time.monotonic() + args.duration + 30))
            cpu["nominal"] = Cpu.between(before, before := Cpu.sample(server.pid))
            over_rate = args.overload * saturated
            over_bodies = stream.take(int(over_rate * args.duration)).bodies
            before = Cpu.sample(server.pid)
            loads["overload start"] = tuple(round(x, 2) for x in os.getloadavg())
            context = multiprocessing.get_context("fork")
            with concurrent.futures.ProcessPoolExecutor(1, mp_context=context, initializer=os.nice,
                                                        initargs=(args.generator_nice,)) as pool:
                pool.submit(os.getpid).result()  # started (and niced) before the phase begins
                prober.go()
                figures, generator_cpu = pool.submit(_overload_generator, port, over_bodies, over_rate,
                                                     args.duration).result()
            health, health_failures = prober.result()
            from_due = prober.from_due
            cpu["overload"] = Cpu.between(before, Cpu.sample(server.pid))
            cpu["overload"].generator_s = round(cpu["overload"].generator_s + generator_cpu, 2)
            loads["overload end"] = tuple(round(x, 2) for x in os.getloadavg())
        finally:
            prober.stop()

    kinds = dict(figures.error_kinds)
    shed = kinds.pop("HTTP 503", 0)
    timeouts = kinds.pop("TimeoutError", 0) + kinds.pop("unfinished at the deadline", 0)
    result = Overload(
        rate_target=over_rate, sent=figures.requests, ok=figures.completed, shed_503=shed, timeouts=timeouts,
        other_errors=kinds, ok_p99_ms=figures.p99_ms, healthz_probes=len(health) + health_failures,
        healthz_failures=health_failures, healthz_p50_ms=_percentile(health, 0.5) * 1000,
        healthz_p90_ms=_percentile(health, 0.9) * 1000, healthz_p99_ms=_percentile(health, 0.99) * 1000,
        healthz_max_ms=max(health, default=float("nan")) * 1000,
        healthz_over_100ms=sum(latency >= HEALTH_P99_MS / 1000 for latency in health),
        healthz_due_p99_ms=_percentile(from_due, 0.99) * 1000,
        healthz_due_max_ms=max(from_due, default=float("nan")) * 1000,
        healthz_due_over_100ms=sum(latency >= HEALTH_P99_MS / 1000 for latency in from_due),
    )
    report = {"cpus": os.cpu_count(), "loadavg": loads, "engine": os.environ.get("HER2CDS_ENGINE", "default"),
              "generator_nice": args.generator_nice, "saturation_rps": saturated,
              "distinct_requests": stream.handed, "nominal": asdict(nominal),
              "overload": asdict(result), "cpu": {phase: asdict(figures) for phase, figures in cpu.items()}}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"cpus {os.cpu_count()}  engine {report['engine']}  overload generator at nice +{args.generator_nice} "
              f"(server, workers, /healthz prober and the other phases not lowered)  loadavg {loads}")
        print(f"saturation (closed loop, 32 connections): {saturated:.0f} req/s  [{cpu['saturation'].line()}]; "
              f"{stream.handed} POSTs in the run (warm-up included), each a distinct case")
        print(f"nominal {args.rate:.0f} req/s:  {nominal.line()}  [{cpu['nominal'].line()}]")
        print(f"overload {over_rate:.0f} req/s ({args.overload:g}x): sent {result.sent}, 200 {result.ok}, "
              f"503 {result.shed_503}, timeouts {result.timeouts}, other {result.other_errors}; "
              f"200s p99 {result.ok_p99_ms:.1f} ms  [{cpu['overload'].line()}]")
        print(f"/healthz under overload ({args.probe_rate:g}/s, own process, new connection each): "
              f"{result.healthz_probes} probes, {result.healthz_failures} failed, p50 {result.healthz_p50_ms:.1f} ms, "
              f"p90 {result.healthz_p90_ms:.1f} ms, p99 {result.healthz_p99_ms:.1f} ms, "
              f"max {result.healthz_max_ms:.1f} ms, {result.healthz_over_100ms} >= {HEALTH_P99_MS:g} ms; "
              f"from the due time: p99 {result.healthz_due_p99_ms:.1f} ms, max {result.healthz_due_max_ms:.1f} ms, "
              f"{result.healthz_due_over_100ms} >= {HEALTH_P99_MS:g} ms")
    if args.check:
        missed = (nominal.p99_ms >= NOMINAL_P99_MS or nominal.errors or result.timeouts or not result.shed_503
                  or result.healthz_failures or result.healthz_p99_ms >= HEALTH_P99_MS)
        return 1 if missed else 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
