"""A tiny run of benchmarks/load_test.py: gunicorn with threads, real pages and callbacks, basic auth on.

It proves the production path works end to end (gunicorn starts, /health answers without credentials,
every page's callbacks answer the simulated users, concurrent requests inside one worker share its DuckDB
engine safely) in well under a minute. The full-size numbers come from running the script itself.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_load_smoke(tmp_path):
    from generate_data import generate

    data = tmp_path / "data"
    generate(data, orders=3000, start="2023-01-01", end="2024-06-30", seed=3, progress=False)
    out = tmp_path / "load.json"
    command = [sys.executable, str(ROOT / "benchmarks" / "load_test.py"), "--users", "4", "--duration", "8",
               "--think", "0.2", "--workers", "1", "--threads", "4", "--data-dir", str(data),
               "--auth", "smoke:test-pass", "--out", str(out), "--server-log", str(tmp_path / "server.log"),
               "--quiet"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=400)
    assert out.is_file(), result.stderr[-3000:]
    report = json.loads(out.read_text())
    log = (tmp_path / "server.log").read_text()
    assert result.returncode == 0, (report["error_kinds"], log[-3000:])
    assert report["errors"] == 0 and report["setup_errors"] == 0
    assert report["server_tracebacks"] == 0, log[-3000:]
    assert report["server_alive_at_end"] and report["users_still_running"] == 0
    assert report["data"]["orders"] == 3000 and report["config"]["auth"]
    assert report["pages_without_data_callbacks"] == []
    kinds = report["latency_by_kind"]
    assert {"page_html", "layout", "deps", "filter_cb", "router_cb", "page_cb"} <= set(kinds)
    assert kinds["page_cb"]["count"] >= 10
    assert set(report["actions"]) >= {"open_page"}
