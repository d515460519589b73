"""The trend chart: one or two measures per period on a category axis of period labels.

Periods are labelled in words ("Jan 2024", "2024 Q1", "1 Jan 24" for the week starting on that Monday,
"2024"), so a single period never becomes a lone dot on a millisecond time axis: with fewer than two
periods the chart draws bars and says that the grain is too coarse for a trend. Periods the range covers
only in part are labelled "(partial)" and drawn with hollow markers, so a short first or last week does
not read as a drop.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import plotly.graph_objects as go

from components.charts import style_figure

#: d3 formats per measure display format, for hover values and for axis ticks.
VALUE_FORMATS = {"int": ",.0f", "money": "$,.2f", "pct": ".1%", "days": ",.1f", "float": ",.2f"}
AXIS_FORMATS = {"int": ",.0f", "money": "$,.0f", "pct": ".0%", "days": ",.0f", "float": ",.1f"}
PARTIAL = " (partial)"


@dataclass(frozen=True)
class Series:
    """One line of the chart: ``frame`` has ``period`` (timestamps) and ``value``, optionally ``partial``."""

    name: str
    frame: pd.DataFrame
    fmt: str
    colour: str
    secondary: bool = False
    dashed: bool = False


def period_label(period: pd.Timestamp, grain: str, partial: bool = False) -> str:
    """A period in words: "1 Jan 24" (the week's Monday), "Jan 2024", "2024 Q1", "2024" (+ " (partial)")."""
    ts = pd.Timestamp(period)
    text = {"week": f"{ts.day} {ts:%b %y}", "month": f"{ts:%b %Y}",
            "quarter": f"{ts.year} Q{(ts.month - 1) // 3 + 1}", "year": f"{ts.year}"}[grain]
    return text + (PARTIAL if partial else "")


def _labels(frame: pd.DataFrame, grain: str) -> list[str]:
    partial = frame["partial"] if "partial" in frame else pd.Series(False, index=frame.index)
    return [period_label(p, grain, bool(q)) for p, q in zip(frame["period"], partial, strict=True)]


def trend_figure(series: list[Series], grain: str, *, height: int = 380, y_title: str = "",
                 y2_title: str = "") -> go.Figure:
    """The figure of :class:`Series` sharing one period axis (a secondary series on a right axis)."""
    fig = go.Figure()
    periods = len(series[0].frame) if series else 0
    single = periods < 2
    for s in series:
        labels = _labels(s.frame, grain)
        partial = s.frame["partial"].tolist() if "partial" in s.frame else [False] * len(labels)
        when = "Week of %{x}" if grain == "week" else "%{x}"
        hover = f"{when}<br>{s.name}: %{{y:{VALUE_FORMATS[s.fmt]}}}<extra></extra>"
        axis = {"yaxis": "y2"} if s.secondary else {}
        if single:
            fig.add_bar(x=labels, y=s.frame["value"], name=s.name, marker_color=s.colour, hovertemplate=hover,
                        offsetgroup="2" if s.secondary else "1", **axis)
            continue
        symbols = ["circle-open" if p else "circle" for p in partial]
        fig.add_scatter(x=labels, y=s.frame["value"], name=s.name, mode="lines+markers", hovertemplate=hover,
                        line={"color": s.colour, "width": 2, "dash": "dot" if s.dashed else "solid"},
                        marker={"symbol": symbols, "size": 7, "color": s.colour}, **axis)
    fig.update_xaxes(type="category", title="")
    primary = next((s for s in series if not s.secondary), None)
    secondary = next((s for s in series if s.secondary), None)
    if primary is not None:
        fig.update_yaxes(title=y_title or primary.name, tickformat=AXIS_FORMATS[primary.fmt], rangemode="tozero")
    if secondary is not None:
        fig.update_layout(yaxis2={"title": y2_title or secondary.name, "overlaying": "y", "side": "right",
                                  "showgrid": False, "tickformat": AXIS_FORMATS[secondary.fmt],
                                  "rangemode": "tozero"})
    if single and series:
        fig.add_annotation(text=f"The range spans a single {grain}: choose a finer grain to see a trend.",
                           x=0.5, y=1.12, xref="paper", yref="paper", showarrow=False,
                           font={"size": 12, "color": "#6c757d"})
        fig.update_layout(barmode="group")
    return style_figure(fig, height=height)
