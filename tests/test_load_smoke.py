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


def _imported(tmp_path: Path) -> tuple[Path, object]:
    """A small import of a minimal shop export: text customer ids, no country/Prime/category/engagement."""
    import pandas as pd

    from generate_data import generate
    from ingest import ImportOptions, import_data

    source = tmp_path / "source"
    generate(source, orders=3000, start="2023-01-01", end="2024-06-30", seed=4, progress=False)
    orders = pd.read_parquet(source / "fact_orders")
    export = pd.DataFrame({
        "Order": orders.order_id, "Customer": "C-" + orders.customer_id.astype(str).str.zfill(6),
        "Date": orders.order_ts.dt.strftime("%d/%m/%Y %H:%M"), "Total": orders.net_revenue.map("{:,.2f}".format),
        "Status": orders.is_returned.map({True: "Returned", False: "Completed"}),
    })
    export.to_csv(tmp_path / "shop.csv", index=False)
    report = import_data(tmp_path / "shop.csv", tmp_path / "data", options=ImportOptions(dayfirst=True,
                                                                                          progress=False))
    assert report.ok and report.orders_file.rows_rejected == 0
    return tmp_path / "data", report


@pytest.mark.slow
def test_load_smoke_on_imported_data(tmp_path):
    data, _ = _imported(tmp_path)
    out = tmp_path / "load.json"
    command = [sys.executable, str(ROOT / "benchmarks" / "load_test.py"), "--users", "3", "--duration", "6",
               "--think", "0.2", "--data-dir", str(data), "--out", str(out), "--server-log",
               str(tmp_path / "server.log"), "--quiet", "--pages", "/", "/engagement", "/risk", "/loyalty",
               "/segmentation", "/customer"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=400)
    assert out.is_file(), result.stderr[-3000:]
    report = json.loads(out.read_text())
    log = (tmp_path / "server.log").read_text()
    assert result.returncode == 0 and report["errors"] == 0, (report["error_kinds"], log[-3000:])
    assert report["server_tracebacks"] == 0, log[-3000:]
    assert report["pages_without_data_callbacks"] == []


@pytest.mark.slow
def test_customer_page_finds_a_customer_by_an_imported_text_id(tmp_path):
    """Hashed ids stay below 2**53, so they survive the browser's numbers and the customer page finds them."""
    import pandas as pd

    from ingest import surrogate_ids
    from tests.app_support import app_over

    data, _ = _imported(tmp_path)
    people = pd.read_parquet(data / "dim_customer")
    name = people.name.iloc[0]
    customer_id = int(surrogate_ids(pd.Series([name]))[0])
    assert customer_id == people.customer_id.iloc[0] and customer_id >= 10**15
    assert float(customer_id) == customer_id  # exact as a JavaScript number

    with app_over(data) as app:
        client = app.server.test_client()
        deps = client.get("/_dash-dependencies").get_json()
        callback = next(d for d in deps if "customer-title" in d["output"])
        parts = callback["output"][2:-2].split("...")
        body = {"output": callback["output"],
                "outputs": [{"id": json.loads(raw) if raw.startswith("{") else raw, "property": prop}
                            for raw, prop in (p.rsplit(".", 1) for p in parts)],
                "inputs": [{"id": i["id"], "property": i["property"],
                            "value": f"id={customer_id}" if i["id"] == "url-query" else None}
                           for i in callback["inputs"]],
                "state": [], "changedPropIds": ["url-query.data"]}
        response = client.post("/_dash-update-component", json=body)
        assert response.status_code == 200, response.get_data(as_text=True)[:500]
        assert name in response.get_data(as_text=True)
