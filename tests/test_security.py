"""Hostile requests get a 4xx, never a 500 (deep JSON, oversized bodies, tampered exports, undecodable
credentials, component files Dash does not serve), and every page carries the Content-Security-Policy with
the hashes of exactly the inline scripts it contains."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any

import pytest
from flask import Flask

from metrics.settings import Settings
from service.limits import MAX_JSON_DEPTH, json_depth, json_too_deep
from service.security import MAX_REQUEST_BYTES, basic_auth_header, basic_credentials, install_security
from tests.test_fuzz_filters import app_module, callbacks, client, payload, post, small_dir  # noqa: F401

# ----- JSON depth, measured without parsing -----------------------------------------------------------------


def _parsed_depth(value: Any) -> int:
    """The nesting of a parsed JSON value (the independent count)."""
    if isinstance(value, list):
        return 1 + max(map(_parsed_depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(_parsed_depth, value.values()), default=0)
    return 0


@pytest.mark.parametrize("value", [
    1, "text", [], {}, [[]], {"a": [1, {"b": None}]}, ["[[[", "]]", {"k": "\\\"[{"}], {"[": {"]": ["{}"]}},
    [[1, [2, [3]]], [[[[[]]]]]], {"output": "x", "inputs": [[{"id": {"type": "t", "index": "["}, "value": "}"}]]},
])
def test_json_depth_matches_the_parsed_nesting(value):
    text = json.dumps(value).encode()
    assert json_depth(text) == _parsed_depth(json.loads(text))
    assert json_too_deep(text, _parsed_depth(value)) is False
    assert json_too_deep(text, _parsed_depth(value) - 1) is (_parsed_depth(value) > 0)


# ----- the running app ----------------------------------------------------------------------------------------


def nested(depth: int, kind: str) -> bytes:
    return b"[" * depth + b"]" * depth if kind == "list" else b'{"a":' * depth + b"1" + b"}" * depth


@pytest.fixture(scope="module")
def filter_callback(callbacks) -> dict[str, Any]:  # noqa: F811
    return next(c for c in callbacks if any(i["id"] == "filter-dates" for i in c["inputs"]))


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 1000, 5000, 10000])
@pytest.mark.parametrize("kind", ["list", "object", "in a callback"])
def test_deep_json_is_refused_before_it_is_parsed(client, filter_callback, depth, kind):  # noqa: F811
    if kind == "in a callback":  # a real callback whose first input value is the deep part
        body = json.dumps(payload(filter_callback, ["?"] + [None] * 8, [])).encode()
        body = body.replace(b'"value": "?"', b'"value": ' + nested(depth - 3, "list"), 1)  # 3 levels above it
        assert json_depth(body) == depth
    else:
        body = nested(depth, kind)
    response = client.post("/_dash-update-component", data=body, content_type="application/json")
    assert response.status_code == 400 and b"nested deeper" in response.data


def test_json_as_deep_as_allowed_reaches_the_callback_guard(client, filter_callback):  # noqa: F811
    body = json.dumps(payload(filter_callback, ["?"] + [None] * 8, [])).encode()
    body = body.replace(b'"value": "?"', b'"value": ' + nested(MAX_JSON_DEPTH - 3, "list"), 1)
    response = client.post("/_dash-update-component", data=body, content_type="application/json")
    # the depth passes; the guard then refuses a list where the URL's search text belongs
    assert response.status_code == 400 and b"Location.search" in response.data


def test_an_oversized_body_is_refused(client):  # noqa: F811
    body = b'{"output": "' + b"x" * MAX_REQUEST_BYTES + b'"}'
    response = client.post("/_dash-update-component", data=body, content_type="application/json")
    assert response.status_code == 413


# ----- the export callback --------------------------------------------------------------------------------


def export_body(callbacks, table_id: str, state: Any, xlsx: bool = False) -> dict[str, Any]:  # noqa: F811
    export = next(c for c in callbacks if "table-download" in c["output"])
    body = payload(export, [None, 1] if xlsx else [1, None], [state], table_id)
    body["changedPropIds"] = [json.dumps({"index": table_id, "type": "table-export-xlsx" if xlsx else "table-export"},
                                         separators=(",", ":")) + ".n_clicks"]
    return body


QUERY = "start=2023-07-01&end=2024-06-30"
BAD_EXPORTS = [
    ("executive-segments", {"scheme": "no-such-scheme"}),  # text of the right type the table refuses
    ("executive-segments", {"scheme": ["loyalty"]}),
    ("executive-segments", {"scheme": {"loyalty": 1}}),
    ("executive-segments", {"scheme": 3}),
    ("executive-segments", {"scheme": None}),
    ("executive-segments", {"scheme": "loyalty", "limit": 5}),  # unknown parameter
    ("executive-segments", {"__class__": "x"}),
    ("executive-segments", ["scheme", "loyalty"]),  # parameters that are not an object
    ("executive-segments", "scheme=loyalty"),
    ("segmentation-demographics", {"dimension": "password"}),
    ("segmentation-demographics", {"dimension": True}),
    ("loyalty-audience", {"tier": 1}),
    ("customer-search", {"text": "x" * 1000}),
    ("customer-orders", {"customer_id": [1, 2]}),
    ("risk-actions", {"limit": None}),  # a table without parameters
]


@pytest.mark.parametrize(("table_id", "params"), BAD_EXPORTS)
@pytest.mark.parametrize("xlsx", [False, True])
def test_export_with_parameters_the_table_does_not_take_is_a_client_error(client, callbacks, table_id,  # noqa: F811
                                                                          params, xlsx):
    response = post(client, export_body(callbacks, table_id, {"query": QUERY, "params": params}, xlsx))
    assert response.status_code == 400, response.get_data(as_text=True)[:300]


@pytest.mark.parametrize("state", [["query"], "query", 5, {"query": 5, "params": {}}, {"query": ["a"]}])
def test_export_with_a_state_its_grid_never_stores_is_a_client_error(client, callbacks, state):  # noqa: F811
    response = post(client, export_body(callbacks, "executive-segments", state))
    assert response.status_code == 400


def test_export_before_the_grid_is_filled_does_nothing(client, callbacks):  # noqa: F811
    assert post(client, export_body(callbacks, "executive-segments", None)).status_code == 204


@pytest.mark.parametrize(("table_id", "params"), [("executive-segments", {"scheme": "rfm"}),
                                                  ("segmentation-demographics", {"dimension": "country"}),
                                                  ("customer-search", {"text": "a"}), ("risk-actions", {})])
def test_a_real_export_still_sends_the_table(app_module, client, callbacks, table_id, params):  # noqa: F811
    from components.tables import table_frame

    response = post(client, export_body(callbacks, table_id, {"query": QUERY, "params": params}))
    assert response.status_code == 200
    download = next(v for k, v in response.get_json()["response"].items() if "table-download" in k)["data"]
    frame, _ = table_frame(table_id, QUERY, params)
    lines = download["content"].lstrip("\ufeff").splitlines()
    assert len(lines) == len(frame) + 1 and download["filename"].endswith(".csv")


# ----- component files -----------------------------------------------------------------------------------------

BAD_SUITE_PATHS = [
    "dash/../../etc/passwd", "dash/..%2f..%2fapp.py", "dash/%2e%2e/%2e%2e/app.py", "nope/x.js", "os/path.js",
    "sys/a", "dash/x.js", "dash/%00.js", "dash/%ff.js", "%ff/x.js", "dash/a.b.c.d", "dash/deps/polyfill@7.v4_4_1m1.js",
    "plotly/package_data/plotly.min.js%00.png", "dash/dcc/dash_core_components.js/..", "dash_ag_grid/%c0%ae%c0%ae/x",
]


@pytest.mark.parametrize("path", BAD_SUITE_PATHS)
def test_component_files_dash_does_not_serve_are_not_found(client, path):  # noqa: F811
    assert client.get(f"/_dash-component-suites/{path}").status_code == 404


def test_the_component_files_a_page_loads_are_served(client):  # noqa: F811
    html = client.get("/").get_data(as_text=True)
    sources = re.findall(r'<script src="(/_dash-component-suites/[^"]+)"', html)
    assert len(sources) >= 5
    assert all(client.get(src).status_code == 200 for src in sources)


def test_a_dependency_error_elsewhere_stays_a_server_error():
    from dash.exceptions import DependencyException

    server = Flask("t")

    def broken() -> str:
        raise DependencyException("a real fault")

    server.add_url_rule("/broken", "broken", broken)
    install_security(server, Settings())
    assert server.test_client().get("/broken").status_code == 500


# ----- credentials ---------------------------------------------------------------------------------------------

AUTH = "ann:pä:ss"  # a non-ASCII password with a ':' in it


def _basic(raw: bytes) -> str:
    return "Basic " + base64.b64encode(raw).decode("ascii")


BAD_AUTHORIZATION = [
    "Basic \xe9", "Basic dTpw\xff", "Basic w6k6cA==\xe9", _basic(b"ann:p\xe4:ss"),  # latin-1, not UTF-8
    _basic(b"\xff\xfe:\x80"), "Basic", "Basic ", "Basic ====", "Basic Zm9v", "Basic !!!!", "Basic " + "A" * 5000,
    _basic(b":"), _basic(b"ann"), "Bearer " + _basic(AUTH.encode())[6:], 'Digest username="\xe9"', "\x00\x01",
    _basic(b"ann:p\xc3\xa4:ss\x00"),
]


@pytest.fixture(scope="module")
def guarded() -> Any:
    server = Flask("guarded")
    server.add_url_rule("/", "home", lambda: "home")
    install_security(server, Settings(auth=AUTH))
    return server.test_client()


@pytest.mark.parametrize("header", BAD_AUTHORIZATION)
def test_undecodable_or_wrong_credentials_are_asked_for_again(guarded, header):
    response = guarded.get("/", headers={"Authorization": header})
    assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Basic")


def test_right_credentials_in_any_spelling_of_the_scheme_pass(guarded):
    token = basic_auth_header(AUTH)["Authorization"].split(" ", 1)[1]
    for header in (f"Basic {token}", f"basic {token}", f"  BASIC   {token} "):
        assert guarded.get("/", headers={"Authorization": header}).status_code == 200, header
    assert basic_credentials(f"Basic {token}") == ("ann", "pä:ss")


# ----- headers -------------------------------------------------------------------------------------------------

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>(.*?)</script>", re.DOTALL)


def directives(policy: str) -> dict[str, list[str]]:
    parts = [p.split() for p in policy.split(";") if p.strip()]
    return {p[0]: p[1:] for p in parts}


@pytest.mark.parametrize("path", ["/", "/engagement", "/risk", "/loyalty", "/segmentation", "/customer",
                                  "/glossary", "/no-such-page"])
def test_every_page_has_a_csp_allowing_exactly_its_inline_scripts(client, path):  # noqa: F811
    response = client.get(path)
    assert response.status_code == 200
    policy = directives(response.headers["Content-Security-Policy"])
    html = re.sub(r"<!--.*?-->", "", response.get_data(as_text=True), flags=re.DOTALL)  # (an IE-only note)
    scripts = INLINE_SCRIPT.findall(html)
    assert scripts, "Dash's pages start the renderer from an inline script"
    hashes = {"'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'" for s in scripts}
    assert policy["default-src"] == ["'self'"] and policy["frame-ancestors"] == ["'self'"]
    assert set(policy["script-src"]) == {"'self'"} | hashes  # no 'unsafe-inline', no 'unsafe-eval'
    sources = [source for values in policy.values() for source in values]
    assert not any(":" in source and source not in ("data:", "blob:") for source in sources)  # no other origin
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_csp_on_a_plain_server_allows_no_inline_script():
    server = Flask("plain")
    server.add_url_rule("/", "home", lambda: "home")
    install_security(server, Settings())
    policy = directives(server.test_client().get("/").headers["Content-Security-Policy"])
    assert policy["script-src"] == ["'self'"] and policy["object-src"] == ["'none'"]
