"""A titled card: the title, the question it answers, and its body (a table, a list filled by a callback, ...).

Charts have their own card, :func:`components.charts.chart_frame`.
"""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
from dash import html


def question_card(title: str, question: str, body: Any = None, *, body_id: str | None = None,
                  full_height: bool = False) -> dbc.Card:
    """A card headed by ``title`` and the ``question`` it answers, with ``body`` as its content; ``body_id``
    names the body (for a callback that fills it); ``full_height`` stretches the card to its row's height."""
    header = dbc.CardHeader([html.H6(title, className="mb-0"), html.Small(question, className="text-muted")])
    card_body = dbc.CardBody(body) if body_id is None else dbc.CardBody(body, id=body_id)
    return dbc.Card([header, card_body], className="shadow-sm h-100" if full_height else "shadow-sm")
