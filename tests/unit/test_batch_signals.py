"""``assess --batch`` stopped by SIGTERM or SIGINT (issue 10 item 9): the line being written is finished first, so
a reader of the pipe gets only whole lines; the exit status is 128 + the signal; a batch waiting for input stops at
once. The lines here are expanded documents (tens of KB), far beyond the pipe's atomic size, and the reader lets the
pipe fill, so the signal arrives while the writer is blocked in the middle of a line."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from bench.cases import generate

from her2cds.adapters.line_out import BatchInterrupted, LineOut

CLI = [sys.executable, "-c", "import sys; from her2cds.adapters.cli import main; sys.exit(main())"]


def _read_all(proc: subprocess.Popen[bytes]) -> bytes:
    assert proc.stdout is not None
    return proc.stdout.read()


@pytest.mark.parametrize(("signum", "jobs"), [(signal.SIGTERM, "1"), (signal.SIGINT, "1"), (signal.SIGTERM, "2")])
def test_a_stop_signal_during_a_long_write_finishes_the_line(tmp_path: Path, signum: int, jobs: str) -> None:
    cases = [json.dumps(case) for case in generate(400, 21)]
    path = tmp_path / "cases.jsonl"
    path.write_text("\n".join(cases) + "\n", encoding="utf-8")
    with subprocess.Popen([*CLI, "assess", "--batch", "--expand", "--jobs", jobs, str(path)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        time.sleep(3.0)  # nobody reads: the pipe (64 KB) fills within the first few lines; the writer blocks
        assert proc.poll() is None
        proc.send_signal(signum)
        time.sleep(0.3)
        out = _read_all(proc)  # the reader drains the pipe now: the held line can end
        assert proc.stderr is not None
        err = proc.stderr.read()
        code = proc.wait(timeout=60)
    assert code == 128 + signum, err
    assert b"Traceback" not in err
    assert out.endswith(b"\n"), out[-200:]
    lines = out.split(b"\n")[:-1]
    assert 1 <= len(lines) < len(cases)  # stopped early, not at the end
    assert max(len(line) for line in lines) > 4096  # lines longer than the pipe's atomic size
    for line, source in zip(lines, cases, strict=False):
        assert json.loads(line)["id"] == json.loads(source)["id"]  # whole, in input order


def test_a_batch_waiting_for_input_stops_at_once() -> None:
    with subprocess.Popen([*CLI, "assess", "--batch", "-"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE) as proc:
        assert proc.stdin is not None
        proc.stdin.write(json.dumps(next(iter(generate(1, 3)))).encode() + b"\n")
        proc.stdin.flush()
        assert proc.stdout is not None
        first = proc.stdout.readline()  # answered; now it waits for the next line, which never comes
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
        assert proc.stderr is not None
        err = proc.stderr.read()
    assert code == 128 + signal.SIGTERM
    assert json.loads(first)["id"]
    assert b"Traceback" not in err


def test_a_signal_held_during_a_write_stops_after_the_line() -> None:
    out = io.StringIO()

    class Writing(io.StringIO):  # the signal arrives in the middle of the write
        def write(self, text: str) -> int:
            answers.on_signal(signal.SIGTERM, None)
            return out.write(text)

    answers = LineOut(Writing())
    with pytest.raises(BatchInterrupted) as stopped:
        answers.write('{"id": "a"}', True)
    assert stopped.value.signum == signal.SIGTERM
    assert out.getvalue() == '{"id": "a"}\n'
    with pytest.raises(BatchInterrupted):  # between lines: at once
        LineOut(io.StringIO()).on_signal(signal.SIGINT, None)
