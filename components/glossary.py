"""The in-app glossary, built from the code's own definitions: the measure registry
(:data:`metrics.measures.registry.MEASURES`), the segment-rule and RFM module docstrings, and the docstring of every
metric function (so the text always matches what is computed)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from types import ModuleType

import dash_bootstrap_components as dbc
from dash import html

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


def _swatch(colour: str) -> html.Span:
    return html.Span(className="swatch", style={"backgroundColor": colour})


def glossary_sections() -> list:
    kpi_rows = [html.Tr([html.Td(m.label, className="fw-semibold"),
                         html.Td(m.definition),
                         html.Td("KPI card" if m.name in KPI_MEASURES else ""),
                         html.Td("higher" if m.higher_is_better else "lower"),
                         html.Td("yes" if m.additive else "no"),
                         html.Td("yes" if m.segment_meaning else "brand only")]) for m in MEASURES.values()]
    kpis = dbc.Card([dbc.CardHeader(html.H6("Measures", className="mb-0")), dbc.CardBody([
        html.P(f"Every measure is defined once, here as in the code. Every KPI card also shows the change "
               f"versus the preceding range of equal length. Sales exclude returned and same-day-cancelled "
               f"orders. Repeat-rate target: {REPEAT_RATE_TARGET:.0%}.", className="small"),
        dbc.Table([html.Thead(html.Tr([html.Th("Measure"), html.Th("Definition"), html.Th(""),
                                       html.Th("Better when"), html.Th("Adds across segments"),
                                       html.Th("Per segment")])),
                   html.Tbody(kpi_rows)], size="sm", striped=True, responsive=True, className="mb-0"),
    ])], className="mb-3 shadow-sm", id="glossary-kpis")

    schemes = []
    for scheme, labels in (*SCHEME_LABELS.items(), ("lifecycle", LIFECYCLE_LABELS)):
        colours = scheme_colours(scheme)
        schemes.append(html.Div([
            html.Span(SCHEME_TITLES.get(scheme, "Lifecycle (monthly)"), className="fw-semibold me-2"),
            *[html.Span([_swatch(colours[label]), label], className="me-3 text-nowrap") for label in labels],
        ], className="mb-1 small"))
    segments_module = _module("segments.rules")
    rfm_module = _module("segments.rfm")
    segments = dbc.Card([dbc.CardHeader(html.H6("Segments and their colours", className="mb-0")), dbc.CardBody([
        *schemes,
        html.Pre(_doc(segments_module), className="glossary-doc mt-3") if segments_module else None,
        html.H6("RFM scores", className="mt-3"),
        html.Pre(_doc(rfm_module), className="glossary-doc") if rfm_module else None,
    ])], className="mb-3 shadow-sm", id="glossary-segments")

    items = [
        dbc.AccordionItem(html.Pre(doc, className="glossary-doc mb-0"),
                          title=f"{fname.replace('_', ' ').capitalize()}  ·  metrics.{module}.{fname}")
        for module, fname, doc in metric_functions()
    ]
    metrics = dbc.Card([dbc.CardHeader(html.H6("Metric definitions", className="mb-0")), dbc.CardBody(
        dbc.Accordion(items, start_collapsed=True, always_open=True, flush=True))],
        className="mb-3 shadow-sm", id="glossary-metrics")
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
            _doc(model_population), _doc(_module("models.choice")), _doc(_module("models.churn"))) if text],
        html.P("Six different \"at risk\" notions, each with its own colour: the High churn-risk band and the "
               "KPI \"High churn risk (≥ 70 %)\" are a model's probability that the customer has stopped "
               "buying; the loyalty tier At-Risk, the RFM cell At Risk, the behaviour segment At-Risk / Dormant, "
               "the income quadrant At Risk and the monthly lifecycle state At Risk are rules on recency, "
               "frequency, spend or income (see Segments).", className="small mb-0"),
    ])], className="mb-3 shadow-sm", id="glossary-models")
    return [kpis, segments, models, metrics, tables]
