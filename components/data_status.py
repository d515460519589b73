"""What a page shows when the data cannot be served: one banner in the notices area, never a 500.

Data errors (a missing table, a file that is not readable Parquet, a contract violation) raised in any page
callback reach :func:`on_callback_error`, the app's callback error handler: it puts the message in the
notices area above the page and leaves the page's outputs as they were. Errors of the code are raised on.
:func:`data_notice` is the banner shown while new data that failed to open is waiting and the previous
data is still being served.
"""

from __future__ import annotations

import time
from typing import Any

import dash_bootstrap_components as dbc
from dash import html, set_props

from metrics.engine import data_problem, describe_data_error, is_data_error

#: id of the notices area under the filter bar (the filter bar's sync callback writes it too)
NOTICES = "filter-notices"


def data_error_banner(message: str) -> dbc.Alert:
    return dbc.Alert([html.Strong("The data cannot be read: "), message,
                      html.Div("Fix or re-import the data (custintel validate names the problem); this page "
                               "updates once the data can be read.", className="small mt-1")],
                     color="danger", className="py-2 mb-2", id="data-error-alert")


def data_notice() -> dbc.Alert | None:
    """Banner for new data that was refused while the previous data stays in service (None otherwise)."""
    problem = data_problem()
    if problem is None:
        return None
    since = time.strftime("%Y-%m-%d %H:%M", time.localtime(problem.since))
    return dbc.Alert([html.Strong("New data was not loaded: "), problem.message,
                      html.Div(f"The pages show the data loaded before {since}.", className="small mt-1")],
                     color="warning", className="py-2 mb-2", id="data-problem-alert")


def on_callback_error(err: Exception) -> Any:
    """The app's callback error handler: data errors become the banner (the outputs stay unchanged)."""
    if not is_data_error(err):
        raise err
    set_props(NOTICES, {"children": data_error_banner(describe_data_error(err))})
    return None
