"""``her2cds assess --batch`` on growing inputs: lines per CPU second, peak RSS and output lines for each size,
so that a memory leak or a growing memo shows as a growing peak; and the GC share of the batch loop in-process.

Run: python bench/batch_memory.py [--sizes 1000,10000,100000,1000000] [--gc-lines 20000]

Each size runs a fresh ``her2cds assess --batch -`` fed by a generator process through a pipe (bench/cases.py,
distinct cases, nothing written to disk); its peak RSS and CPU time come from ``os.wait4``. Prints figures;
asserts nothing except that every input line got an output line.
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.cases import generate
from bench.throughput import GcTimer

_GENERATOR = (
    "import json, sys\n"
    "sys.path.insert(0, {root!r})\n"
    "from bench.cases import generate\n"
    "out = sys.stdout\n"
    "for case in generate({n}, {seed}):\n"
    "    out.write(json.dumps(case) + '\\n')\n"
)


def run_size(n: int, seed: int) -> tuple[float, float, int, float]:
    """(lines per CPU second, peak RSS MiB, output lines, wall seconds) of one batch run over n lines."""
    root = str(Path(__file__).resolve().parents[1])
    gen = subprocess.Popen([sys.executable, "-c", _GENERATOR.format(root=root, n=n, seed=seed)],
                           stdout=subprocess.PIPE)
    t0 = time.perf_counter()
    batch = subprocess.Popen([sys.executable, "-m", "her2cds.adapters.cli", "assess", "--batch", "-"],
                             stdin=gen.stdout, stdout=subprocess.PIPE)
    assert gen.stdout is not None and batch.stdout is not None
    gen.stdout.close()
    lines = 0
    for chunk in iter(lambda: batch.stdout.read(1 << 20), b""):  # type: ignore[union-attr]
        lines += chunk.count(b"\n")
    _, _, usage = os.wait4(batch.pid, 0)
    batch.returncode = 0
    gen.wait()
    wall = time.perf_counter() - t0
    cpu = usage.ru_utime + usage.ru_stime
    return n / cpu, usage.ru_maxrss / 1024, lines, wall


def gc_share(n: int, seed: int) -> tuple[float, float, list[int]]:
    """(lines per CPU second, GC share of CPU time, collections per generation) of the batch loop in-process."""
    import json

    from her2cds.adapters import cli
    from her2cds.engine import default_engine

    engine = default_engine()
    data = "".join(json.dumps(case) + "\n" for case in generate(n, seed + 1)).encode()
    source = Path(os.environ.get("TMPDIR", "/tmp")) / f"her2cds-bench-{os.getpid()}.jsonl"
    source.write_bytes(data)
    try:
        out = io.StringIO()
        with GcTimer() as timer:
            t0 = time.process_time()
            cli._batch(engine, str(source), out)
            elapsed = time.process_time() - t0
    finally:
        source.unlink()
    assert out.getvalue().count("\n") == n
    return n / elapsed, timer.total / elapsed, timer.collections


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--gc-lines", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    # the subprocesses first: a child forked from a big parent would count the parent's pages in its peak RSS
    for n in (int(size) for size in args.sizes.split(",")):
        rate, rss, lines, wall = run_size(n, args.seed)
        print(f"--batch {n:>9,} lines: {rate:7,.0f} lines per CPU second, peak RSS {rss:6.1f} MiB, "
              f"{lines:,} output lines, {wall:,.0f} s wall", flush=True)
    rate, share, collections = gc_share(args.gc_lines, args.seed)
    print(f"batch loop in-process, {args.gc_lines:,} lines: {rate:,.0f} lines per CPU second, GC {share:.1%} of "
          f"the time (collections by generation {collections})")


if __name__ == "__main__":
    main()
