"""A ``kill -9`` during saves loses no committed revision and leaves no half-written one (both databases)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import text

from her2cds.store import open_store

WRITER = r"""
import sys
from her2cds.store import open_store
store = open_store(sys.argv[1])
case_id = sys.argv[2]
result = {"her2": {"status": "positive"}, "versions": {"engine": "e", "knowledge_base": "k", "as_of": "d"},
          "padding": "x" * 20000}
n = 1
while True:
    n += 1
    doc = {"tumor": {"oncotree_code": "STAD"}, "revision_marker": n, "padding": "y" * 20000}
    _, number = store.save(doc, result, actor="writer", case_id=case_id)
    print(f"committed {number}", flush=True)
"""


@pytest.mark.slow
def test_kill_9_during_saves_loses_no_committed_revision(db_url: str) -> None:
    store = open_store(db_url)
    result = {"her2": {"status": "negative"}, "versions": {"engine": "e", "knowledge_base": "k", "as_of": "d"}}
    case_id, _ = store.save({"tumor": {"oncotree_code": "STAD"}, "revision_marker": 1}, result, actor="t")
    proc = subprocess.Popen([sys.executable, "-c", WRITER, db_url, case_id], stdout=subprocess.PIPE, text=True)
    committed: list[int] = []
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    while len(committed) < 25 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        committed.append(int(line.split()[1]))
    time.sleep(0.013)  # land inside a later save
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    assert len(committed) == 25, "the writer did not get going"

    store.engine.dispose()
    reopened = open_store(db_url)
    case = reopened.get(case_id)
    numbers = [r.number for r in case.revisions]
    assert numbers == list(range(1, len(numbers) + 1))  # no gap, no half revision
    assert set(committed) <= set(numbers)
    assert case.summary.latest_revision == numbers[-1]
    for revision in case.revisions:
        assert revision.document["revision_marker"] == revision.number
        assert len(revision.assessments) == 1  # each revision committed together with its assessment
    assert len(reopened.audit_events(case_id=case_id)) == len(numbers)
    if db_url.startswith("sqlite"):
        with reopened.engine.connect() as connection:
            assert connection.execute(text("PRAGMA integrity_check")).scalar() == "ok"
    # the store keeps working after the crash
    _, after = reopened.save({"tumor": {"oncotree_code": "STAD"}, "revision_marker": numbers[-1] + 1}, result,
                             actor="t", case_id=case_id)
    assert after == numbers[-1] + 1
    reopened.engine.dispose()
