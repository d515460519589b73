"""The in-app glossary, built from the code's own definitions: the measure registry
(:data:`metrics.measures.registry.MEASURES`), the segment-rule and RFM module docstrings, and the docstring of every
metric function (so the text always matches what is computed)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from types import ModuleType

import dash_bootstrap_components as dbc
from dash import dcc, html

from components.colours import scheme_colours
from metrics.export import EXPORTS
from metrics.measures.kpis import REPEAT_RATE_TARGET
from metrics.measures.registry import KPI_MEASURES, MEASURES
from metrics.models.inputs import model_population
from metrics.models.purchase_models import PURCHASE_MODEL_INFO
from metrics.segments.labels import LIFECYCLE_LABELS, SCHEME_LABELS, SCHEME_TITLES


def metric_modules() -> list[str]:
    """Every module of the analytics package (subpackages included), by name relative to ``metrics``:
    found, not listed by hand, so a new metric module is in the glossary without another edit."""
    import metrics

    return sorted(info.name.removeprefix("metrics.") for info in
                  pkgutil.walk_packages(metrics.__path__, prefix="metrics.") if not info.ispkg)


def _doc(obj: object) -> str:
    return inspect.cleandoc(inspect.getdoc(obj) or "")


def _module(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(f"metrics.{name}")
    except ImportError:
        return None


def metric_functions() -> list[tuple[str, str, str]]:
    """(module, function name, docstring) of every public metric ``(engine, filters, ...)`` function that
    returns numbers or a frame (helpers returning Ibis tables are left out)."""
    out = []
    for name in metric_modules():
        module = _module(name)
        if module is None:
            continue
        for fname, fn in inspect.getmembers(module, inspect.isfunction):
            if fname.startswith("_") or getattr(fn, "__module__", "") != module.__name__:
                continue
            try:
                params = list(inspect.signature(fn).parameters)
            except (TypeError, ValueError):
                continue
            returns = str(inspect.signature(fn).return_annotation)
            if params[:2] == ["engine", "filters"] and _doc(fn) and "Table" not in returns:
                out.append((name, fname, _doc(fn)))
    return out


#: Words a title spells differently from a Python name.
_TITLE_WORDS = {"kpi": "KPI", "kpis": "KPIs", "rfm": "RFM", "clv": "CLV", "aov": "AOV", "ltv": "LTV",
                "mbgnbd": "MBG/NBD", "bgnbd": "BG/NBD", "nbd": "NBD", "p": "P", "12m": "12 months"}
_ROLE = re.compile(r":(?:func|data|class|meth|attr|mod):`~?(?:[\w.]*\.)?([^`]+)`")


def business_title(name: str) -> str:
    """A function's name as a heading in words: ``segment_country_matrix`` -> "Segment country matrix",
    ``kpi_summary`` -> "KPI summary", ``p_alive_matrix`` -> "P alive matrix" (read with the text below it)."""
    words = [_TITLE_WORDS.get(w, w) for w in name.split("_") if w]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


def rendered_text(doc: str) -> str:
    """A docstring as Markdown for reading: reST literals become code, roles their short target name,
    and a heading line's underline is dropped (bullets, emphasis and paragraphs are Markdown already)."""
    text = _ROLE.sub(lambda m: f"`{m.group(1).split('.')[-1]}`", doc)
    text = re.sub(r"``([^`]+)``", r"`\1`", text)
    lines = [line for line in text.splitlines() if not re.fullmatch(r"\s*[-=~^]{3,}\s*", line)]
    return "\n".join(lines)


#: Where each group of labels is defined in words (module docstrings shown whole on the glossary page): the
#: segment rules, the monthly lifecycle states, month-end membership, the CLV classes and the churn-risk bands.
LABEL_DEFINITIONS: dict[str, str] = {
    **{scheme: "segments.rules" for scheme in SCHEME_LABELS},
    "lifecycle": "segments.lifecycle",
    "month_end": "segments.monthly",
    "clv_class": "models.clv",
    "tier_clv": "segments.clv_audiences",
    "risk_band": "models.churn",
    "churn_trend": "segments.churn_trend",
}


def definition_text(module: str) -> str:
    """The docstring of ``metrics.<module>`` (empty when the module is missing)."""
    found = _module(module)
    return _doc(found) if found else ""


def _swatch(colour: str) -> html.Span:
    return html.Span(className="swatch", style={"backgroundColor": colour})


METRIC_LIST, MEASURE_ROWS, SEARCH = "glossary-metric-list", "glossary-measure-rows", "glossary-search"


def _matches(query: str, *texts: str) -> bool:
    words = query.lower().split()
    haystack = " ".join(texts).lower()
    return all(w in haystack for w in words)


def measure_rows(query: str = "") -> list[html.Tr]:
    """The measures table's rows (those whose name or definition holds every word of ``query``)."""
    return [html.Tr([html.Td(m.label, className="fw-semibold"),
                     html.Td(m.definition),
                     html.Td("KPI card" if m.name in KPI_MEASURES else ""),
                     html.Td("higher" if m.higher_is_better else "lower"),
                     html.Td("yes" if m.additive else "no"),
                     html.Td("yes" if m.segment_meaning else "brand only")])
            for m in MEASURES.values() if _matches(query, m.label, m.definition, m.name)]


def metric_entries(query: str = "") -> list:
    """One entry per metric function, titled in words, its definition rendered as text (and the function's
    place in the code, for analysts, in small print); filtered like :func:`measure_rows`."""
    items = [
        dbc.AccordionItem([dcc.Markdown(rendered_text(doc), className="glossary-text small"),
                           html.Small(f"In the code: metrics.{module}.{fname}", className="text-muted")],
                          title=business_title(fname))
        for module, fname, doc in metric_functions() if _matches(query, business_title(fname), doc, fname)
    ]
    if not items:
        return [html.P("No definition matches the search.", className="text-muted small mb-0")]
    return [dbc.Accordion(items, start_collapsed=True, always_open=True, flush=True)]


def glossary_sections() -> list:
    kpi_rows = measure_rows()
    kpis = dbc.Card([dbc.CardHeader(html.H6("Measures", className="mb-0")), dbc.CardBody([
        html.P(f"Every measure is defined once, here as in the code. Every KPI card also shows the change "
               f"versus the preceding range of equal length. Sales exclude returned and same-day-cancelled "
               f"orders. Repeat-rate target: {REPEAT_RATE_TARGET:.0%}.", className="small"),
        dbc.Table([html.Thead(html.Tr([html.Th("Measure"), html.Th("Definition"), html.Th(""),
                                       html.Th("Better when"), html.Th("Adds across segments"),
                                       html.Th("Per segment")])),
                   html.Tbody(kpi_rows, id=MEASURE_ROWS)], size="sm", striped=True, responsive=True,
                  className="mb-0"),
    ])], className="mb-3 shadow-sm", id="glossary-kpis")

    schemes = []
    for scheme, labels in (*SCHEME_LABELS.items(), ("lifecycle", LIFECYCLE_LABELS)):
        colours = scheme_colours(scheme)
        schemes.append(html.Div([
            html.Span(SCHEME_TITLES.get(scheme, "Lifecycle (monthly)"), className="fw-semibold me-2"),
            *[html.Span([_swatch(colours[label]), label], className="me-3 text-nowrap") for label in labels],
        ], className="mb-1 small"))
    def doc_block(title: str, module: str) -> list:
        text = definition_text(module)
        return [html.H6(title, className="mt-3"), html.Pre(text, className="glossary-doc")] if text else []

    segments = dbc.Card([dbc.CardHeader(html.H6("Segments and their colours", className="mb-0")), dbc.CardBody([
        *schemes,
        *doc_block("Segment rules", LABEL_DEFINITIONS["loyalty"]),
        *doc_block("RFM scores", "segments.rfm"),
        *doc_block("Lifecycle states (monthly)", LABEL_DEFINITIONS["lifecycle"]),
        *doc_block("Segments month by month", LABEL_DEFINITIONS["month_end"]),
        *doc_block("Tier × CLV class audiences", LABEL_DEFINITIONS["tier_clv"]),
    ])], className="mb-3 shadow-sm", id="glossary-segments")

    metrics = dbc.Card([dbc.CardHeader(html.H6("Metric definitions", className="mb-0")), dbc.CardBody(
        html.Div(metric_entries(), id=METRIC_LIST))], className="mb-3 shadow-sm", id="glossary-metrics")
    tables = dbc.Card([dbc.CardHeader(html.H6("Exportable tables", className="mb-0")), dbc.CardBody([
        html.P("Every table below can be written with `custintel export NAME` under the same filters as the "
               "dashboard (and every table on a page has an Export CSV button).", className="small"),
        dbc.Table([html.Thead(html.Tr([html.Th("Table"), html.Th("What it holds"), html.Th("Options")])),
                   html.Tbody([html.Tr([html.Td(html.Code(name)), html.Td(spec.description),
                                        html.Td(", ".join(f"--{o}" for o in spec.options))])
                               for name, spec in EXPORTS.items() if spec.available()])],
                  size="sm", striped=True, responsive=True, className="mb-0"),
    ])], className="mb-3 shadow-sm", id="glossary-tables")
    models = dbc.Card([dbc.CardHeader(html.H6("Churn and CLV models", className="mb-0")), dbc.CardBody([
        html.Ul([html.Li([html.Strong(info.label + ": "), info.description]) for info in PURCHASE_MODEL_INFO.values()],
                className="small"),
        *[html.Pre(text, className="glossary-doc") for text in (
            _doc(model_population), definition_text("models.choice"),
            *[definition_text(LABEL_DEFINITIONS[key]) for key in ("risk_band", "churn_trend", "clv_class")]) if text],
        html.P("Six different \"at risk\" notions, each with its own colour: the High churn-risk band and the "
               "KPI \"High churn risk (≥ 70 %)\" are a model's probability that the customer has stopped "
               "buying; the loyalty tier At-Risk, the RFM cell At Risk, the behaviour segment At-Risk / Dormant, "
               "the income quadrant At Risk and the monthly lifecycle state At Risk are rules on recency, "
               "frequency, spend or income (see Segments).", className="small mb-0"),
    ])], className="mb-3 shadow-sm", id="glossary-models")
    return [kpis, segments, models, metrics, tables]
