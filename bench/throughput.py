"""Assessment throughput on distinct generated cases (bench/cases.py): in-process and through ``--batch``.

Run: python bench/throughput.py [--cases N] [--seed S] [--no-batch]

Prints, all measured in the same run so that ratios compare across machines:
- a JSON round trip of each input (json.dumps + json.loads): the yardstick;
- in-process ``Engine.evaluate`` (the engine's plain data, no output built), ``Engine.assess_json`` (the default
  document, written directly from that data: what ``--batch`` and the default CLI output run) and
  ``Engine.assess`` (the pydantic ``Assessment`` objects, every therapy option in its full form), cases/s and the
  ratio to the JSON round trip; the share of time spent in garbage collection;
- the same with the therapy memos disabled (no cached result of any kind can explain that figure);
- the default output size per case (mean, median, p90, max) and the expanded size;
- the CPU time per case of each stage of the default document (validation, specimen stage, therapy and the rest,
  document);
- ``her2cds assess --batch`` end to end in a subprocess: lines/s (CPU and wall clock), then ``--batch --jobs N``
  (worker processes, D14.12): lines per wall-clock second, which only shows the gain on otherwise idle cores.
It asserts nothing. Times are CPU time of this process (time.process_time; for --batch the child's user +
system time), so figures are per core and other load on the machine does not distort them much; each
in-process figure is the best of three passes over fresh cases.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.cases import distinct, generate


class GcTimer:
    """Wall time spent inside the cyclic garbage collector (gc.callbacks)."""

    def __init__(self) -> None:
        self.total = 0.0
        self.collections = [0, 0, 0]
        self._start = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._start = time.process_time()
        else:
            self.total += time.process_time() - self._start
            self.collections[info["generation"]] += 1

    def __enter__(self) -> GcTimer:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self)


def best_rate(chunks: list[list[dict[str, Any]]], fn: Callable[[dict[str, Any]], object]) -> tuple[float, float]:
    """(best cases/s over the chunks, GC share of the total time): each chunk is a fresh set of cases."""
    rates = []
    elapsed = 0.0
    with GcTimer() as timer:
        for chunk in chunks:
            t0 = time.process_time()
            for case in chunk:
                fn(case)
            dt = time.process_time() - t0
            elapsed += dt
            rates.append(len(chunk) / dt)
    return max(rates), timer.total / elapsed


def stage_times(engine: Any, cases: list[dict[str, Any]]) -> dict[str, float]:
    """CPU microseconds per case of each stage of ``Engine.assess_json`` (best of three passes over the same cases,
    each stage run on the previous stage's results): input validation, the specimen stage (specimens, patient-level
    HER2, heterogeneity), the rest of the evaluation (testing advice, therapy matching, warnings), the document."""
    best: dict[str, float] = {}
    gc.disable()  # each stage's results are held for the next: collections would walk them (not the case per line)
    try:
        _stage_passes(engine, cases, best)
    finally:
        gc.enable()
    return {name: spent / len(cases) * 1e6 for name, spent in best.items()}


def _stage_passes(engine: Any, cases: list[dict[str, Any]], best: dict[str, float]) -> None:
    from her2cds.engine import parse_case

    for _ in range(3):
        t0 = time.process_time()
        parsed = [parse_case(case) for case in cases]
        t1 = time.process_time()
        staged = [engine.specimen_stage(case) for case in parsed]
        t2 = time.process_time()
        evaluations = [engine.finish(stage) for stage in staged]
        t3 = time.process_time()
        for evaluation in evaluations:
            engine.document(evaluation)
        t4 = time.process_time()
        for name, spent in (("validation", t1 - t0), ("specimen stage", t2 - t1), ("therapy and the rest", t3 - t2),
                            ("document", t4 - t3)):
            best[name] = min(best.get(name, spent), spent)


def json_round_trip(case: dict[str, Any]) -> object:
    return json.loads(json.dumps(case))


def batch_run(cases: list[dict[str, Any]], extra: list[str]) -> tuple[float, float, int, float]:
    """(lines per CPU second, peak RSS MiB, output lines, lines per wall-clock second) of ``her2cds assess
    --batch`` in a fresh process (CPU time includes its worker processes)."""
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as fh:
        for case in cases:
            fh.write(json.dumps(case) + "\n")
        path = fh.name
    try:
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "her2cds.adapters.cli", "assess", "--batch", *extra, path],
                                stdout=subprocess.PIPE)
        assert proc.stdout is not None
        lines = sum(1 for _ in proc.stdout)
        _, _, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = 0
        elapsed = usage.ru_utime + usage.ru_stime
    finally:
        os.unlink(path)
    return len(cases) / elapsed, usage.ru_maxrss / 1024, lines, len(cases) / wall


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=6000, help="cases per pass (three passes)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-batch", action="store_true")
    parser.add_argument("--jobs", type=int, default=2, help="also run --batch --jobs N (0: skip)")
    args = parser.parse_args()
    n = args.cases
    cases = list(generate(5 * n, args.seed))
    assert distinct(cases), "generated cases must be distinct"
    chunks = [cases[i * n:(i + 1) * n] for i in range(3)]
    fresh = cases[3 * n:4 * n]
    more = cases[4 * n:]

    from her2cds.engine import default_engine

    engine = default_engine()
    engine.assess(cases[0])  # warm-up: imports, compiled knowledge
    tk = engine.therapy

    rt, rt_gc = best_rate(chunks, json_round_trip)
    js, js_gc = best_rate(chunks, engine.assess_json)
    ev, ev_gc = best_rate([fresh[: n // 3], fresh[n // 3: 2 * n // 3], fresh[2 * n // 3:]], engine.evaluate)
    ap, ap_gc = best_rate([more[: n // 3], more[n // 3: 2 * n // 3], more[2 * n // 3:]], engine.assess)
    limit = tk.memo_limit if tk is not None else 0
    if tk is not None:
        tk.memo_limit = 0
        tk.plans.clear()
        tk.criterion_memo.clear()
    nm, nm_gc = best_rate([chunk[: n // 3] for chunk in chunks], engine.assess_json)
    if tk is not None:
        tk.memo_limit = limit

    stages = stage_times(engine, more[: n // 2])
    sizes = sorted(len(engine.assess_json(case).encode()) for case in fresh[:2000])
    expanded = statistics.mean(len(engine.assess_json(case, expand=True).encode()) for case in fresh[:2000])

    print(f"cases: {n:,} per pass x 3 passes, all distinct; 16 tumor types (bench/cases.py); load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"JSON round trip of the input:        {rt:10,.0f} cases/s   (yardstick; GC {rt_gc:.1%})")
    print(f"evaluate (plain data, no output):    {ev:10,.0f} cases/s   {rt / ev:5.1f}x round trip   GC {ev_gc:.1%}")
    print(f"assess_json (default document):      {js:10,.0f} cases/s   {rt / js:5.1f}x round trip   GC {js_gc:.1%}")
    print(f"assess (Assessment objects):         {ap:10,.0f} cases/s   {rt / ap:5.1f}x round trip   GC {ap_gc:.1%}")
    print(f"  same, therapy memos disabled:      {nm:10,.0f} cases/s   {rt / nm:5.1f}x round trip   GC {nm_gc:.1%}")
    print(f"default output per case: mean {statistics.mean(sizes):,.0f} B, median {sizes[len(sizes) // 2]:,} B, "
          f"p90 {sizes[int(len(sizes) * 0.9)]:,} B, max {sizes[-1]:,} B; expanded mean {expanded:,.0f} B")
    print("where a default document's time goes (us per case, CPU, best of 3 passes): "
          + ", ".join(f"{name} {us:.0f}" for name, us in stages.items()))
    if not args.no_batch:
        rate, _, lines, wall = batch_run(fresh, [])  # peak RSS: bench/batch_memory.py (a child forked from this
        # large process would count the parent's pages)
        print(f"her2cds assess --batch (1 process):  {rate:10,.0f} lines/s   "
              f"({lines:,} output lines for {len(fresh):,} input lines; CPU time incl. start-up; "
              f"wall clock {wall:,.0f} lines/s)")
        if args.jobs:
            rate, _, lines, wall = batch_run(fresh, ["--jobs", str(args.jobs)])
            print(f"her2cds assess --batch --jobs {args.jobs}:     {wall:10,.0f} lines/s   wall clock "
                  f"({lines:,} output lines; CPU time of all processes {rate:,.0f} lines/s; load average "
                  f"{os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
