"""The real server: ``run()`` under uvicorn in a subprocess on loopback (slow tests)."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from bench.load_service import free_port, running_server

from her2cds.adapters.api.examples import FHIR_BUNDLE
from tests.cdshooks import fhirdata

NAME = "Zebulon Quixotefield"
REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_served_requests_leave_no_patient_data_in_the_server_log(tmp_path: Path) -> None:
    port = free_port()
    log_path = tmp_path / "server.log"
    env = {**os.environ, "HER2CDS_LOG_LEVEL": "debug"}
    code = f"from her2cds.adapters.api import run; run('127.0.0.1', {port})"
    with log_path.open("wb") as log:
        process = subprocess.Popen([sys.executable, "-c", code], stdout=log, stderr=log, env=env, cwd=REPO)
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(300):
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            else:
                pytest.fail("the server did not start")
            bundle = copy.deepcopy(FHIR_BUNDLE)
            bundle["entry"][0]["resource"]["name"] = [{"text": NAME}]
            assert httpx.post(f"{base}/v1/fhir/assess", json=bundle).status_code == 200
            bad = {"id": NAME, "tumor": {"oncotree_code": NAME}}
            assert httpx.post(f"{base}/v1/assess", json=bad).status_code == 422
            prefetch = fhirdata.prefetch(conditions=[fhirdata.condition("C16.9", "Stomach")], her2=[fhirdata.ihc("3+")])
            prefetch["patient"]["name"] = [{"text": NAME}]
            hook = httpx.post(f"{base}/cds-services/her2-assessment", json=fhirdata.patient_view(prefetch))
            assert hook.status_code == 200 and hook.json()["cards"]
            assert httpx.get(f"{base}/nothing/{NAME.replace(' ', '-')}").status_code == 404
        finally:
            process.terminate()
            process.wait(timeout=15)
    text = log_path.read_text(encoding="utf-8", errors="replace")
    assert "Uvicorn running on http://127.0.0.1:" in text
    assert "her2cds.api.access: POST /v1/fhir/assess 200" in text
    assert "POST /cds-services/{service_id} 200" in text
    assert NAME not in text and "Quixotefield" not in text
    assert fhirdata.PATIENT_ID not in text


@pytest.mark.slow
def test_running_server_helper_binds_loopback_and_stops() -> None:
    port = free_port()
    with running_server(port) as process:
        response = httpx.get(f"http://127.0.0.1:{port}/v1/service-info")
        assert response.status_code == 200
        assert response.json()["standards"]["cds_hooks"] == "2.0"
        pid = process.pid
    assert process.poll() is not None, f"server {pid} still running"


@pytest.mark.slow
def test_load_benchmark_runs_bounded_and_prints_figures() -> None:
    result = subprocess.run(
        [sys.executable, "bench/load_service.py", "--rate", "50", "--duration", "1", "--warm-up", "5",
         "--saturation-seconds", "0.5", "--fraction", "0.05", "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )
    figures = json.loads(result.stdout)
    assert figures["host"] == "127.0.0.1"
    names = [(r["endpoint"], r["phase"]) for r in figures["results"]]
    assert names == [(endpoint, phase) for endpoint in ("POST /v1/assess", "POST /cds-services/her2-assessment")
                     for phase in ("fixed", "5% of saturation")]
    assert sorted(figures["saturation_rps"]) == ["POST /cds-services/her2-assessment", "POST /v1/assess"]
    for row in figures["results"]:
        expected = 50 if row["phase"] == "fixed" else int(row["rate_target"])
        assert row["requests"] == expected and row["completed"] == expected and row["errors"] == 0
        assert 0 < row["p50_ms"] <= row["p99_ms"] <= row["max_ms"]
        assert row["cpu"]["workers_s"] > 0  # the engine ran in the worker processes
