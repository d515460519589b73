"""The on-disk result cache shared by server processes: reuse, isolation, single computation, limits."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from metrics.cache import ResultCache
from metrics.engine import Engine
from metrics.filters import Filters
from metrics.generation import folder_fingerprint
from metrics.measures import kpis
from metrics.models import choice, scores
from metrics.schema import TABLES
from metrics.segments import tables as segments
from metrics.settings import Settings, load_settings
from metrics.shared_cache import SharedStore, is_plain_data, store_name

ROOT = Path(__file__).resolve().parent.parent
STATE = Filters(date(2024, 1, 1), date(2024, 12, 31), prime="Prime")


def engine(data_dir: Path, cache_dir: Path) -> Engine:
    return Engine(Settings(data_dir=str(data_dir), cache_dir=str(cache_dir)), validate=False)


def test_a_second_process_reads_results_instead_of_computing(generated_dir, tmp_path):
    first = engine(generated_dir, tmp_path)
    summary = kpis.kpi_summary(first, STATE)
    table = segments.segment_summary(first, STATE, "loyalty")
    assert first.cache.stats()["misses"] > 0 and first.cache.stats()["shared_hits"] == 0

    second = engine(generated_dir, tmp_path)  # a new engine = what another worker or a restart has
    pd.testing.assert_frame_equal(kpis.kpi_summary(second, STATE), summary)
    pd.testing.assert_frame_equal(segments.segment_summary(second, STATE, "loyalty"), table)
    stats = second.cache.stats()
    assert stats["misses"] == 0 and stats["shared_hits"] == 3  # kpis of the range and of the one before


def test_fitted_models_are_shared_but_expressions_stay_in_memory(generated_dir, tmp_path):
    first = engine(generated_dir, tmp_path)
    fit = choice.fit_purchase_model(first, STATE)
    assert fit.ok
    scores.customer_scores(first, STATE)  # an Ibis expression over a materialised table
    assert "metrics.models.scores.customer_scores" in first.cache._memory_only
    assert "metrics.models.inputs.fit_model" not in first.cache._memory_only

    second = engine(generated_dir, tmp_path)
    again = choice.fit_purchase_model(second, STATE)
    assert again.model.params == fit.model.params
    # the data's date range, its model choice and the state's fit, all read from disk
    assert second.cache.stats() == {"entries": 3, "hits": 0, "shared_hits": 3, "misses": 0}


def test_new_data_or_another_backend_never_reads_old_results(generated_dir, tmp_path):
    generation = folder_fingerprint(str(generated_dir), TABLES)
    assert generation is not None and store_name("duckdb", generation) != store_name("spark", generation)

    copy = tmp_path / "copy"
    copy.mkdir()
    for name in TABLES:
        (copy / f"{name}.parquet").write_bytes(next((generated_dir / name).glob("*.parquet")).read_bytes())
    before = folder_fingerprint(str(copy), TABLES)
    target = copy / "fact_orders.parquet"
    os.utime(target, ns=(1, 1))  # the same bytes rewritten later count as new data
    assert folder_fingerprint(str(copy), TABLES) != before
    assert folder_fingerprint("s3://bucket/data", TABLES) is None


def test_concurrent_processes_compute_a_result_once(tmp_path):
    log = tmp_path / "computed.log"
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from metrics.cache import ResultCache
        from metrics.shared_cache import SharedStore
        cache = ResultCache(store=SharedStore({str(tmp_path / "cache")!r}, "fp", max_bytes=10**7))
        def compute():
            with open({str(log)!r}, "a") as f:
                f.write("computed\\n")
            time.sleep(1.0)
            return {{"answer": 42}}
        print(cache.get_or_compute(("metric", ("state",)), compute)["answer"])
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) for _ in range(3)]
    outputs = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert outputs == ["42", "42", "42"]
    assert log.read_text().splitlines() == ["computed"]


def test_the_folder_stays_under_its_size_cap(tmp_path):
    store = SharedStore(tmp_path, "fp", max_bytes=20_000)
    for i in range(40):
        store.put(("m", i), b"x" * 2_000)
        os.utime(store._path(("m", i)), (i, i))  # deterministic age order
    store.prune()
    assert store.size_bytes() <= 20_000
    assert store.get(("m", 39))[0] and not store.get(("m", 0))[0]  # the oldest went first


def test_a_damaged_file_is_recomputed(tmp_path):
    cache = ResultCache(store=SharedStore(tmp_path, "fp", max_bytes=10**7))
    key = ("metric", (1,))
    cache.store._path(key).write_bytes(b"not a pickle")
    assert cache.get_or_compute(key, lambda: [1, 2]) == [1, 2]
    assert cache.store.get(key) == (True, [1, 2])


def test_only_plain_keys_and_values_are_stored(tmp_path):
    cache = ResultCache(store=SharedStore(tmp_path, "fp", max_bytes=10**7))
    assert cache.get_or_compute(("metric", (object(),)), lambda: 1) == 1
    assert cache.get_or_compute(("expr", (1,)), lambda: object()) is not None
    assert not list((tmp_path / "fp").glob("*.pkl"))
    assert "expr" in cache._memory_only
    assert is_plain_data((STATE, "loyalty", 3, pd.DataFrame({"a": [1]})))
    assert not is_plain_data([lambda: 1])


def test_the_shared_cache_can_be_turned_off(generated_dir, tmp_path):
    settings = load_settings({"CUSTINTEL_DATA_DIR": str(generated_dir), "CUSTINTEL_CACHE_DIR": "off"})
    assert Engine(settings, validate=False).cache.store is None
    settings = load_settings({"CUSTINTEL_DATA_DIR": str(generated_dir), "CUSTINTEL_CACHE_DIR": str(tmp_path),
                              "CUSTINTEL_CACHE_MB": "5"})
    store = Engine(settings, validate=False).cache.store
    assert store is not None and store.root == tmp_path and store.max_bytes == 5 * 1024 * 1024
    with pytest.raises(ValueError, match="cache MB"):
        load_settings({"CUSTINTEL_CACHE_MB": "0"})


def test_keys_are_the_bound_arguments_with_defaults(generated_dir, tmp_path):
    """f(e, F), f(e, F, "loyalty") and f(e, F, scheme="loyalty") are one entry, computed once."""
    eng = engine(generated_dir, "off")
    first = segments.segment_summary(eng, STATE)
    misses = eng.cache.stats()["misses"]
    pd.testing.assert_frame_equal(segments.segment_summary(eng, STATE, "loyalty"), first)
    pd.testing.assert_frame_equal(segments.segment_summary(eng, STATE, scheme="loyalty"), first)
    assert eng.cache.stats()["misses"] == misses
    segments.segment_summary(eng, STATE, "rfm")
    assert eng.cache.stats()["misses"] > misses


def test_scope_only_results_are_shared_by_every_focus(generated_dir):
    eng = engine(generated_dir, "off")
    fit = choice.fit_purchase_model(eng, STATE)
    misses = eng.cache.stats()["misses"]
    for label in ("Top Tier", "At-Risk"):
        assert choice.fit_purchase_model(eng, STATE.with_focus("loyalty", label)) is fit
    assert eng.cache.stats()["misses"] == misses


def test_the_code_version_covers_analytics_code_in_subpackages(tmp_path, monkeypatch):
    from metrics import shared_cache

    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "top.py").write_text("x = 1\n")
    (package / "sub" / "inner.py").write_text("y = 1\n")
    monkeypatch.setattr(shared_cache, "PACKAGE_DIR", package)
    before = shared_cache.code_version()
    (package / "sub" / "inner.py").write_text("y = 2\n")
    assert shared_cache.code_version() != before


def test_eviction_releases_entries_and_the_byte_bound_holds():
    from metrics.cache import Entry, ResultCache

    released = []
    cache = ResultCache(max_entries=100, max_bytes=250)
    for i in range(5):
        entry = Entry(i, nbytes=100, release=lambda i=i: released.append(i))
        cache.get_or_compute_entry(("k", (i,)), lambda entry=entry: entry)
    assert released == [0, 1, 2] and cache.nbytes() == 200 and cache.stats()["entries"] == 2
    cache.clear()
    assert released == [0, 1, 2, 3, 4] and cache.nbytes() == 0
