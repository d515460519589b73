from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metrics.filters import FilterError, Filters, SegmentFocus

DEFAULT = Filters(date(2021, 1, 1), date(2024, 12, 31))
COUNTRIES = ["France", "Germany", "United States"]


def test_defaults_and_as_of():
    f = Filters("2024-01-01", "2024-03-31")
    assert f.as_of == date(2024, 3, 31)
    assert f.days == 91  # 2024 is a leap year
    assert f.prime == "All" and f.countries == ()


def test_previous_period_has_equal_length_and_ends_the_day_before():
    f = Filters("2024-01-01", "2024-03-31")
    p = f.previous()
    assert (p.start, p.end) == (date(2023, 10, 2), date(2023, 12, 31))
    assert p.days == f.days
    single = Filters("2024-03-31", "2024-03-31").previous()
    assert (single.start, single.end) == (date(2024, 3, 30), date(2024, 3, 30))


@pytest.mark.parametrize("kwargs, message", [
    ({"start": "2024-02-01", "end": "2024-01-01"}, "after"),
    ({"prime": "Gold"}, "prime"),
    ({"countries": ("",)}, "country"),
    ({"focus": ("loyalty", "Top Tier")}, "SegmentFocus"),
    ({"start": "yesterday"}, "not a date"),
])
def test_invalid_values_are_refused(kwargs, message):
    args = {"start": "2024-01-01", "end": "2024-03-31", **kwargs}
    with pytest.raises(FilterError, match=message):
        Filters(**args)


@pytest.mark.parametrize("scheme, label, message", [
    ("loyalty", None, "both"), (None, "Top Tier", "both"), ("loyalty", "Champions", "not a label"),
    ("nope", "x", "unknown"),
])
def test_invalid_focus_is_refused(scheme, label, message):
    with pytest.raises(FilterError, match=message):
        Filters("2024-01-01", "2024-03-31").with_focus(scheme, label)


def test_scope_drops_only_the_focus_and_previous_keeps_it():
    f = Filters("2024-01-01", "2024-03-31", "Prime", ("France",)).with_focus("loyalty", "Top Tier")
    assert f.scope == Filters("2024-01-01", "2024-03-31", "Prime", ("France",))
    scope = f.scope
    assert scope.scope is scope
    assert f.previous().focus == SegmentFocus("loyalty", "Top Tier")
    assert f.previous().scope == f.scope.previous()


def test_old_links_open_the_same_focus():
    default = Filters("2024-01-01", "2024-12-31")
    f, notices = Filters.from_query("start=2024-01-01&end=2024-06-30&scheme=loyalty&segment=Top+Tier", default)
    assert notices == [] and f.focus == SegmentFocus("loyalty", "Top Tier")
    assert Filters.from_query(f.to_query(), default)[0] == f


def test_countries_are_sorted_and_deduplicated_so_equal_filters_hash_equal():
    a = Filters("2024-01-01", "2024-01-31", countries=("Germany", "France", "Germany"))
    b = Filters("2024-01-01", "2024-01-31", countries=("France", "Germany"))
    assert a == b and hash(a) == hash(b) and a.countries == ("France", "Germany")


def test_query_round_trip_with_every_field():
    f = Filters("2023-02-01", "2023-11-30", "Non-Prime", ("United States", "France")).with_focus(
        "rfm", "Can't Lose Them")
    parsed, notices = Filters.from_query(f.to_query(), DEFAULT, COUNTRIES)
    assert parsed == f and notices == []
    assert Filters.from_query("?" + f.to_query(), DEFAULT, COUNTRIES)[0] == f


@pytest.mark.parametrize("query, expected, notice", [
    ("start=2024-13-01", DEFAULT, "invalid start"),
    ("start=2024-05-01&end=2024-02-01", Filters("2024-02-01", "2024-05-01"), "swapped"),
    ("prime=Gold", DEFAULT, "Prime"),
    ("country=Atlantis&country=France", Filters(DEFAULT.start, DEFAULT.end, countries=("France",)), "Atlantis"),
    ("country=%27%3B+DROP+TABLE+fact_orders%3B--", DEFAULT, "unknown countries"),
    ("scheme=loyalty&segment=Nope", DEFAULT, "segment"),
    ("start=1900-01-01&end=2999-01-01", DEFAULT, "limited"),
    ("x" * 5000, DEFAULT, "too long"),
])
def test_bad_query_values_are_corrected_with_a_notice(query, expected, notice):
    parsed, notices = Filters.from_query(query, DEFAULT, COUNTRIES, (DEFAULT.start, DEFAULT.end))
    assert parsed == expected
    assert any(notice.lower() in n.lower() for n in notices), notices


def test_describe_is_file_name_friendly():
    f = Filters("2024-01-01", "2024-12-31", "Non-Prime", ("United States",)).with_focus("rfm", "Can't Lose Them")
    assert f.describe() == "2024-01-01_2024-12-31_NonPrime_UnitedStates_CantLoseThem"


def test_summary_says_the_filter_state_in_words():
    f = Filters("2024-01-01", "2024-12-31", "Non-Prime", ("United States", "France")).with_focus("loyalty", "At-Risk")
    assert f.summary() == ("1 Jan 2024 – 31 Dec 2024 · Non-Prime customers · France, United States · "
                           "Loyalty tier (RFM): At-Risk")
    assert Filters("2024-03-05", "2024-03-31").summary() == "5 Mar 2024 – 31 Mar 2024 · all customers · all countries"


@settings(max_examples=300, deadline=None)
@given(
    start=st.dates(date(2021, 1, 1), date(2024, 12, 31)),
    length=st.integers(0, 2000),
    prime=st.sampled_from(["All", "Prime", "Non-Prime"]),
    countries=st.lists(st.sampled_from(COUNTRIES), max_size=3),
)
def test_round_trip_property(start, length, prime, countries):
    end = min(date(2024, 12, 31), date.fromordinal(start.toordinal() + length))
    f = Filters(start, end, prime, tuple(countries))
    assert Filters.from_query(f.to_query(), DEFAULT, COUNTRIES, (DEFAULT.start, DEFAULT.end)) == (f, [])


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_from_query_never_raises(query):
    parsed, _ = Filters.from_query(query, DEFAULT, COUNTRIES, (DEFAULT.start, DEFAULT.end))
    assert DEFAULT.start <= parsed.start <= parsed.end <= DEFAULT.end
