"""Size of ``her2cds assess --batch --summary`` output on distinct generated cases (issue 9: <= 300 bytes a case).

Usage: python bench/summary_size.py [--cases 100000]

Writes the cases as JSON Lines to a temporary folder, runs the CLI on them once (a subprocess, output to a file,
stderr not a terminal: no progress bar) and prints: lines in and out, the largest and mean line in bytes, how many
lines had to leave something out (``omitted``), the output size against the default output, and the CPU time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.cases import generate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cases = Path(tmp) / "cases.jsonl"
        with cases.open("w", encoding="utf-8") as fh:
            for case in generate(args.cases):
                fh.write(json.dumps(case) + "\n")
        out = Path(tmp) / "summary.jsonl"
        cli = [sys.executable, "-c", "import sys; from her2cds.adapters.cli import main; sys.exit(main())"]
        start = time.monotonic()
        with out.open("wb") as sink:
            proc = subprocess.Popen([*cli, "assess", "--batch", str(cases), "--summary"], stdout=sink,
                                    stderr=subprocess.PIPE)
            _, err = proc.communicate()
            usage = os.wait4(proc.pid, 0)[2] if proc.returncode is None else None
        wall = time.monotonic() - start
        lines = out.read_bytes().splitlines()
        sizes = [len(line) for line in lines]
        omitted = sum(b'"omitted"' in line for line in lines)
        print(f"cases in: {args.cases:,}; lines out: {len(lines):,} (exit {proc.returncode}; stderr {len(err)} bytes)")
        print(f"bytes per line: max {max(sizes)}, mean {sum(sizes) / len(sizes):.1f}; "
              f"lines with 'omitted': {omitted:,} ({100 * omitted / len(lines):.2f} %)")
        print(f"output: {out.stat().st_size / 1e6:.1f} MB for {len(lines):,} cases; wall {wall:.1f} s"
              + (f"; CPU {usage.ru_utime + usage.ru_stime:.1f} s" if usage else ""))


if __name__ == "__main__":
    main()
