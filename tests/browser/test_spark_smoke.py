"""Smoke test of the app running on Spark (``CUSTINTEL_BACKEND=spark``, local[2]) in a real Chromium.

The app is started once for this module over the session's generated data; the KPI cards of the
Executive page must show what the metrics compute on DuckDB in this process (the backends agree), and
the Risk page (model fits, score join in the engine) renders without errors. Skipped without pyspark.
"""

from __future__ import annotations

import json
import math
import urllib.request
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from metrics.engine import Engine
from metrics.filters import Filters
from metrics.measures.kpis import kpis
from tests.browser.conftest import running_app
from tests.browser.dashboard import assert_no_errors, kpi_values, settle
from tests.spark_support import spark_missing_reason

pytestmark = pytest.mark.spark

#: A cold Spark app: JVM start, contract validation and the first queries take tens of seconds.
START_TIMEOUT_S = 240
RENDER_TIMEOUT_S = 180
FILTERS = Filters(date(2024, 1, 1), date(2024, 12, 31))


@pytest.fixture(scope="module")
def spark_app_url(generated_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``python app.py`` with the Spark backend on a free 127.0.0.1 port."""
    reason = spark_missing_reason()
    if reason:
        pytest.skip(reason)
    env = {"CUSTINTEL_BACKEND": "spark", "CUSTINTEL_SPARK_MASTER": "local[2]", "SPARK_DRIVER_MEMORY": "2g"}
    with running_app(generated_dir, tmp_path_factory.mktemp("spark-server") / "app.log", env=env,
                     name="the app on Spark", start_timeout_s=START_TIMEOUT_S, poll_s=0.5, health_timeout_s=5,
                     stop_timeout_s=20) as url:
        yield url


def test_health_reports_spark(spark_app_url: str) -> None:
    with urllib.request.urlopen(f"{spark_app_url}/health", timeout=10) as response:
        health = json.loads(response.read())
    assert health["status"] == "ok" and health["backend"] == "spark"


def test_executive_and_risk_pages_on_spark(page, spark_app_url: str, generated_engine: Engine) -> None:
    page.set_default_timeout(RENDER_TIMEOUT_S * 1000)
    page.goto(f"{spark_app_url}/?{FILTERS.to_query()}")
    settle(page, timeout=RENDER_TIMEOUT_S)
    expected = kpis(generated_engine, FILTERS)  # DuckDB, in this process
    shown = kpi_values(page)
    assert set(expected) <= set(shown), f"missing KPI cards: {set(expected) - set(shown)}"
    for key, value in expected.items():
        assert math.isclose(shown[key][0], value, rel_tol=1e-9, abs_tol=1e-9), \
            f"{key}: Spark app shows {shown[key][0]}, DuckDB metric {value}"
    assert_no_errors(page)

    page.goto(f"{spark_app_url}/risk?{FILTERS.to_query()}")
    settle(page, timeout=RENDER_TIMEOUT_S)
    page.locator(".page-title").first.wait_for(state="visible")
    assert_no_errors(page)
