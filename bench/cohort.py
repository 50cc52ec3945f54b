"""Cohort-mode benchmark: generated specimen rows, Parquet in -> Parquet out, end to end.

    python bench/cohort.py                      # 1k, 10k, 100k, 1M rows, local engine; per-case baseline
    python bench/cohort.py --sizes 1000 10000000
    python bench/cohort.py --spark 100000       # also Spark local[1] vs local[2] on that many rows
    python bench/cohort.py --repeat 3           # each size three times (the machine may be shared: load shown)

Each size runs in its own process (so its peak memory is its own) on distinct generated rows
(her2cds.cohort.generate: every row has its own id and continuous values; no answer is reused across runs).
The per-case engine is timed in the same run on 2,000 distinct generated patients, before and after the sizes
(the figure used is their mean): the whole assessment per patient (``Engine.assess``, the reference of the
differential tests) and, as a stricter baseline, the call cohort mode itself makes per key (``Engine.evaluate``,
the slim answer read without building the assessment's objects). Each line shows the 1-minute load average when
its run started. CPU seconds are the run's process and its worker processes (``--processes``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml


def _prepare(n: int, folder: Path, profile: str) -> tuple[Path, Path]:
    from her2cds.cohort.columns import BY_NAME
    from her2cds.cohort.generate import generate, generate_registry
    from her2cds.engine import default_engine

    make = generate_registry if profile == "registry" else generate
    frame = make(default_engine().kb, n, seed=2026).drop("row", "source", "read_error")
    frame = frame.select([c for c in frame.columns if frame.get_column(c).null_count() < frame.height])
    data = folder / f"rows-{n}.parquet"
    frame.write_parquet(data)
    mapping = folder / "mapping.yaml"
    mapping.write_text(yaml.safe_dump({"columns": {c: c for c in frame.columns if c in BY_NAME}}), encoding="utf-8")
    return data, mapping


def one(n: int, engine_name: str, master: str, folder: Path, processes: int | None = None) -> dict[str, Any]:
    """Run one size in this process (its input prepared by another) and report figures."""
    from her2cds.cohort.mapping import load_mapping
    from her2cds.cohort.run import Options, run
    from her2cds.engine import Engine

    data, mapping = folder / f"rows-{n}.parquet", folder / "mapping.yaml"
    engine = Engine()
    start, cpu = time.perf_counter(), _cpu()
    stats = run(Options(inputs=[str(data)], fmt="table", out=folder / f"out-{n}-{engine_name}.parquet",
                        mapping=load_mapping(mapping), engine=engine_name, spark_master=master,
                        processes=processes), engine)
    seconds, cpu = time.perf_counter() - start, _cpu() - cpu
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    worker_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the largest worker (fork-shared
    # pages counted in both)
    return {"rows": n, "engine": engine_name if engine_name == "local" else master, "seconds": round(seconds, 3),
            "rows_per_s": round(n / seconds), "cpu_seconds": round(cpu, 3), "peak_rss_mb": round(peak_mb),
            "worker_peak_rss_mb": round(worker_mb),
            "decision_keys": stats.decision_keys,
            "specimen_keys": stats.specimen_keys, "vectorized_rows": stats.vectorized_rows,
            "engine_rows": stats.engine_rows}


def per_case(profile: str, n_patients: int = 2000) -> dict[str, Any]:
    """The per-case engine on distinct generated patients (one call per patient)."""
    from her2cds.cohort.cases import patient_key
    from her2cds.cohort.columns import ALL_COLUMNS
    from her2cds.cohort.generate import generate, generate_registry
    from her2cds.cohort.percase import answer_rows, assess_rows
    from her2cds.engine import Engine

    engine = Engine()
    make = generate_registry if profile == "registry" else generate
    frame = make(engine.kb, int(n_patients * 1.05), seed=2027)
    patients: dict[str, list[dict[str, Any]]] = {}
    for row in frame.select(ALL_COLUMNS).iter_rows(named=True):
        patients.setdefault(patient_key(row), []).append(row)
    groups = list(patients.values())[:n_patients]
    rows = sum(len(g) for g in groups)
    start, cpu = time.perf_counter(), time.process_time()
    for group in groups:
        assess_rows(engine, group)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    start, eval_cpu = time.perf_counter(), time.process_time()
    for group in groups:
        answer_rows(engine, group)
    eval_seconds, eval_cpu = time.perf_counter() - start, time.process_time() - eval_cpu
    return {"patients": len(groups), "rows": rows, "seconds": round(seconds, 3), "rows_per_s": round(rows / seconds),
            "rows_per_cpu_s": round(rows / cpu), "eval_rows_per_s": round(rows / eval_seconds),
            "eval_rows_per_cpu_s": round(rows / eval_cpu)}


def _cpu() -> float:
    """CPU seconds of this process, every thread (polars works on several), and of its ended child processes (the
    engine workers: run() waits for them)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _child(args: list[str]) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000, 1_000_000])
    parser.add_argument("--spark", type=int, default=0, metavar="ROWS", help="also Spark local[1] vs local[2]")
    parser.add_argument("--repeat", type=int, default=1, help="run every size this many times")
    parser.add_argument("--profile", choices=("registry", "mixed"), default="registry",
                        help="registry: rows shaped like a registry export; mixed: the differential test's mix")
    parser.add_argument("--processes", type=int, help="processes for the engine calls (default: the cores)")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--engine", default="local", help=argparse.SUPPRESS)
    parser.add_argument("--master", default="local[2]", help=argparse.SUPPRESS)
    parser.add_argument("--per-case", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--prepare", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.prepare:
        _prepare(args.prepare, Path(args.folder), args.profile)
        print(json.dumps({"prepared": args.prepare}))
        return 0
    if args.one:
        print(json.dumps(one(args.one, args.engine, args.master, Path(args.folder), args.processes)))
        return 0
    if args.per_case:
        print(json.dumps(per_case(args.profile)))
        return 0
    parser_repeat = max(1, args.repeat)
    before = _child(["--per-case", "--profile", args.profile])
    print(f"profile: {args.profile}; load average {_load()}")
    print(f"per-case engine: {before['rows']:,} rows ({before['patients']:,} patients) in {before['seconds']:.1f} s "
          f"= {before['rows_per_s']:,} rows/s ({before['rows_per_cpu_s']:,} rows per CPU second); evaluate only: "
          f"{before['eval_rows_per_s']:,} rows/s ({before['eval_rows_per_cpu_s']:,} per CPU second)")
    print(f"{'rows':>12} {'engine':>9} {'seconds':>8} {'rows/s':>10} {'x per-case':>10} {'CPU s':>7} "
          f"{'x (CPU)':>7} {'x eval':>6} {'peak MB':>7} {'worker MB':>9} {'spec keys':>9} {'keys':>6} "
          f"{'by engine':>9} {'load':>5}")
    runs = [(n, "local", "local[2]") for n in args.sizes]
    if args.spark:
        runs += [(args.spark, "spark", "local[1]"), (args.spark, "spark", "local[2]")]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sorted({n for n, _, _ in runs}):  # inputs written by another process: not in the peak memory
            _child(["--prepare", str(n), "--folder", tmp, "--profile", args.profile])
        for _ in range(parser_repeat):
            for n, engine_name, master in runs:
                load = _load()
                extra = ["--processes", str(args.processes)] if args.processes else []
                result = _child(["--one", str(n), "--engine", engine_name, "--master", master, "--folder", tmp,
                                 *extra])
                results.append((result, load))
                _report(result, before, load)
    after = _child(["--per-case", "--profile", args.profile])
    base = {k: (before[k] + after[k]) / 2
            for k in ("rows_per_s", "rows_per_cpu_s", "eval_rows_per_s", "eval_rows_per_cpu_s")}
    print(f"per-case engine again: {after['rows_per_s']:,} rows/s ({after['rows_per_cpu_s']:,} per CPU second; "
          f"evaluate only {after['eval_rows_per_s']:,}, {after['eval_rows_per_cpu_s']:,}); mean "
          f"{base['rows_per_s']:,.0f} rows/s ({base['rows_per_cpu_s']:,.0f}; evaluate only "
          f"{base['eval_rows_per_s']:,.0f}, {base['eval_rows_per_cpu_s']:,.0f}); load average {_load()}")
    print("against the mean per-case figures:")
    for result, load in results:
        _report(result, base, load)
    return 0


def _load() -> str:
    return f"{os.getloadavg()[0]:.1f}"


def _report(r: dict[str, Any], per_case: dict[str, Any], load: str) -> None:
    """One line; CPU seconds are the run's process and its ended children (for Spark not all of the JVM and its Python
    workers: no CPU ratio)."""
    local = r["engine"] == "local"
    cpu_ratio = f"{r['rows'] / r['cpu_seconds'] / per_case['rows_per_cpu_s']:>6.0f}x" if local else f"{'-':>7}"
    eval_ratio = f"{r['rows'] / r['cpu_seconds'] / per_case['eval_rows_per_cpu_s']:>5.0f}x" if local else f"{'-':>6}"
    print(f"{r['rows']:>12,} {r['engine']:>9} {r['seconds']:>8.2f} {r['rows_per_s']:>10,} "
          f"{r['rows_per_s'] / per_case['rows_per_s']:>9.0f}x {r['cpu_seconds']:>7.2f} {cpu_ratio} {eval_ratio} "
          f"{r['peak_rss_mb']:>7,} {r.get('worker_peak_rss_mb', 0):>9,} "
          f"{r['specimen_keys']:>9,} {r['decision_keys']:>6,} {r['engine_rows']:>9,} "
          f"{load:>5}", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
