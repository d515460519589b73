"""Drive the app's callbacks exactly as a browser does, without a browser.

The app describes itself: ``/_dash-dependencies`` lists the callbacks, ``/_dash-layout`` the shell, and
the page router's answer each page's components. From these, this module builds the JSON bodies the
browser would POST to ``/_dash-update-component`` when a page opens or a filter changes. The load test
sends them over HTTP to a running server; ``custintel warm`` sends them to the app in-process to fill
the result cache. Only the callbacks whose outputs are on the page are fired, as in a browser.
"""

from __future__ import annotations

import json
import math
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

from flask import Flask


def data_pages() -> tuple[str, ...]:
    """The paths of the pages a browser opens with a filter state (:func:`app.data_pages`; importing the
    app registers the pages)."""
    import app

    return tuple(app.data_pages())


FILTER_INPUT = "filter-dates"
ROUTER_OUTPUT_PREFIX = ".._pages_content"


class Requester(Protocol):
    """Anything that sends one request and answers ``(status, body)``; ``kind`` labels it for timing."""

    def request(self, kind: str, method: str, path: str, body: Any = None) -> tuple[int, bytes]: ...


class InProcessClient:
    """The app's Flask test client as a :class:`Requester`: times every request by kind and keeps the
    failed ones (status ≥ 400), for the warm-up and the page-cost benchmark."""

    def __init__(self, server: Flask, headers: dict[str, str] | None = None) -> None:
        self.client = server.test_client()
        self.headers = headers or {}
        self.times: dict[str, list[float]] = defaultdict(list)
        self.failures: list[str] = []

    @property
    def sent(self) -> int:
        return sum(len(v) for v in self.times.values())

    def request(self, kind: str, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        started = time.perf_counter()
        response = self.client.open(path, method=method, json=body, headers=self.headers)
        self.times[kind].append(time.perf_counter() - started)
        if response.status_code >= 400:
            self.failures.append(f"{kind}: HTTP {response.status_code}")
        return response.status_code, response.get_data()


def component_id(raw: str) -> str | dict:
    return json.loads(raw) if raw.startswith("{") else raw


def id_key(cid: str | dict) -> str:
    return json.dumps(cid, sort_keys=True, separators=(",", ":")) if isinstance(cid, dict) else cid


def output_specs(callback: dict[str, Any]) -> list[tuple[str | dict, str]]:
    text = callback["output"]
    parts = text[2:-2].split("...") if text.startswith("..") else [text]
    return [(component_id(raw), prop) for raw, prop in (p.rsplit(".", 1) for p in parts)]


def is_wildcard(cid: str | dict) -> bool:
    return isinstance(cid, dict) and any(isinstance(v, list) for v in cid.values())


def walk_components(tree: Any, found: dict[str, dict[str, Any]]) -> None:
    """id -> props of every component in a Dash layout JSON."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            props = node.get("props")
            if isinstance(props, dict):
                if "id" in props:
                    found.setdefault(id_key(props["id"]), props)
                stack.extend(v for v in props.values() if isinstance(v, (list, dict)))
            else:  # e.g. a callback answer {"output id": {"property": value}}
                stack.extend(v for v in node.values() if isinstance(v, (list, dict)))


def concrete_ids(pattern: dict, components: dict[str, dict[str, Any]]) -> list[dict]:
    """The ids on the page that match a wildcard id ({"type": ..., "index": ["ALL"]})."""
    fixed = {k: v for k, v in pattern.items() if not isinstance(v, list)}
    out = []
    for key in components:
        if key.startswith("{"):
            cid = json.loads(key)
            if set(cid) == set(pattern) and all(cid[k] == v for k, v in fixed.items()):
                out.append(cid)
    return out


def build_payload(callback: dict[str, Any], values: dict[tuple[str, str], Any],
                  components: dict[str, dict[str, Any]], changed: str) -> dict[str, Any]:
    """The JSON body the browser sends for ``callback`` with input/state values looked up in ``values``."""
    def arguments(specs: list[dict[str, Any]]) -> list[Any]:
        args = []
        for spec in specs:
            cid = component_id(spec["id"])
            if is_wildcard(cid):
                args.append([{"id": c, "property": spec["property"], "value": values.get((id_key(c), spec["property"]))}
                             for c in concrete_ids(cid, components)])
            else:
                args.append({"id": cid, "property": spec["property"],
                             "value": values.get((id_key(cid), spec["property"]))})
        return args

    outs: list[Any] = []
    for cid, prop in output_specs(callback):
        if is_wildcard(cid):
            outs.append([{"id": c, "property": prop} for c in concrete_ids(cid, components)])
        else:
            outs.append({"id": cid, "property": prop})
    return {"output": callback["output"], "outputs": outs if callback["output"].startswith("..") else outs[0],
            "inputs": arguments(callback["inputs"]), "state": arguments(callback.get("state", [])),
            "changedPropIds": [changed]}


@dataclass
class SiteModel:
    """What the browser knows: callbacks, the shell layout, and each page's controls and data callbacks."""

    callbacks: list[dict[str, Any]]
    shell: dict[str, dict[str, Any]]
    pages: dict[str, dict[str, Any]] = field(default_factory=dict)  # path -> {"components", "callbacks"}
    countries: list[str] = field(default_factory=list)
    bounds: tuple[date, date] | None = None

    @property
    def filter_callback(self) -> dict[str, Any]:
        return next(c for c in self.callbacks if any(i["id"] == FILTER_INPUT for i in c["inputs"]))

    @property
    def router_callback(self) -> dict[str, Any]:
        return next(c for c in self.callbacks if c["output"].startswith(ROUTER_OUTPUT_PREFIX))


def data_callbacks(callbacks: list[dict[str, Any]], components: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Callbacks fired when ``url-query.data`` changes whose inputs and outputs all exist on the page
    (the browser only runs a callback whose outputs are in the current layout)."""
    chosen = []
    for callback in callbacks:
        if callback.get("clientside_function"):
            continue
        inputs = [component_id(i["id"]) for i in callback["inputs"]]
        if not any(i == "url-query" for i in inputs):
            continue
        outputs = [cid for cid, _ in output_specs(callback)]
        present = all(is_wildcard(i) or id_key(i) in components for i in inputs + outputs)
        if present and all(concrete_ids(o, components) for o in outputs if is_wildcard(o)):
            chosen.append(callback)
    return chosen


def learn_site(client: Requester, pages: list[str]) -> SiteModel:
    _, deps = client.request("deps", "GET", "/_dash-dependencies")
    _, layout = client.request("layout", "GET", "/_dash-layout")
    shell: dict[str, dict[str, Any]] = {}
    walk_components(json.loads(layout), shell)
    model = SiteModel(callbacks=json.loads(deps), shell=shell)
    countries = shell.get("filter-countries", {}).get("options") or []
    model.countries = [o["value"] if isinstance(o, dict) else o for o in countries]
    for path in pages:
        components = dict(shell)
        status, answer = client.request("router_cb", "POST", "/_dash-update-component", build_payload(
            model.router_callback, {("_pages_location", "pathname"): path, ("_pages_location", "search"): ""},
            shell, "_pages_location.pathname"))
        if status == 200:
            walk_components(json.loads(answer)["response"], components)
        model.pages[path] = {"components": components, "callbacks": data_callbacks(model.callbacks, components)}
    return model


def filter_request(client: Requester, model: SiteModel, search: str, controls: dict[str, Any] | None,
                   changed: str) -> str:
    values = {("url", "search"): f"?{search}" if search else ""}
    if controls:
        values.update({(k, p): v for (k, p), v in controls.items()})
    status, answer = client.request("filter_cb", "POST", "/_dash-update-component", build_payload(
        model.filter_callback, values, model.shell, changed))
    if status != 200:
        return search
    response = json.loads(answer)["response"]
    return response.get("url-query", {}).get("data", search) or ""


def page_callbacks(client: Requester, model: SiteModel, page: str, query: str) -> None:
    info = model.pages[page]
    components = info["components"]
    for callback in info["callbacks"]:
        values: dict[tuple[str, str], Any] = {("url-query", "data"): query}
        for spec in callback["inputs"] + callback.get("state", []):
            cid = component_id(spec["id"])
            if not is_wildcard(cid) and (id_key(cid), spec["property"]) not in values:
                values[(id_key(cid), spec["property"])] = components.get(id_key(cid), {}).get(spec["property"])
        first = output_specs(callback)[0][0]
        name = first if isinstance(first, str) else str(first.get("index", first.get("type")))
        client.request(f"page_cb:{page} {name}", "POST", "/_dash-update-component",
                       build_payload(callback, values, components, "url-query.data"))


def open_page(client: Requester, model: SiteModel, page: str, query: str) -> str:
    client.request("page_html", "GET", f"{page}?{query}" if query else page)
    client.request("layout", "GET", "/_dash-layout")
    client.request("deps", "GET", "/_dash-dependencies")
    query = filter_request(client, model, query, None, "url.search")
    client.request("router_cb", "POST", "/_dash-update-component", build_payload(
        model.router_callback, {("_pages_location", "pathname"): page, ("_pages_location", "search"): f"?{query}"},
        model.shell, "_pages_location.pathname"))
    page_callbacks(client, model, page, query)
    return query


# ----- comparing answers ------------------------------------------------------------------------------------

#: Relative tolerance of float comparisons: the last bits of a float sum depend on the engine's thread order.
FLOAT_TOLERANCE = 1e-9


class Recording:
    """A :class:`~service.replay.Requester` that keeps every callback answer, in the order sent."""

    def __init__(self, client: Requester) -> None:
        self.client = client
        self.answers: list[tuple[str, Any]] = []

    def request(self, kind: str, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        status, payload = self.client.request(kind, method, path, body)
        if path.startswith("/_dash-update-component"):
            self.answers.append((kind, json.loads(payload) if status == 200 else status))
        return status, payload


def typed_array(value: Any) -> Any:
    """Plotly's binary arrays (``{"dtype": "f8", "bdata": base64}``) as lists of numbers, so they compare
    number by number; anything else as it is."""
    if isinstance(value, dict) and set(value) >= {"dtype", "bdata"}:
        import base64

        import numpy as np

        numbers = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = value.get("shape")  # "rows, columns" for a matrix (a heatmap's z)
        if shape is not None:
            numbers = numbers.reshape(tuple(int(n) for n in str(shape).split(",")))
        return numbers.tolist()
    return value


def first_difference(a: Any, b: Any, path: str = "") -> str | None:
    """Where two JSON values first differ, with both values (for the report)."""
    a, b = typed_array(a), typed_array(b)
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool):
        a, b = float(a), float(b)
    if type(a) is not type(b):
        return f"{path}: {str(a)[:80]} != {str(b)[:80]}"
    if isinstance(a, dict):
        for key in sorted(set(a) | set(b)):
            found = first_difference(a.get(key), b.get(key), f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} items != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            found = first_difference(x, y, f"{path}[{i}]")
            if found:
                return found
        return None
    if isinstance(a, float) and (math.isclose(a, b, rel_tol=FLOAT_TOLERANCE, abs_tol=1e-12)
                                 or (math.isnan(a) and math.isnan(b))):  # an empty heatmap cell is NaN in both
        return None  # the last bits of a float sum depend on the engine's thread order
    return None if a == b else f"{path}: {str(a)[:80]} != {str(b)[:80]}"
