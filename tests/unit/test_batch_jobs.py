"""``her2cds assess --batch --jobs N`` (D14.12): the same bytes as the sequential batch, in input order, one whole
line per input line whatever the line holds; a dead worker loses no line; workers do not outlive a killed parent."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from bench.cases import generate

from her2cds.adapters import batch_jobs
from her2cds.adapters.cli import _batch
from her2cds.engine import default_engine

CLI = [sys.executable, "-c", "import sys; from her2cds.adapters.cli import main; sys.exit(main())"]
HOSTILE = [b"\xff\xfe not utf-8", b"", b"   ", b"[1, 2]", b'{"tumor": {"oncotree_code": "STAD", "oncotree_code": "X"}}',
           b"{not json", b'{"id": "no-tumor"}', b"[" * 5000 + b"]" * 5000]


def _lines(count: int, seed: int) -> list[bytes]:
    good = [json.dumps(case).encode() for case in generate(count, seed)]
    mixed = []
    for i, line in enumerate(good):
        mixed.append(line)
        if i % 9 == 4:
            mixed.append(HOSTILE[(i // 9) % len(HOSTILE)])
    return mixed


def _cli(args: list[str], data: bytes) -> tuple[int, bytes]:
    done = subprocess.run([*CLI, "assess", "--batch", *args, "-"], input=data, capture_output=True, timeout=300,
                          check=False)
    return done.returncode, done.stdout


@pytest.mark.parametrize("extra", [[], ["--summary", "--region", "eu", "--criteria", "asco-cap-2007"]])
def test_jobs_write_the_same_bytes_as_the_sequential_batch(extra: list[str]) -> None:
    lines = _lines(150, 31)
    data = b"\n".join(lines) + b"\r\n"
    code1, out1 = _cli(["--jobs", "1", *extra], data)
    code3, out3 = _cli(["--jobs", "3", *extra], data)
    assert code1 == code3 == 1  # some lines are errors
    assert out3 == out1
    records = [json.loads(line) for line in out3.splitlines()]
    assert len(records) == len(lines)
    assert sum("error" in r for r in records) >= len(HOSTILE)


def test_jobs_option_is_checked() -> None:
    code, out = _cli(["--jobs", "-1"], b"")
    assert code == 2 and out == b""
    done = subprocess.run([*CLI, "assess", "--example", "--jobs", "2"], capture_output=True, timeout=60, check=False)
    assert done.returncode == 2 and b"--jobs applies to --batch" in done.stderr
    assert batch_jobs.jobs_wanted(0) >= 1 and batch_jobs.jobs_wanted(3) == 3


def _dying_answer(criteria: str | None, region: str | None, shape: object,
                  chunk: list[batch_jobs.Numbered]) -> list[tuple[str, bool]]:
    """A worker that dies on the chunk holding line 40 (forked workers see the patched module)."""
    if any(number == 40 for number, _ in chunk):
        os._exit(9)
    return _REAL_ANSWER(criteria, region, shape, chunk)


_REAL_ANSWER = batch_jobs._answer


def test_a_dead_worker_loses_no_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = _lines(120, 5)
    path = tmp_path / "cases.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    engine = default_engine()
    expected = io.StringIO()
    _batch(engine, str(path), expected)
    monkeypatch.setattr(batch_jobs, "_answer", _dying_answer)
    out = io.StringIO()
    _batch(engine, str(path), out, jobs=2)
    assert out.getvalue() == expected.getvalue()
    assert len(out.getvalue().splitlines()) == len(lines)


def _children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(p) for p in text.split()]


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc to find the workers")
def test_workers_exit_when_the_parent_is_killed_and_lines_stay_in_order(tmp_path: Path) -> None:
    lines = _lines(300, 8) * 20
    path = tmp_path / "many.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    result = tmp_path / "out.jsonl"
    with result.open("wb") as sink, subprocess.Popen([*CLI, "assess", "--batch", "--jobs", "2", str(path)],
                                                     stdout=sink) as proc:
        deadline = time.monotonic() + 120
        while result.read_bytes().count(b"\n") < 50 and time.monotonic() < deadline:
            time.sleep(0.05)
        workers = _children(proc.pid)
        try:
            assert len(workers) >= 2
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            deadline = time.monotonic() + 10
            while any(_alive(w) for w in workers) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert not any(_alive(w) for w in workers)
        finally:
            for worker in workers:
                if _alive(worker):
                    os.kill(worker, signal.SIGKILL)
    written = result.read_bytes().split(b"\n")[:-1]  # whole lines (a kill can cut only the write under way)
    assert len(written) >= 50
    for number, (line, source) in enumerate(zip(written, lines, strict=False), start=1):
        record = json.loads(line)  # only the parent writes: no line is interleaved with another
        if "error" in record:
            assert record["line"] == number
        else:  # in input order
            assert record["id"] == json.loads(source)["id"]
