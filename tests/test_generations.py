"""Data generations: a swap of the data folder while the server runs is served whole and at once; results
under way finish on their own generation; data that cannot be read is reported, never mixed in."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from ingest.job import replace_folder
from metrics import engine as engine_module
from metrics.engine import (
    DataFileError,
    Engine,
    data_problem,
    get_engine,
    pinned_engine,
    reset_engine,
)
from metrics.filters import Filters
from metrics.measures import kpis
from metrics.settings import Settings
from tests.app_support import app_over

#: a trailing year of each data set, asked before a swap (cached) and one first asked after it
CACHED = Filters(date(2024, 1, 1), date(2024, 12, 31))
FRESH = Filters(date(2023, 7, 1), date(2024, 6, 30), prime="Prime")


@pytest.fixture(scope="module")
def two_generations(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two different small data sets (the data before and after an import)."""
    from generate_data import generate

    root = tmp_path_factory.mktemp("generations")
    generate(root / "old", orders=2_000, seed=3, progress=False)
    generate(root / "new", orders=3_000, seed=4, progress=False)
    return root / "old", root / "new"


@pytest.fixture()
def live(two_generations, tmp_path, monkeypatch) -> Path:
    """A data folder holding the old generation, served through ``get_engine`` with checks on every call."""
    folder = tmp_path / "data"
    shutil.copytree(two_generations[0], folder)
    monkeypatch.setenv("CUSTINTEL_DATA_DIR", str(folder))
    monkeypatch.setenv("CUSTINTEL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(engine_module, "CHECK_EVERY_S", 0.0)
    reset_engine()
    yield folder
    reset_engine()


def swap_in(source: Path, live: Path, scratch: Path) -> None:
    """What an import does: build a complete sibling folder, then exchange it with the live one."""
    staged = scratch / "staged"
    shutil.copytree(source, staged)
    replace_folder(staged, live)


def fresh_kpis(folder: Path, filters: Filters) -> pd.DataFrame:
    """The numbers a freshly started server gives: a new engine, no cache of any kind."""
    return kpis.kpi_summary(Engine(Settings(data_dir=str(folder), cache_dir="off")), filters)


def test_after_a_swap_every_result_is_the_new_generations(live, two_generations, tmp_path):
    old = get_engine()
    before = kpis.kpi_summary(old, CACHED)  # cached in memory and on disk before the swap
    pd.testing.assert_frame_equal(before, fresh_kpis(two_generations[0], CACHED))

    swap_in(two_generations[1], live, tmp_path)
    new = get_engine()
    assert new is not old and new.generation != old.generation
    assert new.cache.store is not None and new.cache.store.folder != old.cache.store.folder
    for filters in (CACHED, FRESH):  # a state cached before the swap and one first asked after it
        pd.testing.assert_frame_equal(kpis.kpi_summary(get_engine(), filters), fresh_kpis(live, filters))
    assert not kpis.kpi_summary(get_engine(), CACHED).equals(before)


def test_a_request_under_way_finishes_on_its_generation(live, two_generations, tmp_path):
    expected_old = fresh_kpis(two_generations[0], FRESH)
    with pinned_engine() as pinned:
        swap_in(two_generations[1], live, tmp_path)  # the old files are deleted now
        assert get_engine() is pinned
        pd.testing.assert_frame_equal(kpis.kpi_summary(get_engine(), FRESH), expected_old)
    pd.testing.assert_frame_equal(kpis.kpi_summary(get_engine(), FRESH), fresh_kpis(live, FRESH))


def orders(frame: pd.DataFrame) -> int:
    return int(frame.set_index("key").loc["orders", "value"])


def test_concurrent_requests_during_a_swap_never_fail_or_mix(live, two_generations, tmp_path):
    totals = {orders(fresh_kpis(folder, CACHED)): folder.name for folder in two_generations}
    assert len(totals) == 2
    errors: list[BaseException] = []
    swapped = threading.Event()

    def user() -> None:
        for _ in range(12):
            try:
                with pinned_engine() as eng:
                    first = orders(kpis.kpi_summary(eng, CACHED))
                    # a second query of the same request, after the swap may have happened
                    second = int(eng.execute(eng.orders.count())) if not swapped.is_set() else first
                    assert first in totals and isinstance(second, int)
            except BaseException as exc:  # every failure is the finding
                errors.append(exc)

    threads = [threading.Thread(target=user) for _ in range(3)]
    for thread in threads:
        thread.start()
    swap_in(two_generations[1], live, tmp_path)
    swapped.set()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors[:3]
    with pinned_engine() as eng:  # once the swap is seen, only the new generation answers
        assert totals[orders(kpis.kpi_summary(eng, CACHED))] == "new"


def truncate_a_part(folder: Path) -> Path:
    part = sorted((folder / "fact_orders").glob("*.parquet"))[0]
    part.write_bytes(part.read_bytes()[: part.stat().st_size // 2])
    return part


def test_new_data_that_cannot_be_read_keeps_the_previous_generation(live, two_generations, tmp_path):
    old = get_engine()
    expected = kpis.kpi_summary(old, CACHED)
    staged = tmp_path / "broken"
    shutil.copytree(two_generations[1], staged)
    part = truncate_a_part(staged)
    replace_folder(staged, live)

    assert get_engine() is old  # refused: the previous generation stays in service, reading its open files
    problem = data_problem()
    assert problem is not None and problem.table == "fact_orders" and part.name in problem.message
    pd.testing.assert_frame_equal(kpis.kpi_summary(get_engine(), CACHED), expected)

    swap_in(two_generations[1], live, tmp_path / "again")  # repaired data is picked up by itself
    assert get_engine() is not old and data_problem() is None


def test_a_truncated_file_is_named_when_the_data_is_opened(two_generations, tmp_path):
    folder = tmp_path / "data"
    shutil.copytree(two_generations[0], folder)
    part = truncate_a_part(folder)
    with pytest.raises(DataFileError) as caught:
        Engine(Settings(data_dir=str(folder), cache_dir="off"))
    assert caught.value.table == "fact_orders" and caught.value.path == str(part)
    assert "not readable Parquet" in str(caught.value)


def test_health_and_pages_report_unreadable_data(two_generations, tmp_path):
    folder = tmp_path / "data"
    shutil.copytree(two_generations[0], folder)
    reset_engine()
    try:
        with app_over(folder) as app:
            client = app.server.test_client()
            healthy = client.get("/health").get_json()
            assert healthy["status"] == "ok" and set(healthy) == {
                "status", "backend", "data_from", "data_to", "generation", "pages", "uptime_s"}

            truncate_a_part(folder)
            engine_module._CURRENT.checked_at = 0.0  # the next request looks at the folder again
            response = client.get("/health")
            body = response.get_json()
            assert response.status_code == 503 and body["status"] == "error" and body["table"] == "fact_orders"

            reset_engine()  # a worker started on the broken data: no previous generation to serve
            response = client.get("/health")
            assert response.status_code == 503 and response.get_json()["table"] == "fact_orders"
            assert client.get("/").status_code == 200  # the shell renders
            callback = {"output": "..filter-line.children...filter-stem.children...filter-toggle.children..",
                        "outputs": [{"id": "filter-line", "property": "children"},
                                    {"id": "filter-stem", "property": "children"},
                                    {"id": "filter-toggle", "property": "children"}],
                        "inputs": [{"id": "url-query", "property": "data", "value": ""}],
                        "state": [], "changedPropIds": ["url-query.data"]}
            answer = client.post("/_dash-update-component", data=json.dumps(callback),
                                 content_type="application/json")
            assert answer.status_code == 200
            text = answer.get_data(as_text=True)
            assert "The data cannot be read" in text and "fact_orders" in text
    finally:
        reset_engine()


def test_a_worker_boots_on_unreadable_data(two_generations, tmp_path):
    """A reload (gunicorn HUP) onto broken data must leave workers that answer, not a master with none."""
    folder = tmp_path / "data"
    shutil.copytree(two_generations[0], folder)
    truncate_a_part(folder)
    script = ("import app; c = app.server.test_client(); r = c.get('/health'); "
              "print(r.status_code, r.get_json()['table'], c.get('/').status_code)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          cwd=Path(__file__).resolve().parent.parent,
                          env={**os.environ, "CUSTINTEL_DATA_DIR": str(folder), "CUSTINTEL_CACHE_DIR": "off"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-3:] == ["503", "fact_orders", "200"]
