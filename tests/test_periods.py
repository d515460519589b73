"""Period presets of the filter bar against hand-computed bounds."""

from __future__ import annotations

import ast
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metrics.engine import Engine
from metrics.periods import CUSTOM, Period, find_period, matching_period, period_presets
from metrics.selection import default_filters

D = date


def ranges(first: date, last: date) -> dict[str, tuple[str, date, date]]:
    return {p.key: (p.label, p.start, p.end) for p in period_presets(first, last)}


def test_data_ending_on_31_december():
    got = ranges(D(2021, 1, 2), D(2024, 12, 31))
    assert list(got) == ["last-12-months", "last-30-days", "last-90-days", "year-to-date", "2024", "2023", "2022",
                         "2021", "all-data"]
    assert got == {
        "last-12-months": ("Last 12 months", D(2024, 1, 1), D(2024, 12, 31)),
        "last-30-days": ("Last 30 days", D(2024, 12, 2), D(2024, 12, 31)),
        "last-90-days": ("Last 90 days", D(2024, 10, 3), D(2024, 12, 31)),
        "year-to-date": ("Year to date", D(2024, 1, 1), D(2024, 12, 31)),
        "2024": ("2024", D(2024, 1, 1), D(2024, 12, 31)),
        "2023": ("2023", D(2023, 1, 1), D(2023, 12, 31)),
        "2022": ("2022", D(2022, 1, 1), D(2022, 12, 31)),
        "2021": ("2021 (partial)", D(2021, 1, 2), D(2021, 12, 31)),
        "all-data": ("All data", D(2021, 1, 2), D(2024, 12, 31)),
    }


def test_data_ending_mid_year():
    got = ranges(D(2022, 3, 15), D(2024, 6, 30))
    assert got == {
        "last-12-months": ("Last 12 months", D(2023, 7, 1), D(2024, 6, 30)),
        "last-30-days": ("Last 30 days", D(2024, 6, 1), D(2024, 6, 30)),
        "last-90-days": ("Last 90 days", D(2024, 4, 2), D(2024, 6, 30)),
        "year-to-date": ("Year to date", D(2024, 1, 1), D(2024, 6, 30)),
        "2024": ("2024 (partial)", D(2024, 1, 1), D(2024, 6, 30)),
        "2023": ("2023", D(2023, 1, 1), D(2023, 12, 31)),
        "2022": ("2022 (partial)", D(2022, 3, 15), D(2022, 12, 31)),
        "all-data": ("All data", D(2022, 3, 15), D(2024, 6, 30)),
    }


def test_data_ending_on_29_february():
    got = ranges(D(2022, 11, 20), D(2024, 2, 29))
    assert got == {
        "last-12-months": ("Last 12 months", D(2023, 3, 1), D(2024, 2, 29)),  # 28 Feb 2023 + 1 day
        "last-30-days": ("Last 30 days", D(2024, 1, 31), D(2024, 2, 29)),
        "last-90-days": ("Last 90 days", D(2023, 12, 2), D(2024, 2, 29)),
        "year-to-date": ("Year to date", D(2024, 1, 1), D(2024, 2, 29)),
        "2024": ("2024 (partial)", D(2024, 1, 1), D(2024, 2, 29)),
        "2023": ("2023", D(2023, 1, 1), D(2023, 12, 31)),
        "2022": ("2022 (partial)", D(2022, 11, 20), D(2022, 12, 31)),
        "all-data": ("All data", D(2022, 11, 20), D(2024, 2, 29)),
    }


def test_data_shorter_than_30_days_clip_every_preset_to_the_data():
    first, last = D(2024, 3, 5), D(2024, 3, 20)
    got = ranges(first, last)
    assert list(got) == ["last-12-months", "last-30-days", "last-90-days", "year-to-date", "2024", "all-data"]
    assert {(start, end) for _label, start, end in got.values()} == {(first, last)}
    assert got["2024"][0] == "2024 (partial)"
    # all presets cover the same days: the first listed is the one shown
    assert matching_period(period_presets(first, last), first, last) == "last-12-months"


def test_one_day_and_one_whole_year_of_data():
    day = D(2023, 5, 1)
    assert {(p.start, p.end) for p in period_presets(day, day)} == {(day, day)}
    whole = ranges(D(2023, 1, 1), D(2023, 12, 31))
    assert whole["2023"] == ("2023", D(2023, 1, 1), D(2023, 12, 31))
    with pytest.raises(ValueError):
        period_presets(D(2024, 1, 2), D(2024, 1, 1))


def test_matching_period_first_match_wins_and_none_means_custom():
    presets = period_presets(D(2022, 3, 15), D(2024, 6, 30))
    assert matching_period(presets, D(2024, 1, 1), D(2024, 6, 30)) == "year-to-date"  # before "2024 (partial)"
    assert matching_period(presets, D(2023, 1, 1), D(2023, 12, 31)) == "2023"
    assert matching_period(presets, D(2023, 7, 1), D(2024, 6, 30)) == "last-12-months"
    assert matching_period(presets, D(2022, 3, 15), D(2024, 6, 30)) == "all-data"
    assert matching_period(presets, D(2023, 1, 1), D(2023, 12, 30)) is None
    assert matching_period(list(reversed(presets)), D(2024, 1, 1), D(2024, 6, 30)) == "2024"  # order decides
    assert find_period(presets, "2023") == Period("2023", "2023", D(2023, 1, 1), D(2023, 12, 31))
    for key in (CUSTOM, "2019", None, 2023, ["2023"], ""):
        assert find_period(presets, key) is None


class _Bounds:
    """Just enough of an Engine for default_filters."""

    def __init__(self, first: date, last: date) -> None:
        self.bounds = (first, last)

    def date_bounds(self) -> tuple[date, date]:
        return self.bounds


@settings(max_examples=300, deadline=None, derandomize=True)
@given(first=st.dates(D(2000, 1, 1), D(2030, 12, 31)), days=st.integers(0, 3000))
def test_every_preset_lies_in_the_data_and_last_12_months_is_the_default_view(first, days):
    last = min(date.fromordinal(first.toordinal() + days), D(2030, 12, 31))
    presets = period_presets(first, last)
    assert len({p.key for p in presets}) == len(presets) and CUSTOM not in {p.key for p in presets}
    assert all(first <= p.start <= p.end <= last for p in presets)
    years = [int(p.key) for p in presets if p.key.isdigit()]
    assert years == list(range(last.year, first.year - 1, -1))
    default = default_filters(_Bounds(first, last))  # type: ignore[arg-type]
    assert (presets[0].key, presets[0].start, presets[0].end) == ("last-12-months", default.start, default.end)
    for p in presets:  # every preset is found again from its own dates (possibly as an earlier duplicate)
        key = matching_period(presets, p.start, p.end)
        assert key is not None and (find_period(presets, key).start, find_period(presets, key).end) == (p.start, p.end)


def test_last_12_months_on_the_generated_data_is_the_default_filter(generated_engine: Engine):
    presets = period_presets(*generated_engine.date_bounds())
    default = default_filters(generated_engine)
    assert (presets[0].start, presets[0].end) == (default.start, default.end)
    assert matching_period(presets, default.start, default.end) == "last-12-months"


def test_periods_module_is_pure_analytics():
    tree = ast.parse((Path(__file__).resolve().parent.parent / "metrics" / "periods.py").read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                 and node.module}
    assert not imported & {"dash", "dash_bootstrap_components", "plotly", "flask"}
