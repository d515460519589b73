"""``custintel warm``: the common filter states, replayed as a browser would, end up in the shared cache."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from metrics.engine import Engine
from metrics.measures import kpis
from metrics.periods import period_presets
from metrics.segments import tables as segments
from metrics.selection import default_filters
from metrics.settings import Settings
from service.warm import common_states

ROOT = Path(__file__).resolve().parent.parent


def test_common_states_are_each_distinct_preset_range_times_each_prime_choice(generated_engine):
    lo, hi = generated_engine.date_bounds()
    ranges = {(p.start, p.end) for p in period_presets(lo, hi)}
    states = common_states(generated_engine)
    assert len(states) == len(ranges) * 3 == len(set(states))
    assert {(s.start, s.end) for s in states} == ranges
    assert default_filters(generated_engine) in states
    assert all(not s.countries and s.focus is None for s in states)

    countries = generated_engine.countries()
    with_countries = common_states(generated_engine, each_country=True)
    assert len(with_countries) == len(states) * (1 + len(countries)) == len(set(with_countries))
    assert {s.countries for s in with_countries} == {(), *((c,) for c in countries)}

    picked = common_states(generated_engine, ["last-30-days"], ("Prime",))
    assert len(picked) == 1 and picked[0].prime == "Prime" and (picked[0].end - picked[0].start).days == 29
    with pytest.raises(ValueError, match="unknown period"):
        common_states(generated_engine, ["next-year"])


def test_warm_command_fills_the_cache_that_a_new_server_process_reads(generated_dir, tmp_path):
    cache = tmp_path / "cache"
    env = {**os.environ, "CUSTINTEL_CACHE_DIR": str(cache)}
    env.pop("CUSTINTEL_AUTH", None)
    done = subprocess.run(
        [sys.executable, "-m", "service.cli", "warm", "--data-dir", str(generated_dir), "--period", "last-12-months",
         "--prime", "All", "--prime", "Prime", "--nice", "5"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "warmed 2 filter states" in done.stdout
    assert done.stderr.count("state ") == 2  # one progress line per state

    fresh = Engine(Settings(data_dir=str(generated_dir), cache_dir=str(cache)), validate=False)
    state = default_filters(fresh)
    for choice in (state, replace(state, prime="Prime")):  # what the Executive page asks for
        kpis.kpis(fresh, choice)
        segments.segment_summary(fresh, choice, "loyalty")
    assert fresh.cache.stats()["misses"] == 0 and fresh.cache.stats()["shared_hits"] == 5  # + date range


def test_warm_refuses_when_the_shared_cache_is_off(generated_dir):
    env = {**os.environ, "CUSTINTEL_CACHE_DIR": "off"}
    done = subprocess.run([sys.executable, "-m", "service.cli", "warm", "--data-dir", str(generated_dir)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "no shared cache" in done.stderr
