"""Serving safely: optional HTTP basic authentication, security headers and request limits.

``install_security(server, settings)`` is called once by ``app.py`` right after the Dash app is built.
With ``CUSTINTEL_AUTH=user:password`` set, every request except the health check needs those
credentials (HTTP basic auth: use it behind HTTPS, or on a trusted network only). Without it, nothing is
asked, which is meant for the default bind address 127.0.0.1 (this machine only).

Dash registers its own lazy set-up hooks when the app is constructed, before this one, so the app's
warm-up request at import still wires the callbacks even when it is answered with 401.

Callback requests (``POST /_dash-update-component``) are checked before Dash sees them, and answered 400
when they are something the app's own page could never send: a broken envelope, an unknown callback, the
wrong number of inputs, a component id the layout does not declare (``app.validation_layout``, Dash's list
of every component that can exist, so a dynamically created component must be listed there), or a value of
a JSON type its component cannot produce (text for a URL or a date, a number for ``n_clicks``, a plain
value for a single-choice dropdown, text for the period dropdown ...). Real bugs in callbacks still
surface as 500s; only impossible requests are turned away.

Other hostile requests get a 4xx too: a JSON body nested deeper than :data:`service.limits.MAX_JSON_DEPTH`
(400, before the parser recurses), an ``Authorization`` header that is not decodable basic credentials (401),
a ``/_dash-component-suites/`` path Dash has not registered (404). Every response carries the
Content-Security-Policy and the safe headers of :mod:`service.headers`.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import threading
from collections.abc import Callable
from typing import Any

from dash.exceptions import DependencyException
from flask import Flask, Response, request

from metrics.settings import Settings
from service.headers import SECURITY_HEADERS, content_security_policy, dash_script_hashes
from service.limits import MAX_JSON_DEPTH, json_too_deep

#: Paths answered without credentials (load balancers and uptime checks need no password).
PUBLIC_PATHS: frozenset[str] = frozenset({"/health"})
#: Largest request body accepted; Dash callback payloads are a few kB.
MAX_REQUEST_BYTES = 1_000_000
REALM = "Customer Intelligence"
#: Where Dash serves its components' JavaScript from the installed packages.
COMPONENT_SUITES = "/_dash-component-suites/"
_MARK = "custintel_security"


def parse_credentials(auth: str) -> tuple[str, str]:
    """``"user:password"`` → (user, password); the password may itself contain ':'."""
    user, sep, password = auth.partition(":")
    if not sep or not user:
        raise ValueError("credentials must look like user:password")
    return user, password


def basic_auth_header(auth: str) -> dict[str, str]:
    """The ``Authorization`` header for ``user:password`` (for clients, tests and the load test)."""
    token = base64.b64encode(auth.encode("utf-8")).decode("ascii")
    return {"Authorization": f"Basic {token}"}


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """(user, password) of a ``Basic`` ``Authorization`` header, or None when it is anything else: another
    scheme, text that is not base64 (any byte a client sends, non-ASCII included), or no ':' inside."""
    scheme, _, token = (header or "").strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(token.strip().encode("ascii"), validate=True).decode("utf-8")
    except (UnicodeError, binascii.Error):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


def _matches(given: str | None, expected: str) -> bool:
    return hmac.compare_digest((given or "").encode("utf-8"), expected.encode("utf-8"))


def install_security(server: Flask, settings: Settings, *, max_request_bytes: int = MAX_REQUEST_BYTES) -> None:
    """Add basic auth (when ``settings.auth`` is set), security headers and body limits to ``server``.

    Calling it twice does nothing the second time. ``/health`` stays public.
    """
    if server.extensions.get(_MARK):
        return
    server.extensions[_MARK] = True
    server.config["MAX_CONTENT_LENGTH"] = max_request_bytes  # enforced when a view reads the body ...

    @server.before_request
    def refuse_large_bodies() -> Response | None:  # ... and here, before any work, from the declared length
        if request.content_length is not None and request.content_length > max_request_bytes:
            return Response("Request too large.\n", 413)
        return None

    if settings.auth:
        user, password = parse_credentials(settings.auth)

        @server.before_request
        def require_basic_auth() -> Response | None:
            if request.path in PUBLIC_PATHS:
                return None
            given = basic_credentials(request.headers.get("Authorization"))
            # Compare both parts every time, so the answer takes as long for a wrong user as a wrong password.
            ok_user = _matches(given[0] if given else None, user)
            ok_password = _matches(given[1] if given else None, password)
            if given is not None and ok_user and ok_password:
                return None
            return Response("Authentication required.\n", 401,
                            {"WWW-Authenticate": f'Basic realm="{REALM}", charset="UTF-8"'})

    @server.before_request
    def refuse_deep_json() -> Response | None:  # measured on the raw bytes: parsing it is what would fail
        if request.is_json and json_too_deep(request.get_data(cache=True)):
            return Response(f"JSON nested deeper than {MAX_JSON_DEPTH} levels.\n", 400,
                            {"Content-Type": "text/plain"})
        return None

    @server.before_request
    def guard_callback_requests() -> Response | None:
        if request.method != "POST" or not request.path.endswith("/_dash-update-component"):
            return None
        problem = callback_request_problem(request.get_json(silent=True))
        if problem is None:
            return None
        server.logger.warning("refused a callback request: %s", problem)
        return Response(f"Invalid callback request: {problem}.\n", 400, {"Content-Type": "text/plain"})

    @server.errorhandler(DependencyException)
    def unknown_component_file(error: DependencyException) -> Response:
        if COMPONENT_SUITES not in request.path:
            raise error  # raised elsewhere, it is a real fault: a 500 with its traceback in the log
        return Response("Not found.\n", 404, {"Content-Type": "text/plain"})

    @server.after_request
    def add_security_headers(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        dash_app = _dash_app()
        scripts = dash_script_hashes(dash_app if getattr(dash_app, "server", None) is server else None)
        response.headers.setdefault("Content-Security-Policy", content_security_policy(scripts))
        return response


def _dash_app() -> Any | None:
    """The Dash app of this process, or None (a plain Flask server, as in some tests)."""
    import dash

    try:
        return dash.get_app()
    except Exception:  # dash.get_app raises when no Dash app was built in this process
        return None


# ----- callback request guard ---------------------------------------------------------------------------

Scalar = (str, int, float, bool)


def _is_text(value: Any) -> bool:
    return value is None or isinstance(value, str)


def _text_starting(prefix: str) -> Callable[[Any], bool]:
    """Text that is empty or starts with ``prefix`` (what ``window.location`` parts look like)."""
    return lambda value: value is None or (isinstance(value, str) and (value == "" or value.startswith(prefix)))


def _is_count(value: Any) -> bool:
    return value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 0)


def _is_choice(value: Any) -> bool:
    return value is None or isinstance(value, Scalar)


def _is_choices(value: Any) -> bool:
    return value is None or isinstance(value, Scalar) or (
        isinstance(value, list) and all(isinstance(v, Scalar) for v in value))


def _is_object(value: Any) -> bool:
    return value is None or isinstance(value, dict)


#: (component class, property) -> what that component can send. Pairs not listed are not checked.
VALUE_RULES: dict[tuple[str, str], Callable[[Any], bool]] = {
    # a browser's pathname is never empty (at least "/"); Dash's page router fails on ""
    ("Location", "pathname"): lambda value: value is None or (isinstance(value, str) and value.startswith("/")),
    ("Location", "search"): _text_starting("?"),
    ("Location", "hash"): _text_starting("#"),
    ("Location", "href"): _is_text,
    **{("DatePickerRange", p): _is_text for p in ("start_date", "end_date")},
    ("DatePickerSingle", "date"): _is_text,
    ("RadioItems", "value"): _is_choice,
    ("Select", "value"): _is_choice,
    ("Input", "value"): _is_choice,
    ("Textarea", "value"): _is_text,
    ("Checklist", "value"): _is_choices,
    ("AgGrid", "cellClicked"): _is_object,
}

#: (component id, property) -> what that one component can send, where it is narrower than its class's rule.
#: The filter bar's period dropdown (``components.filter_bar.PERIOD``) only has text keys; an unknown key
#: is corrected by the filter-bar callback to the period matching the dates.
ID_RULES: dict[tuple[str, str], Callable[[Any], bool]] = {
    ("filter-period", "value"): _is_text,
}


def _rule(component: Any, prop: str) -> Callable[[Any], bool] | None:
    cid = getattr(component, "id", None)
    if isinstance(cid, str) and (cid, prop) in ID_RULES:
        return ID_RULES[(cid, prop)]
    name = type(component).__name__
    if prop in ("n_clicks", "n_submit", "n_blur"):
        return _is_count
    if name == "Dropdown" and prop == "value":
        return _is_choices if getattr(component, "multi", False) else _is_choice
    return VALUE_RULES.get((name, prop))


class _LayoutIndex:
    """Component ids declared by a Dash app's validation layout: plain ids and pattern ids (as sorted JSON)."""

    def __init__(self, layout: Any) -> None:
        self.plain: dict[str, Any] = {}
        self.patterned: dict[str, Any] = {}
        self._walk(layout)

    def _walk(self, node: Any) -> None:
        stack = [node]
        while stack:
            item = stack.pop()
            if isinstance(item, (list, tuple)):
                stack.extend(item)
                continue
            names = getattr(item, "_prop_names", None)
            if names is None:
                continue
            cid = getattr(item, "id", None)
            if isinstance(cid, str):
                self.plain.setdefault(cid, item)
            elif isinstance(cid, dict):
                self.patterned.setdefault(json.dumps(cid, sort_keys=True), item)
            for prop in names:
                value = getattr(item, prop, None)
                if isinstance(value, (list, tuple)) or hasattr(value, "_prop_names"):
                    stack.append(value)

    def find(self, component_id: Any) -> Any | None:
        if isinstance(component_id, str):
            return self.plain.get(component_id)
        if isinstance(component_id, dict):
            return self.patterned.get(json.dumps(component_id, sort_keys=True))
        return None


_INDEXES: dict[int, _LayoutIndex | None] = {}
_INDEX_LOCK = threading.Lock()


def _layout_index(dash_app: Any) -> _LayoutIndex | None:
    """The id index of the app's validation layout (built once; None while Dash has not set it up)."""
    key = id(dash_app)
    with _INDEX_LOCK:
        if _INDEXES.get(key) is None:
            layout = getattr(dash_app, "validation_layout", None)
            _INDEXES[key] = _LayoutIndex(layout) if layout is not None else None
        return _INDEXES[key]


def _is_id(value: Any) -> bool:
    if isinstance(value, str):
        return 0 < len(value) <= 200
    return isinstance(value, dict) and 0 < len(value) <= 10 and all(
        isinstance(k, str) and isinstance(v, Scalar) and len(str(v)) <= 200 for k, v in value.items())


def _items(entry: Any) -> list[Any] | None:
    """A request entry is one {id, property[, value]} or, for ALL wildcards, a list of them."""
    items = entry if isinstance(entry, list) else [entry]
    if len(items) > 500 or not all(isinstance(i, dict) and _is_id(i.get("id")) and isinstance(i.get("property"), str)
                                    for i in items):
        return None
    return items


def callback_request_problem(body: Any, dash_app: Any = None) -> str | None:
    """Why a ``/_dash-update-component`` body cannot come from the app's own page, or None if it can."""
    if not isinstance(body, dict):
        return "the body is not a JSON object"
    output = body.get("output")
    if not isinstance(output, str):
        return "no output"
    if dash_app is None:
        dash_app = _dash_app()  # None: no Dash app in this process, only the envelope can be checked
    spec = getattr(dash_app, "callback_map", {}).get(output) if dash_app is not None else None
    if dash_app is not None and spec is None:
        return "unknown callback"
    outputs = body.get("outputs")
    if not isinstance(outputs, (dict, list)) or not isinstance(body.get("inputs"), list):
        return "outputs or inputs missing"
    changed = body.get("changedPropIds", [])
    if not isinstance(changed, list) or not all(isinstance(c, str) for c in changed):
        return "changedPropIds is not a list of text"
    state = body.get("state", [])
    if not isinstance(state, list):
        return "state is not a list"
    if spec is not None:
        if len(body["inputs"]) != len(spec.get("inputs", [])) or len(state) != len(spec.get("state", [])):
            return "wrong number of inputs or state"
        expected = [s.get("property") for s in spec.get("inputs", []) + spec.get("state", [])]
    else:
        expected = None
    index = _layout_index(dash_app) if dash_app is not None else None
    entries = [("input", e) for e in body["inputs"]] + [("state", e) for e in state]
    output_entries = outputs if isinstance(outputs, list) else [outputs]
    for position, (kind, entry) in enumerate(entries):
        items = _items(entry)
        if items is None:
            return f"malformed {kind}"
        for item in items:
            if expected is not None and item["property"] != expected[position]:
                return f"unexpected {kind} property"
            if index is None:
                continue
            component = index.find(item["id"])
            if component is None:
                return f"{kind} names a component the layout does not declare"
            rule = _rule(component, item["property"])
            if rule is not None and not rule(item.get("value")):
                return f"{kind} value of a type {type(component).__name__}.{item['property']} cannot have"
    for entry in output_entries:
        items = _items(entry)
        if items is None:
            return "malformed output"
        if index is not None and any(index.find(item["id"]) is None for item in items):
            return "output names a component the layout does not declare"
    return None


__all__ = ["COMPONENT_SUITES", "ID_RULES", "MAX_REQUEST_BYTES", "PUBLIC_PATHS", "SECURITY_HEADERS", "VALUE_RULES",
           "basic_auth_header", "basic_credentials", "callback_request_problem", "install_security",
           "parse_credentials"]
