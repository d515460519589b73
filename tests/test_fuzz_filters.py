"""Hostile input: random and malicious filter query strings against ``Filters.from_query`` and the running
app (pages and every server-side callback through the Flask test client) must never cause an exception or a
500. Hypothesis runs derandomised (the same examples every run), so the test is deterministic."""

from __future__ import annotations

import base64
import importlib
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metrics.filters import MAX_COUNTRIES, PRIME_CHOICES, Filters
from metrics.segments.labels import SCHEME_LABELS
from tests.app_support import app_over

LO, HI = date(2021, 1, 2), date(2024, 12, 31)
KNOWN = ("Germany", "France", "United States", "Côte d'Ivoire")
DEFAULT = Filters(date(2024, 1, 1), HI)
FUZZ = settings(max_examples=600, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
_APP_CHECKS = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture]
APP_FUZZ = settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=_APP_CHECKS)
#: every example posts to every callback (~25 requests), some of them computing metrics for a new filter state
CALLBACK_FUZZ = settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=_APP_CHECKS)
TYPED_FUZZ = settings(max_examples=6, deadline=None, derandomize=True, suppress_health_check=_APP_CHECKS)

# ----- strategies --------------------------------------------------------------------------------------------

SQLISH = ["' OR 1=1 --", "'; DROP TABLE fact_orders; --", "1) UNION SELECT * FROM dim_customer --", "%' --",
          "\" OR \"\"=\"", "${jndi:ldap://x}", "<script>alert(1)</script>", "../../etc/passwd", "\x00", "NaN",
          "Infinity", "-1", "1e309", "null", "[]", "{}", "=cmd|' /C calc'!A0"]
ABSURD_DATES = ["0001-01-01", "9999-12-31", "2024-02-30", "2024-13-01", "2024-00-10", "24-01-01", "2024-1-1",
                "20240101", "2024-01-01T25:00", "2024-01-01' OR '1'='1", "1900-01-01", "2100-01-01", "",
                "2024-01-01" + "9" * 500, "２０２４-０１-０１"]


def _dates() -> st.SearchStrategy[str]:
    real = st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)).map(date.isoformat)
    return st.one_of(real, st.sampled_from(ABSURD_DATES), st.text(max_size=30))


def _values() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(SQLISH), st.sampled_from(PRIME_CHOICES), st.sampled_from(KNOWN), st.sampled_from(ABSURD_DATES),
        st.sampled_from([label for labels in SCHEME_LABELS.values() for label in labels]),
        st.sampled_from(list(SCHEME_LABELS)), st.text(max_size=80), st.text(min_size=61, max_size=70),
        st.integers().map(str), st.floats().map(str),
    )


KEYS = st.sampled_from(["start", "end", "prime", "country", "scheme", "segment", "id", "Start", "country[]",
                        "", "__class__", "start ", "a" * 300])


@st.composite
def queries(draw) -> str:
    """Query strings: structured pairs, many countries, huge and raw text, broken percent-encoding."""
    kind = draw(st.integers(0, 6))
    if kind == 0:
        return draw(st.text(max_size=300))
    if kind == 6:  # more fields than the parsers accept, each one short
        return draw(st.sampled_from(["a", "start=2024-01-01", "id=1", "&", "country=X"])) * draw(st.integers(150, 900))
    if kind == 1:
        return "&".join(draw(st.lists(st.text(max_size=30), max_size=30)))
    if kind == 2:  # huge
        return "country=" + "&country=".join(draw(st.lists(st.sampled_from((*KNOWN, "X")), min_size=40,
                                                                    max_size=400)))
    if kind == 3:
        raw = draw(st.lists(st.tuples(KEYS, _values()), max_size=12))
        return draw(st.sampled_from(["", "?"])) + "&".join(f"{k}={v}" for k, v in raw)  # unescaped
    pairs = [("start", draw(_dates())), ("end", draw(_dates()))]
    pairs += draw(st.lists(st.tuples(KEYS, _values()), max_size=10))
    pairs += [("country", c) for c in draw(st.lists(st.sampled_from((*KNOWN, "Atlantis")), max_size=8))]
    text = urlencode(pairs)
    if kind == 5:
        text += draw(st.sampled_from(["%", "%ZZ", "%E2%82", "&&&", "=", ";", "#frag", "%00"]))
    return text


# ----- Filters.from_query ------------------------------------------------------------------------------------


def _check(filters: Filters, notices: list[str], bounded: bool) -> None:
    assert isinstance(filters, Filters)
    assert all(isinstance(n, str) for n in notices)
    assert filters.start <= filters.end
    if bounded:
        assert LO <= filters.start <= filters.end <= HI
    assert filters.prime in PRIME_CHOICES
    assert set(filters.countries) <= set(KNOWN) and len(filters.countries) <= MAX_COUNTRIES
    if filters.focus is not None:
        assert filters.focus.label in SCHEME_LABELS[filters.focus.scheme]
    again, again_notices = Filters.from_query(filters.to_query(), DEFAULT, KNOWN, (LO, HI) if bounded else None)
    assert again == filters and again_notices == []  # a corrected link is a clean link


@FUZZ
@given(query=queries(), bounded=st.booleans())
def test_from_query_never_fails_and_always_gives_valid_filters(query, bounded):
    filters, notices = Filters.from_query(query, DEFAULT, KNOWN, (LO, HI) if bounded else None)
    _check(filters, notices, bounded)


@FUZZ
@given(value=st.one_of(st.none(), st.integers(), st.floats(), st.lists(st.text(max_size=5), max_size=3),
                       st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3), st.binary(max_size=20)))
def test_from_query_survives_values_that_are_not_text(value):
    filters, notices = Filters.from_query(value, DEFAULT, KNOWN, (LO, HI))
    _check(filters, notices, True)


@FUZZ
@given(start=st.dates(LO, HI), days=st.integers(0, 2000), prime=st.sampled_from(PRIME_CHOICES),
       countries=st.lists(st.sampled_from(KNOWN), max_size=4, unique=True),
       segment=st.one_of(st.none(), st.sampled_from([(s, lab) for s, labs in SCHEME_LABELS.items() for lab in labs])))
def test_valid_filters_round_trip(start, days, prime, countries, segment):
    end = min(start + timedelta(days=days), HI)
    scheme, label = segment or (None, None)
    filters = Filters(start, end, prime, tuple(countries)).with_focus(scheme, label)
    assert Filters.from_query(filters.to_query(), DEFAULT, KNOWN, (LO, HI)) == (filters, [])
    assert Filters.from_query("?" + filters.to_query(), DEFAULT, KNOWN, (LO, HI)) == (filters, [])


# ----- the running app -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated data set: hostile input is the point here, not volume, and every metric is fast."""
    from generate_data import generate

    out = tmp_path_factory.mktemp("fuzz") / "data"
    generate(out, orders=2000, start="2023-01-01", end="2024-06-30", seed=5, progress=False)
    return out


@pytest.fixture(scope="module")
def app_module(small_dir: Path):
    """The Dash app over the small data set (the engine follows CUSTINTEL_DATA_DIR)."""
    with app_over(small_dir) as app:
        yield app


@pytest.fixture(scope="module")
def client(app_module):
    return app_module.server.test_client()


@pytest.fixture(scope="module")
def presets(app_module) -> list:
    """The filter bar's period presets on the small data set."""
    from components.state import engine
    from metrics.periods import period_presets

    return period_presets(*engine().date_bounds())


@pytest.fixture(scope="module")
def callbacks(client) -> list[dict[str, Any]]:
    """Every server-side callback, as the browser learns them from ``/_dash-dependencies``."""
    deps = client.get("/_dash-dependencies").get_json()
    return [d for d in deps if not d.get("clientside_function")]


@pytest.fixture(scope="module")
def page_paths(app_module) -> list[str]:
    import dash

    return [page["path"] for page in dash.page_registry.values()]


def _component_id(raw: str) -> str | dict:
    return json.loads(raw) if raw.startswith("{") else raw


def _concrete(component_id: str | dict, index: Any) -> str | dict:
    """A wildcard id ({"type": ..., "index": ["ALL"]}) with a concrete index."""
    if isinstance(component_id, dict):
        return {k: (index if isinstance(v, list) else v) for k, v in component_id.items()}
    return component_id


def _outputs(callback: dict[str, Any], index: Any) -> Any:
    text = callback["output"]
    parts = text[2:-2].split("...") if text.startswith("..") else [text]
    outs = []
    for part in parts:
        raw_id, prop = part.rsplit(".", 1)
        cid = _component_id(raw_id)
        wildcard_all = isinstance(cid, dict) and ["ALL"] in cid.values()
        out = {"id": _concrete(cid, index), "property": prop}
        outs.append([out] if wildcard_all else out)
    return outs if text.startswith("..") else outs[0]


def _arguments(specs: list[dict[str, Any]], values: list[Any], index: Any) -> list[Any]:
    args = []
    for spec, value in zip(specs, values, strict=True):
        cid = _component_id(spec["id"]) if isinstance(spec["id"], str) else spec["id"]
        item = {"id": _concrete(cid, index), "property": spec["property"], "value": value}
        args.append([item] if isinstance(cid, dict) and ["ALL"] in cid.values() else item)
    return args


def payload(callback: dict[str, Any], values: list[Any], state: list[Any], index: Any = "x") -> dict[str, Any]:
    inputs = _arguments(callback["inputs"], values, index)
    first = inputs[0][0] if isinstance(inputs[0], list) else inputs[0]
    first_id = json.dumps(first["id"], separators=(",", ":")) if isinstance(first["id"], dict) else first["id"]
    return {"output": callback["output"], "outputs": _outputs(callback, index), "inputs": inputs,
            "state": _arguments(callback["state"], state, index), "changedPropIds": [f"{first_id}.{first['property']}"]}


JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70),
                         st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=50))
HOSTILE = st.one_of(
    JSON_SCALARS, st.sampled_from(SQLISH), st.sampled_from(ABSURD_DATES), queries(),
    st.lists(st.one_of(st.sampled_from((*KNOWN, "Atlantis")), JSON_SCALARS), max_size=60),
    st.dictionaries(st.text(max_size=10), JSON_SCALARS, max_size=5),
    # a very long value: a short drawn text repeated (drawing 20,000 characters one by one took half the
    # test's time without finding more)
    st.builds(lambda text, n: (text * (20000 // len(text) + 1))[:n], st.text(min_size=1, max_size=20),
              st.integers(5000, 20000)),
)


def _callback_ids(callback: dict[str, Any]) -> list[str]:
    text = callback["output"]
    outputs = [part.rsplit(".", 1)[0] for part in (text[2:-2].split("...") if text.startswith("..") else [text])]
    return outputs + [spec["id"] for spec in callback["inputs"] + callback["state"]]


def post(client, body: dict[str, Any]):
    return client.post("/_dash-update-component", data=json.dumps(body), content_type="application/json")


def assert_no_server_error(response, what: Any) -> None:
    assert response.status_code < 500, (what, response.status_code, response.get_data(as_text=True)[:300])


@pytest.mark.slow
@APP_FUZZ
@given(query=queries(), page=st.integers(0, 50))
def test_pages_answer_any_query_string(client, page_paths, query, page):
    path = page_paths[page % len(page_paths)]
    response = client.get(f"{path}?{quote(query, safe='=&%?')}")
    assert_no_server_error(response, (path, query))
    assert response.status_code == 200


@pytest.fixture(scope="module")
def pattern_indexes(app_module) -> list[Any]:
    """The indexes of the pattern-matching ids the layout declares (tables, nav links)."""
    from service.security import _layout_index

    index = _layout_index(app_module.app)
    return sorted({json.loads(key)["index"] for key in index.patterned}, key=str)


@pytest.mark.slow
@CALLBACK_FUZZ
@given(data=st.data())
def test_every_callback_survives_hostile_values(client, callbacks, pattern_indexes, data):
    """Every server-side callback with hostile values: either answered, or refused with a 4xx, never a 500."""
    for callback in callbacks:
        values = [data.draw(HOSTILE) for _ in callback["inputs"]]
        state = [data.draw(HOSTILE) for _ in callback["state"]]
        index = data.draw(st.one_of(st.sampled_from(pattern_indexes), st.sampled_from(pattern_indexes),
                                    st.text(max_size=20), st.integers()))
        assert_no_server_error(post(client, payload(callback, values, state, index)), (callback["output"], values))


@pytest.mark.slow
@TYPED_FUZZ
@given(data=st.data())
def test_callbacks_with_well_typed_hostile_values_are_answered(client, callbacks, pattern_indexes, data):
    """Values of the right JSON type (what a tampered browser could send) reach the callbacks: 200 or 204;
    the export callback refuses a table state its grid did not store with 400."""
    from service.security import _layout_index, _rule

    layout = _layout_index(importlib.import_module("app").app)
    indexes_by_type: dict[str, set] = {}
    for key in layout.patterned:
        cid = json.loads(key)
        indexes_by_type.setdefault(cid.get("type"), set()).add(cid.get("index"))
    for callback in callbacks:
        types = {json.loads(raw).get("type") for raw in _callback_ids(callback) if raw.startswith("{")}
        usable = set.intersection(*(indexes_by_type.get(t, set()) for t in types)) if types else {"-"}
        index = data.draw(st.sampled_from(sorted(usable, key=str)))
        body = payload(callback, [None] * len(callback["inputs"]), [None] * len(callback["state"]), index)
        for entry in body["inputs"] + body["state"]:
            for item in entry if isinstance(entry, list) else [entry]:
                rule = _rule(layout.find(item["id"]), item["property"])
                for _ in range(20):
                    value = data.draw(HOSTILE)
                    if rule is None or rule(value):
                        break
                item["value"] = value if rule is None or rule(value) else None
        response = post(client, body)
        assert_no_server_error(response, body)
        exports = "table-download" in callback["output"]
        assert response.status_code in ((200, 204, 400) if exports else (200, 204)), (
            body, response.get_data(as_text=True)[:300])


#: Keys of the filter bar's period dropdown on the small data set (2023-01-01 to 2024-06-30), and near misses.
PERIOD_KEYS = ["last-12-months", "last-30-days", "last-90-days", "year-to-date", "2024", "2023", "all-data", "custom",
               "2022", "2025", "Last 12 months", "LAST-30-DAYS", " 2023"]


@APP_FUZZ
@given(query=queries(), start=_dates(), end=_dates(), prime=_values(),
       countries=st.lists(st.sampled_from((*KNOWN, "Atlantis", "' OR 1=1 --")), max_size=60),
       scheme=st.one_of(st.none(), st.sampled_from(list(SCHEME_LABELS)), st.text(max_size=20)),
       segment=st.one_of(st.none(), _values()),
       period=st.one_of(st.none(), st.sampled_from(PERIOD_KEYS), st.sampled_from(SQLISH), st.text(max_size=30)),
       trigger=st.integers(0, 8))
def test_filter_bar_callback_with_plausible_but_hostile_values(client, callbacks, presets, query, start, end, prime,
                                                               countries, scheme, segment, period, trigger):
    from metrics.periods import CUSTOM, find_period

    callback = next(c for c in callbacks if any(i["id"] == "filter-dates" for i in c["inputs"]))
    assert [i["id"] for i in callback["inputs"]][-1] == "filter-period"
    values = [f"?{query}", start, end, prime, countries, scheme, segment, 1, period]
    body = payload(callback, values, [])
    changed = callback["inputs"][trigger]
    body["changedPropIds"] = [f"{changed['id']}.{changed['property']}"]
    response = post(client, body)
    assert_no_server_error(response, values)
    if response.status_code == 200:
        answer = response.get_json()["response"]
        url_query = answer["url-query"]["data"]
        filters, notices = Filters.from_query(url_query, DEFAULT)
        assert notices == [] and LO <= filters.start <= filters.end <= HI
        assert "period" not in url_query  # a preset reaches the URL as its two dates only
        shown = answer.get("filter-period", {}).get("value", period)  # absent: the value sent stays
        preset = find_period(presets, shown)
        assert shown == CUSTOM or (preset is not None and (preset.start, preset.end) == (filters.start, filters.end))


MALFORMED = [
    b"", b"nonsense", b"[]", b"null", b"{}", b'{"output": 1}',
    b'{"output": "nope.children", "outputs": {}, "inputs": []}',
    b'{"output": "executive-kpis.children", "inputs": "x"}',
    b'{"output": "..a.b...c.d..", "outputs": [], "inputs": [{}]}',
    b'{"output": "url.search", "outputs": {"id": "url", "property": "search"}, "inputs": [[[[[]]]]], "state": 5}',
]


def test_malformed_callback_requests_are_client_errors(client, callbacks):
    bodies = [*MALFORMED]
    for callback in callbacks:  # real outputs with broken structure
        bodies += [json.dumps({"output": callback["output"]}).encode(),
                   json.dumps({"output": callback["output"], "outputs": None, "inputs": None, "state": None}).encode(),
                   json.dumps({"output": callback["output"], "outputs": {}, "inputs": [1, 2],
                               "changedPropIds": 5}).encode()]
    for body in bodies:
        response = client.post("/_dash-update-component", data=body, content_type="application/json")
        assert_no_server_error(response, body[:120])
        assert response.status_code in (400, 415), body[:120]


def test_the_real_filter_request_still_works(client, callbacks, presets):
    callback = next(c for c in callbacks if any(i["id"] == "filter-dates" for i in c["inputs"]))
    body = payload(callback, ["?start=2024-01-01&end=2024-03-31&prime=Prime&country=Germany", None, None, None, None,
                              None, None, None, None], [])
    response = post(client, body)
    assert response.status_code == 200
    answer = response.get_json()["response"]
    assert answer["url-query"]["data"] == "start=2024-01-01&end=2024-03-31&prime=Prime&country=Germany"
    assert answer["filter-period"]["value"] == "custom"

    # picking the "2023" preset sets its dates
    year = next(p for p in presets if p.key == "2023")
    query = "?start=2024-01-01&end=2024-03-31"
    body = payload(callback, [query, "2024-01-01", "2024-03-31", "All", [], None, None, 0, "2023"], [])
    body["changedPropIds"] = ["filter-period.value"]
    answer = post(client, body).get_json()["response"]
    assert answer["url-query"]["data"] == f"start={year.start}&end={year.end}"
    assert answer["filter-dates"] == {"start_date": year.start.isoformat(), "end_date": year.end.isoformat()}


@pytest.mark.parametrize("value", [2023, 1.5, True, ["2023"], {"key": "2023"}])
def test_a_period_value_that_is_not_text_is_refused(client, callbacks, value):
    callback = next(c for c in callbacks if any(i["id"] == "filter-dates" for i in c["inputs"]))
    body = payload(callback, ["?start=2024-01-01&end=2024-03-31", "2024-01-01", "2024-03-31", "All", [], None, None,
                              0, value], [])
    body["changedPropIds"] = ["filter-period.value"]
    response = post(client, body)
    assert response.status_code == 400 and b"Dropdown.value" in response.data


def test_an_empty_pathname_is_refused_not_a_server_error(client, callbacks):
    """A browser's pathname is at least "/"; Dash's page router raised on "" (found by the fuzz test)."""
    router = next(c for c in callbacks if c["output"].startswith(".._pages_content"))
    values = ["" if spec["property"] == "pathname" else None for spec in router["inputs"]]
    response = post(client, payload(router, values, [None] * len(router["state"])))
    assert response.status_code == 400
    good = ["/" if spec["property"] == "pathname" else None for spec in router["inputs"]]
    assert post(client, payload(router, good, [None] * len(router["state"]))).status_code == 200


# ----- hostile request shapes: deep JSON, tampered exports, credentials, component paths ------------------------

HOSTILE_FUZZ = settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=_APP_CHECKS)


@st.composite
def deep_json(draw) -> bytes:
    """JSON nested past the limit: lists, objects or both, bare or as a callback input's value."""
    from service.limits import MAX_JSON_DEPTH

    depth = draw(st.one_of(st.integers(MAX_JSON_DEPTH + 1, 200), st.integers(1000, 10000)))
    opens = draw(st.lists(st.sampled_from(['[', '{"k":']), min_size=1, max_size=4))
    levels = [opens[i % len(opens)] for i in range(depth)]
    leaf = draw(st.sampled_from(["1", '"x"', "null", ""]))
    body = "".join(levels) + leaf + "".join("]" if level == "[" else "}" for level in reversed(levels))
    if draw(st.booleans()):
        body = '{"output": "url.search", "outputs": {"id": "url", "property": "search"}, "inputs": [' + body + "]}"
    return body.encode()


@HOSTILE_FUZZ
@given(body=deep_json())
def test_deep_json_is_always_a_client_error(client, body):
    response = client.post("/_dash-update-component", data=body, content_type="application/json")
    assert_no_server_error(response, body[:80])
    assert response.status_code == 400


def _export_callback(callbacks: list[dict[str, Any]]) -> dict[str, Any]:
    return next(c for c in callbacks if "table-download" in c["output"])


@pytest.fixture(scope="module")
def table_parameters(app_module) -> dict[str, list[str]]:
    """Each registered table's parameter names (what a tampered export would try first)."""
    import inspect

    from components.tables import _TABLES

    return {tid: list(inspect.signature(source.frame).parameters)[1:] for tid, source in _TABLES.items()}


@HOSTILE_FUZZ
@given(data=st.data())
def test_export_callback_survives_tampered_parameters(client, callbacks, table_parameters, data):
    """The export callback with a stored table state the browser could have tampered with: never a 500."""
    table_id = data.draw(st.sampled_from(sorted(table_parameters)))
    names = st.one_of(st.sampled_from(table_parameters[table_id] or ["x"]), st.text(max_size=12))
    params = data.draw(st.one_of(HOSTILE, st.dictionaries(names, HOSTILE, max_size=3)))
    query = data.draw(st.one_of(queries(), HOSTILE))
    state = data.draw(st.one_of(st.just({"query": query, "params": params}), HOSTILE))
    xlsx = data.draw(st.booleans())
    body = payload(_export_callback(callbacks), [None, 1] if xlsx else [1, None], [state], table_id)
    kind = "table-export-xlsx" if xlsx else "table-export"
    body["changedPropIds"] = [json.dumps({"index": table_id, "type": kind}, separators=(",", ":")) + ".n_clicks"]
    response = post(client, body)
    assert_no_server_error(response, (table_id, state))
    unknown = isinstance(params, dict) and set(params) - set(table_parameters[table_id])
    if unknown and state == {"query": query, "params": params}:
        assert response.status_code == 400  # a parameter the table's function does not take


@pytest.fixture(scope="module")
def guarded_client():
    """A server with basic auth on (the app's auth check, on a bare Flask app)."""
    from flask import Flask

    from metrics.settings import Settings
    from service.security import install_security

    server = Flask("guarded")
    server.add_url_rule("/", "home", lambda: "home")
    install_security(server, Settings(auth="ann:sécret"))
    return server.test_client()


LATIN1 = st.text(st.characters(max_codepoint=255, exclude_characters="\r\n"), max_size=60)  # any byte, as HTTP sends


@HOSTILE_FUZZ
@given(header=st.one_of(
    LATIN1, LATIN1.map(lambda t: "Basic " + t),
    st.binary(max_size=40).map(lambda b: "Basic " + base64.b64encode(b).decode()),
    st.tuples(LATIN1, LATIN1).map(lambda up: "Basic " + base64.b64encode(f"{up[0]}:{up[1]}".encode()).decode()),
))
def test_any_authorization_header_is_answered_401_not_500(guarded_client, header):
    response = guarded_client.get("/", headers={"Authorization": header})
    assert_no_server_error(response, header)
    assert response.status_code == 401


SUITE_PARTS = st.one_of(st.sampled_from(["dash", "plotly", "dash_ag_grid", "os", "..", "%2e%2e", "%2f", ".", "%00",
                                         "%ff", "%c0%ae", "deps", "package_data", "plotly.min.js", "x.v1_2_3m4.js",
                                         "etc", "passwd", "app.py", "~", "%5c"]),
                        st.text(st.characters(min_codepoint=33, max_codepoint=255, exclude_characters="?#"),
                                max_size=12))


@HOSTILE_FUZZ
@given(parts=st.lists(SUITE_PARTS, min_size=1, max_size=6))
def test_component_suite_paths_are_served_or_not_found(client, parts):
    path = "/_dash-component-suites/" + quote("/".join(parts), safe="/%~")
    response = client.get(path)
    assert_no_server_error(response, path)
    assert response.status_code in (200, 304, 308, 404), (path, response.status_code)
