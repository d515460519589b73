"""Components: formatting, KPI cards, colours, chart helpers, URL state, table helpers and the glossary."""

from __future__ import annotations

import re
from datetime import date

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from dash.exceptions import PreventUpdate

from components.charts import EMPTY_MESSAGE, GRAPH_CONFIG, chart_frame, empty_figure, gauge, segment_figure
from components.colours import BAND_COLOURS, RISK_COLOURS, SEGMENT_COLOURS, scheme_colours, segment_colour
from components.formatting import fmt_int, fmt_money, fmt_number, fmt_pct, fmt_signed_pct, format_value
from components.kpi import BAD, GOOD, NEUTRAL, delta_style, kpi_card
from metrics.engine import Engine
from metrics.filters import Filters
from metrics.segments.labels import LIFECYCLE_LABELS, SCHEME_LABELS
from metrics.selection import default_filters

# ----- formatting -------------------------------------------------------------------------------------------


def test_formatting():
    assert fmt_int(1234567.4) == "1,234,567"
    assert fmt_money(1234.5) == "$1,234.50"
    assert fmt_money(-3.456) == "-$3.46"
    assert fmt_money(1_234_567, compact=True) == "$1.23M"
    assert fmt_money(999, compact=True) == "$999.00"
    assert fmt_pct(0.1234) == "12.3 %"
    assert fmt_signed_pct(0.05) == "+5.0 %" and fmt_signed_pct(-0.5) == "-50.0 %"
    assert fmt_number(2.345, 1) == "2.3"
    for missing in (None, float("nan"), "x"):
        assert fmt_int(missing) == fmt_money(missing) == fmt_pct(missing) == "—"
    assert format_value(0.5, "pct") == "50.0 %" and format_value(3, "int") == "3"
    assert format_value(2e6, "money", compact=True) == "$2.00M"


# ----- KPI cards --------------------------------------------------------------------------------------------


def _text(component) -> str:
    """All text inside a Dash component tree."""
    if component is None:
        return ""
    if isinstance(component, (str, int, float)):
        return str(component)
    if isinstance(component, (list, tuple)):
        return " ".join(_text(c) for c in component)
    return _text(getattr(component, "children", None))


def _classes(component) -> list[str]:
    out = [getattr(component, "className", "") or ""]
    children = getattr(component, "children", None)
    for child in children if isinstance(children, (list, tuple)) else [children]:
        if child is not None and not isinstance(child, (str, int, float)):
            out += _classes(child)
    return out


@pytest.mark.parametrize(("delta", "higher_is_better", "arrow", "colour"), [
    (0.1, True, "▲", GOOD), (-0.1, True, "▼", BAD), (0.1, False, "▲", BAD), (-0.1, False, "▼", GOOD),
    (0.0, True, "■", NEUTRAL), (None, True, "■", NEUTRAL),
])
def test_delta_arrow_and_colour(delta, higher_is_better, arrow, colour):
    assert delta_style(delta, higher_is_better) == (arrow, colour)


def test_kpi_card_shows_value_delta_and_raw_value():
    card = kpi_card("Revenue", 1_500_000.0, 1_000_000.0, 0.5, "money", key="revenue", definition="Sum.")
    text = _text(card)
    assert "Revenue" in text and "$1.50M" in text and "▲ +50.0 %" in text and "vs $1.00M" in text
    assert any(GOOD in c for c in _classes(card))
    value_div = card.children.children.children[1]
    assert getattr(value_div, "data-value") == repr(1_500_000.0) and getattr(value_div, "data-kpi") == "revenue"

    churn = kpi_card("At-risk rate", 0.3, 0.2, 0.5, "pct", higher_is_better=False)
    assert any(BAD in c for c in _classes(churn))
    assert "no data in previous period" in _text(kpi_card("New", 5, 0, None, "int"))


# ----- colours ----------------------------------------------------------------------------------------------


def test_every_label_has_one_distinct_colour_within_its_scheme():
    hex_colour = re.compile(r"^#[0-9A-Fa-f]{6}$")
    assert all(hex_colour.match(c) for c in SEGMENT_COLOURS.values())
    for scheme, labels in (*SCHEME_LABELS.items(), ("lifecycle", LIFECYCLE_LABELS)):
        colours = scheme_colours(scheme)
        assert list(colours) == list(labels)
        assert len(set(colours.values())) == len(labels), f"{scheme} repeats a colour"
    # the six "at risk" notions are different things and never share a colour
    at_risk = [scheme_colours("loyalty")["At-Risk"], scheme_colours("rfm")["At Risk"],
               scheme_colours("behaviour")["At-Risk / Dormant"], scheme_colours("income_spending")["At Risk"],
               scheme_colours("lifecycle")["At Risk"], RISK_COLOURS["High"]]
    assert len(set(at_risk)) == 6
    assert segment_colour("At Risk", "rfm") == scheme_colours("rfm")["At Risk"]
    assert set(BAND_COLOURS) == {"1", "2-3", "4-5", "6+"}


# ----- charts -----------------------------------------------------------------------------------------------


def test_empty_figure_and_chart_frame():
    fig = empty_figure()
    assert not fig.data and fig.layout.annotations[0].text == EMPTY_MESSAGE
    frame = chart_frame("Title", "What does it answer?", "graph-x")
    text = _text(frame)
    assert "Title" in text and "What does it answer?" in text
    assert "graph-x" in str(frame)


def test_question_card_has_title_question_and_body():
    from components.cards import question_card

    card = question_card("Title", "What does it answer?", "rows", full_height=True)
    header, body = card.children
    assert [c.children for c in header.children] == ["Title", "What does it answer?"]
    assert body.children == "rows" and card.className == "shadow-sm h-100"
    filled = question_card("Title", "Why?", body_id="filled-by-callback")
    assert filled.children[1].id == "filled-by-callback" and filled.className == "shadow-sm"

def test_gauge_marks_the_target():
    above, below = gauge(0.45, 0.40), gauge(0.2, 0.40)
    assert above.data[0].value == 45.0 and above.data[0].gauge.threshold.value == pytest.approx(40.0)
    assert above.data[0].gauge.bar.color != below.data[0].gauge.bar.color
    risky = gauge(0.8, 0.7, higher_is_better=False, target_label="high risk from 70 %")
    safe = gauge(0.1, 0.7, higher_is_better=False)
    assert risky.data[0].gauge.bar.color == below.data[0].gauge.bar.color  # up is bad: red above the line
    assert safe.data[0].gauge.bar.color == above.data[0].gauge.bar.color
    assert "high risk from 70 %" in " ".join(a.text for a in risky.layout.annotations)


def test_segment_figure_uses_fixed_colours_in_scheme_order():
    frame = pd.DataFrame({"month": pd.to_datetime(["2024-01-01"] * 3), "segment": ["Hibernating", "Top Tier", "X"],
                          "customers": [3, 5, 1]})
    fig = segment_figure(frame, "month", "customers", list(SCHEME_LABELS["loyalty"]), kind="bar")
    assert [t.name for t in fig.data] == ["Top Tier", "Hibernating", "X"]
    assert fig.data[0].marker.color == segment_colour("Top Tier")
    assert isinstance(fig, go.Figure)


# ----- URL state --------------------------------------------------------------------------------------------


def test_parse_query_keeps_page_keys_and_reports_corrections(generated_engine: Engine):
    from components.state import link_query, parse_query, query_from_controls, read_filters

    eng = generated_engine
    lo, hi = eng.date_bounds()
    state = parse_query("?start=2023-01-01&end=2023-03-31&prime=Prime&id=17&junk=1", eng)
    assert state.filters == Filters(date(2023, 1, 1), date(2023, 3, 31), "Prime")
    assert state.page_param("id") == "17" and state.notices == ()
    assert state.query == "start=2023-01-01&end=2023-03-31&prime=Prime&id=17"
    assert link_query(state.query) == "?start=2023-01-01&end=2023-03-31&prime=Prime"

    bad = parse_query("start=yesterday&prime=Gold&country=Atlantis", eng)
    assert bad.filters == default_filters(eng) and len(bad.notices) == 3

    query = query_from_controls(lo.isoformat(), hi.isoformat(), "Non-Prime", [eng.countries()[0]], "loyalty",
                                "Top Tier")
    filters = parse_query(query, eng).filters
    assert filters.focus.label == "Top Tier" and filters.prime == "Non-Prime"
    assert read_filters(query, use_segment=False, eng=eng).focus is None
    with pytest.raises(PreventUpdate):
        read_filters(None, eng=eng)
    assert parse_query("x" * 5000, eng).filters == default_filters(eng)


# ----- tables -----------------------------------------------------------------------------------------------


def test_table_helpers():
    from components.tables import _TABLES, column, data_table, records, register_table

    col = column("revenue", "Revenue", "money")
    assert "d3.format('$,.2f')" in col["valueFormatter"]["function"] and col["filter"] == "agNumberColumnFilter"
    assert column("customer_id", link=True)["cellClass"] == "customer-link"
    frame = pd.DataFrame({"a": [1.5, np.nan], "d": pd.to_datetime(["2024-01-02", None]), "n": np.array([1, 2])})
    assert records(frame) == [{"a": 1.5, "d": "2024-01-02", "n": 1}, {"a": None, "d": None, "n": 2}]
    with pytest.raises(KeyError):
        data_table("never-registered", [])
    register_table("test-table", lambda filters: pd.DataFrame(), stem="one")
    try:
        with pytest.raises(ValueError):
            register_table("test-table", lambda filters: pd.DataFrame(), stem="other")
    finally:
        _TABLES.pop("test-table")


def test_segment_summary_columns_cover_the_summary_frame(generated_engine: Engine):
    from components.tables import segment_summary_columns
    from metrics.segments.tables import segment_summary

    frame = segment_summary(generated_engine, default_filters(generated_engine), "loyalty")
    columns = segment_summary_columns()
    fields = [c["field"] for c in columns]
    assert fields == [name for name in frame.columns if name in fields] and len(fields) == 10
    assert columns[0] == {"field": "segment", "headerName": "Segment", "minWidth": 150, "pinned": "left"}
    tiers = segment_summary_columns("Tier", width=130)
    assert tiers[0]["headerName"] == "Tier" and tiers[0]["minWidth"] == 130 and tiers[1:] == columns[1:]


# ----- glossary ---------------------------------------------------------------------------------------------


def test_glossary_is_built_from_the_code():
    from components.glossary import glossary_sections, metric_functions
    from metrics.export import EXPORTS
    from metrics.measures.registry import MEASURES

    functions = {(module, name) for module, name, _doc in metric_functions()}
    assert ("measures.kpis", "kpis") in functions and ("segments.tables", "segment_summary") in functions
    assert ("segments.tables", "segment_details") in functions and ("models.churn", "churn_bands") in functions
    text = _text(glossary_sections()) + str(glossary_sections())
    for m in MEASURES.values():  # every measure of the registry, with its definition
        assert m.label in text and m.definition in text
    for name in EXPORTS:
        assert name in text
    assert "Top Tier" in text and "Champions" in text


def test_glossary_titles_are_words_and_definitions_are_rendered_text():
    from components.glossary import business_title, metric_entries, metric_functions, rendered_text

    assert business_title("kpi_summary") == "KPI summary"
    assert business_title("clv_by_segment") == "CLV by segment"
    assert rendered_text("Rows ``customer_id`` of :func:`metrics.mart.scope_mart`.\n\nTitle\n-----") == (
        "Rows `customer_id` of `scope_mart`.\n\nTitle")
    titles = [item.title for item in metric_entries()[0].children]
    assert len(titles) == len(metric_functions()) and "KPI summary" in titles
    assert not [t for t in titles if "metrics." in t or "_" in t]
    only = [item.title for item in metric_entries("churn bands")[0].children]
    assert only == ["Churn bands"]
    assert "No definition matches" in _text(metric_entries("no-such-word-anywhere"))


def test_graph_config_sends_nothing_anywhere_and_shows_no_logo():
    assert GRAPH_CONFIG["displaylogo"] is False
    assert GRAPH_CONFIG["showSendToCloud"] is False and GRAPH_CONFIG["showEditInChartStudio"] is False
    assert GRAPH_CONFIG["showLink"] is False and GRAPH_CONFIG["sendData"] is False
    assert {"sendDataToCloud", "editInChartStudio"} <= set(GRAPH_CONFIG["modeBarButtonsToRemove"])


def test_a_dense_chart_keeps_its_width_and_scrolls_inside_its_card():
    card = chart_frame("Heat", "Where?", "heat-graph", height=300, min_width=700)
    graphs = [c for c in _walk(card) if getattr(c, "id", None) == "heat-graph"]
    assert graphs[0].style == {"height": "300px", "minWidth": "700px"}
    assert any("chart-scroll" in (getattr(c, "className", "") or "") for c in _walk(card))


def _walk(component):
    """The component and every component below it."""
    yield component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list | tuple) else [children]:
        if hasattr(child, "to_plotly_json"):
            yield from _walk(child)


def test_every_segment_label_has_its_definition_on_the_glossary():
    """Each label of every scheme (and the lifecycle states, CLV classes and churn-risk bands) is named in
    the definition the glossary shows for its group: the code's own docstrings, not a copy."""
    from components.glossary import LABEL_DEFINITIONS, definition_text, glossary_sections
    from metrics.models.clv import CLV_CLASSES
    from metrics.models.inputs import RISK_BANDS
    from metrics.segments.labels import LIFECYCLE_LABELS, SCHEME_LABELS

    page = _text(glossary_sections()) + str(glossary_sections())
    groups = {**SCHEME_LABELS, "lifecycle": LIFECYCLE_LABELS, "clv_class": CLV_CLASSES, "risk_band": RISK_BANDS}
    for group, labels in groups.items():
        text = definition_text(LABEL_DEFINITIONS[group])
        assert text and text.splitlines()[0] in page, group
        missing = [label for label in labels if label not in text]
        assert not missing, (group, missing)
    for key in ("month_end", "tier_clv", "churn_trend"):
        assert definition_text(LABEL_DEFINITIONS[key]).splitlines()[0] in page, key
