"""Start-up time of ``her2cds assess --example``: a fresh process per run, CPU time (user + system of the child,
so that other load on the machine distorts it little) and wall time; the median of N runs.

Run: python bench/startup.py [--runs N] [--src DIR ...]

Bytecode: the runs use a temporary ``PYTHONPYCACHEPREFIX`` (written by a warm-up run), as an installed package
has its ``.pyc`` files; with ``PYTHONDONTWRITEBYTECODE`` every run would compile the sources again.

Three modes: precompiled knowledge base present (the normal case after the first run), cache switched off
(YAML parsed and validated every time), and a cold cache (the first run, which also writes the entries).
``--src DIR`` measures another checkout's ``src`` folder with this interpreter (e.g. the commit before a change,
for a before/after figure in the same run; several ``--src`` are measured in turn). Two floors put the figures in
context: the interpreter alone, and the interpreter importing pydantic and building one model (what any
pydantic-based command pays before its own code runs). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

ASSESS = ["-m", "her2cds.adapters.cli", "assess", "--example"]
PYDANTIC_FLOOR = ["-c", "from pydantic import BaseModel\nclass M(BaseModel):\n    x: int\nM(x=1).model_dump_json()"]


def one_run(env: dict[str, str], argv: list[str] = ASSESS) -> tuple[float, float]:
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, *argv], env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed with exit code {proc.returncode}")
    return usage.ru_utime + usage.ru_stime, time.perf_counter() - t0


def measure(runs: int, env: dict[str, str], fresh_cache: bool, argv: list[str] = ASSESS) -> tuple[float, float]:
    cpu, wall = [], []
    for _ in range(runs):
        if fresh_cache:
            with tempfile.TemporaryDirectory() as tmp:
                c, w = one_run({**env, "HER2CDS_CACHE_DIR": tmp}, argv)
        else:
            c, w = one_run(env, argv)
        cpu.append(c)
        wall.append(w)
    return statistics.median(cpu) * 1000, statistics.median(wall) * 1000


def report(runs: int, env: dict[str, str], label: str) -> None:
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as pycache:
        env = {**env, "PYTHONPYCACHEPREFIX": pycache}
        warm_env = {**env, "HER2CDS_CACHE_DIR": cache}
        one_run(warm_env)  # writes the precompiled entries and the bytecode
        one_run(warm_env, PYDANTIC_FLOOR)
        rows = [
            ("precompiled knowledge base", measure(runs, warm_env, False)),
            ("cache off (YAML every run)", measure(runs, {**env, "HER2CDS_CACHE_DIR": "off"}, False)),
            ("cold cache (first run)", measure(max(3, runs // 3), env, True)),
            ("floor: python + pydantic", measure(runs, warm_env, False, PYDANTIC_FLOOR)),
            ("floor: python alone", measure(runs, warm_env, False, ["-c", "pass"])),
        ]
    print(f"her2cds assess --example, median of {runs} runs of {label}:")
    for name, (cpu, wall) in rows:
        print(f"  {name:28s} {cpu:6.0f} ms CPU   {wall:6.0f} ms wall")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--src", action="append", default=[],
                        help="measure this src folder too (repeatable), after the installed her2cds")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    report(args.runs, env, "the installed her2cds")
    for src in args.src:
        report(args.runs, {**env, "PYTHONPATH": os.path.abspath(src)}, src)


if __name__ == "__main__":
    main()
