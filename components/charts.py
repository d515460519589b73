"""Chart building blocks: a titled frame that says what question a chart answers, the empty state, a
gauge and the shared figure styling. Figures receive small metric frames; no data work happens here."""

from __future__ import annotations

import dash_bootstrap_components as dbc
import plotly.graph_objects as go
import plotly.io as pio
from dash import dcc, html

from components.colours import OI_VERMILLION, SERIES_COLOURS, TEAL

EMPTY_MESSAGE = "No orders match these filters"
#: Plotly's modebar without its logo and without any button that sends a chart (or its hover data, such as
#: customer ids) to an outside service; the camera button is taken over by assets/page_output.js, which
#: names the PNG after the chart's title and the filter state and draws both into the image.
GRAPH_CONFIG = {"displaylogo": False, "responsive": True, "showLink": False, "sendData": False,
                "showSendToCloud": False, "showEditInChartStudio": False, "showTips": False,
                "modeBarButtonsToRemove": ["lasso2d", "select2d", "autoScale2d", "sendDataToCloud",
                                           "editInChartStudio"]}
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
TEMPLATE = "custintel"


def _register_template() -> str:
    """The dashboard's Plotly template (plotly_white + our font, margins, legend and colours), made the
    default once: a named template set per figure is deep-copied and costs ~17 ms, the default ~0.3 ms."""
    template = go.layout.Template(pio.templates["plotly_white"])
    template.layout.update(
        font={"family": FONT, "size": 12},
        margin={"l": 48, "r": 16, "t": 28, "b": 40},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0,
                "title": {"text": ""}, "traceorder": "normal"},
        hoverlabel={"font": {"family": FONT}},
        colorway=list(SERIES_COLOURS),
    )
    pio.templates[TEMPLATE] = template
    pio.templates.default = TEMPLATE
    return TEMPLATE


_register_template()


def style_figure(fig: go.Figure, *, height: int | None = None, legend: bool = True) -> go.Figure:
    """The common look (from the default template) plus the figure's height and legend switch."""
    fig.update_layout(showlegend=legend, **({"height": height} if height else {}))
    return fig


def empty_figure(message: str = EMPTY_MESSAGE, *, height: int | None = None) -> go.Figure:
    """A blank figure showing ``message`` in the middle (the empty state of every chart)."""
    fig = go.Figure()
    fig.add_annotation(text=message, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False,
                       font={"size": 15, "color": "#6c757d"})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    style_figure(fig, height=height, legend=False)
    fig.update_layout(meta={"empty": True})
    return fig


def chart_frame(title: str, question: str, graph_id: str | dict, *, height: int = 340,
                controls: object | None = None, footer: object | None = None,
                min_width: int | None = None) -> dbc.Card:
    """A card: title, the question the chart answers, optional controls, and the graph under a spinner.

    ``min_width`` (pixels) keeps a dense chart such as a heatmap readable on a narrow screen: below that
    width the chart scrolls sideways inside its card instead of squeezing its labels."""
    style = {"height": f"{height}px", **({"minWidth": f"{min_width}px"} if min_width else {})}
    header = [html.H6(title, className="mb-0 chart-title"),
              html.Small(question, className="text-muted chart-question")]
    body = [
        html.Div(controls, className="chart-controls mb-2") if controls is not None else None,
        html.Div(dcc.Loading(
            dcc.Graph(id=graph_id, figure=empty_figure("Loading…", height=height), config=GRAPH_CONFIG,
                      style=style),
            type="default", delay_show=250,
        ), className="chart-scroll"),
        html.Div(footer, className="chart-footer small text-muted mt-1") if footer is not None else None,
    ]
    return dbc.Card([dbc.CardHeader(header), dbc.CardBody([b for b in body if b is not None])],
                    className="chart-frame h-100 shadow-sm")


def gauge(value: float, target: float, *, title: str = "", height: int = 260, higher_is_better: bool = True,
          target_label: str | None = None) -> go.Figure:
    """A 0–100 % gauge of a share (0–1) with the target drawn as a line; green at/above target.

    ``higher_is_better=False`` (churn risk) turns it around: red at/above the line, green below it;
    ``target_label`` replaces the "target NN %" text under the gauge."""
    good = value >= target if higher_is_better else value < target
    colour = TEAL if good else OI_VERMILLION
    fig = go.Figure(go.Indicator(
        mode="gauge+number",
        value=round(value * 100, 1),
        number={"suffix": " %", "valueformat": ".1f"},
        title={"text": title} if title else None,
        gauge={
            "axis": {"range": [0, 100], "ticksuffix": "%", "tickvals": [0, 20, 40, 60, 80, 100]},
            "bar": {"color": colour, "thickness": 0.6},
            "threshold": {"line": {"color": "#212529", "width": 3}, "thickness": 0.9, "value": target * 100},
            "steps": [{"range": [0, target * 100], "color": "#F1F3F5"}],
        },
    ))
    style_figure(fig, height=height, legend=False)
    fig.update_layout(margin={"l": 44, "r": 44, "t": 24, "b": 8})
    fig.add_annotation(text=target_label or f"target {target * 100:.0f} %", x=0.5, y=0.02, xref="paper", yref="paper",
                       showarrow=False, font={"size": 12, "color": "#495057"})
    return fig


def segment_figure(frame, x: str, y: str, order: list[str], *, kind: str = "line", y_format: str = ",",
                   y_title: str = "", x_title: str = "", height: int = 340, hover_name: str = "",
                   scheme: str | None = None) -> go.Figure:
    """One trace per segment label (in ``order``, fixed colours): lines, stacked areas or stacked bars.

    ``frame`` is a long metric frame with a ``segment`` column; labels not in ``order`` follow it; colours
    are those of ``scheme``.
    """
    from components.colours import segment_colour

    labels = list(order) + [s for s in dict.fromkeys(frame["segment"]) if s not in order]
    fig = go.Figure()
    for label in labels:
        part = frame[frame["segment"] == label]
        if part.empty:
            continue
        colour = segment_colour(label, scheme)
        hover = f"{label}<br>%{{x}}<br>{hover_name or y_title}: %{{y:{y_format}}}<extra></extra>"
        if kind == "bar":
            fig.add_bar(x=part[x], y=part[y], name=label, marker_color=colour, hovertemplate=hover)
        else:
            fig.add_scatter(x=part[x], y=part[y], name=label, mode="lines", line={"color": colour, "width": 2},
                            stackgroup="one" if kind == "area" else None, hovertemplate=hover)
    if kind == "bar":
        fig.update_layout(barmode="stack", bargap=0.15)
    fig.update_yaxes(title=y_title, tickformat=y_format if y_format != "," else None)
    fig.update_xaxes(title=x_title)
    return style_figure(fig, height=height)
