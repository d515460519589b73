"""Load test: simulated users against the dashboard served by gunicorn. Not part of the test suite
(``tests/test_load_smoke.py`` runs a tiny version of it).

    python benchmarks/load_test.py                          # 50 users, 120 s, 1 M orders
    python benchmarks/load_test.py --users 10 --duration 30 --orders 100000 --data-dir benchmarks/data-100k

What it does:

1. Makes sure the data exists (generates ``--orders`` orders into ``--data-dir`` when the folder is missing).
2. Starts ``gunicorn -w W --threads T --no-control-socket -b 127.0.0.1:PORT app:server`` with
   ``CUSTINTEL_DATA_DIR`` and waits for ``/health``.
3. Learns the real callbacks from ``/_dash-dependencies`` and the shell from ``/_dash-layout``, exactly as
   the browser does, and each page's controls from the page router's answer.
4. Runs ``--users`` threads. Each user, with a persistent HTTP connection, repeats *actions* until the
   time (``--duration``) or its action budget (``--actions``) runs out, pausing ``--think`` seconds
   between actions:

   * open a page: ``GET /page?filters`` (HTML), ``/_dash-layout``, ``/_dash-dependencies``, the filter bar's
     callback (URL → filters), the page router callback, then every data callback of the page;
   * change a filter (date range, Prime, countries): the filter bar's callback, then the page's data
     callbacks with the new filter state.

   A share of users (``--default-share``) stays on the default view, which the server has cached; the
   others pick random filter states, most of which the server has never computed (cold queries).
   Requests of one action are sent one after the other (a browser sends a page's callbacks in parallel,
   so the action times here are an upper bound of what a user waits).

Prints p50 / p95 / max latency per request kind and per action, the error count, and writes JSON to
``benchmarks/results/load-<timestamp>.json``. Errors are: connection failures, HTTP status >= 400, and
callback answers that are not JSON.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from common import ensure_data, machine_info, write_result  # noqa: E402

from service.replay import SiteModel, filter_request, learn_site, open_page, page_callbacks  # noqa: E402

# ----- server ------------------------------------------------------------------------------------------


def progress(message: str, quiet: bool = False) -> None:
    if not quiet:
        print(message, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(data_dir: Path, port: int, workers: int, threads: int, auth: str | None,
                   log_path: Path, cache_dir: str) -> subprocess.Popen:
    env = {**os.environ, "CUSTINTEL_DATA_DIR": str(data_dir), "CUSTINTEL_CACHE_DIR": cache_dir}
    env.pop("CUSTINTEL_AUTH", None)
    if auth:
        env["CUSTINTEL_AUTH"] = auth
    command = [sys.executable, "-m", "gunicorn", "-w", str(workers), "--threads", str(threads),
               "--no-control-socket", "-b", f"127.0.0.1:{port}", "--timeout", "300", "--chdir", str(ROOT),
               "app:server"]
    log = log_path.open("w")
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def wait_healthy(port: int, proc: subprocess.Popen, timeout: float, log_path: Path) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                return time.monotonic() - started
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the server did not become healthy in {timeout} s:\n{log_path.read_text()[-3000:]}")


# ----- Dash payloads -------------------------------------------------------------------------------------


# ----- the HTTP client --------------------------------------------------------------------------------------


class Client:
    """One user's persistent connection; records every request's latency and outcome."""

    def __init__(self, port: int, auth_header: dict[str, str], record) -> None:
        self.port, self.headers, self.record = port, auth_header, record
        self.conn: http.client.HTTPConnection | None = None
        self.errors = 0

    def request(self, kind: str, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        data = None if body is None else json.dumps(body).encode()
        headers = dict(self.headers)
        if data is not None:
            headers["Content-Type"] = "application/json"
        started = time.perf_counter()
        status, payload, error = 0, b"", None
        for attempt in (1, 2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
                self.conn.request(method, path, body=data, headers=headers)
                response = self.conn.getresponse()
                status, payload = response.status, response.read()
                if response.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                error = None
                break
            except (OSError, http.client.HTTPException) as exc:
                error = f"{type(exc).__name__}: {exc}"
                if self.conn is not None:
                    self.conn.close()
                self.conn = None
                if attempt == 2 or not isinstance(exc, (http.client.RemoteDisconnected, ConnectionResetError,
                                                        BrokenPipeError)):
                    break
        elapsed = time.perf_counter() - started
        if error is None and status >= 400:
            error = f"HTTP {status}: {payload[:200].decode(errors='replace')}"
        if error is None and path.startswith("/_dash-update-component") and status == 200:
            try:
                json.loads(payload)
            except ValueError:
                error = "callback answer is not JSON"
        self.errors += error is not None
        self.record(kind, elapsed, status, error)
        return status, payload


# ----- users -------------------------------------------------------------------------------------------------


@dataclass
class Config:
    port: int
    users: int
    duration: float
    actions: int
    think: float
    default_share: float
    pages: list[str]
    seed: int
    auth: str | None = None
    preset_share: float = 0.0


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: list[tuple[str, float, int, str | None]] = []
        self.actions: list[tuple[str, float, bool]] = []

    def request(self, kind: str, elapsed: float, status: int, error: str | None) -> None:
        with self.lock:
            self.requests.append((kind, elapsed, status, error))

    def action(self, kind: str, elapsed: float, ok: bool) -> None:
        with self.lock:
            self.actions.append((kind, elapsed, ok))


def random_filters(model: SiteModel, rng: random.Random, preset_share: float = 0.0) -> str:
    """A filter state a user might pick: with probability ``preset_share`` a period preset of the filter
    bar (the same few ranges for everybody), else a custom range of 30 days to 2 years anywhere in the
    data (almost never the same twice); then a Prime choice and sometimes one or two countries."""
    lo, hi = model.bounds or (date(2021, 1, 1), date(2024, 12, 31))
    if rng.random() < preset_share:
        from metrics.periods import period_presets

        period = rng.choice(period_presets(lo, hi))
        start, end = period.start, period.end
    else:
        span = rng.choice([30, 90, 180, 365, 730])
        end = hi - timedelta(days=rng.randrange(0, max(1, (hi - lo).days - span)))
        start = max(lo, end - timedelta(days=span - 1))
    pairs = [("start", start.isoformat()), ("end", end.isoformat())]
    prime = rng.choice(["All", "All", "Prime", "Non-Prime"])
    if prime != "All":
        pairs.append(("prime", prime))
    if model.countries and rng.random() < 0.4:
        picked = rng.sample(model.countries, min(len(model.countries), rng.choice([1, 1, 2])))
        pairs += [("country", c) for c in sorted(picked)]
    return urlencode(pairs)


def user(number: int, config: Config, model: SiteModel, recorder: Recorder, deadline: float) -> None:
    from service.security import basic_auth_header

    rng = random.Random(config.seed * 1000 + number)
    client = Client(config.port, basic_auth_header(config.auth) if config.auth else {}, recorder.request)
    stays_default = rng.random() < config.default_share
    time.sleep(rng.random() * min(config.think * 2, 5))  # users arrive over a few seconds
    query = ""
    page = rng.choice(config.pages)
    for step in range(config.actions):
        if time.monotonic() >= deadline:
            break
        errors_before = client.errors
        started = time.perf_counter()
        if step == 0 or rng.random() < 0.4:  # open a page
            page = rng.choice(config.pages)
            kind = "open_page"
            query = query if stays_default or rng.random() < 0.5 else random_filters(model, rng, config.preset_share)
            query = "" if stays_default else query
            query = open_page(client, model, page, query)
        else:
            kind = "change_filter"
            wanted = "" if stays_default else random_filters(model, rng, config.preset_share)
            query = change_filter(client, model, page, query, wanted)
        ok = client.errors == errors_before
        recorder.action(kind, time.perf_counter() - started, ok)
        time.sleep(rng.uniform(0.5, 1.5) * config.think)


def change_filter(client: Client, model: SiteModel, page: str, current: str, wanted: str) -> str:
    from urllib.parse import parse_qs

    params = parse_qs(wanted)
    controls = {
        ("filter-dates", "start_date"): params.get("start", [None])[0],
        ("filter-dates", "end_date"): params.get("end", [None])[0],
        ("filter-prime", "value"): params.get("prime", ["All"])[0],
        ("filter-countries", "value"): params.get("country", []),
        ("filter-scheme", "value"): None, ("filter-segment", "value"): None,
    }
    query = filter_request(client, model, current, controls, "filter-dates.start_date")
    page_callbacks(client, model, page, query)
    return query


# ----- statistics -------------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = q / 100 * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary(values: list[float]) -> dict[str, float]:
    return {"count": len(values), "p50_s": round(percentile(values, 50), 4), "p95_s": round(percentile(values, 95), 4),
            "p99_s": round(percentile(values, 99), 4), "max_s": round(max(values), 4) if values else float("nan"),
            "mean_s": round(statistics.fmean(values), 4) if values else float("nan")}


def run(args: argparse.Namespace) -> dict[str, Any]:
    data_dir = Path(args.data_dir).resolve()
    ensure_data(data_dir, args.orders)
    port = args.port or free_port()
    results_dir = ROOT / "benchmarks" / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    log_path = Path(args.server_log) if args.server_log else results_dir / "load-server.log"
    # A fresh shared-cache folder per run unless one is named: a run must not start warm from the last.
    scratch = None if args.cache_dir else tempfile.TemporaryDirectory(prefix="custintel-load-cache-")
    cache_dir = args.cache_dir or scratch.name  # type: ignore[union-attr]
    warm_s = None
    if args.warm:  # what a deployment does after a data refresh: `custintel warm` into the shared cache
        progress(f"warming the common filter states into {cache_dir} ...", args.quiet)
        began = time.perf_counter()
        command = [sys.executable, "-m", "service.cli", "warm", "--data-dir", str(data_dir), "--quiet"]
        command += ["--each-country"] if args.warm == "countries" else []
        subprocess.run(command, cwd=ROOT, env={**os.environ, "CUSTINTEL_CACHE_DIR": cache_dir}, check=True)
        warm_s = round(time.perf_counter() - began, 1)
    proc = start_gunicorn(data_dir, port, args.workers, args.threads, args.auth, log_path, cache_dir)
    try:
        startup = wait_healthy(port, proc, args.startup_timeout, log_path)
        from metrics.engine import Engine
        from metrics.settings import Settings
        from service.security import basic_auth_header

        probe = Engine(Settings(data_dir=str(data_dir)), validate=False)
        orders = int(probe.execute(probe.orders.count()))
        bounds = probe.date_bounds()
        probe.con.disconnect()

        setup = Recorder()
        client = Client(port, basic_auth_header(args.auth) if args.auth else {}, setup.request)
        if args.pages is None:  # every data page the app registers (its /health lists them)
            args.pages = json.loads(client.request("setup", "GET", "/health")[1])["pages"]
        model = learn_site(client, args.pages)
        model.bounds = bounds
        missing = [p for p, info in model.pages.items() if not info["callbacks"]]
        config = Config(port=port, users=args.users, duration=args.duration, actions=args.actions, think=args.think,
                        default_share=args.default_share, pages=args.pages, seed=args.seed, auth=args.auth,
                        preset_share=args.preset_share)
        recorder = Recorder()
        started = time.monotonic()
        deadline = started + args.duration
        threads = [threading.Thread(target=user, args=(i, config, model, recorder, deadline), daemon=True)
                   for i in range(args.users)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=args.duration + 300)
        wall = time.monotonic() - started
        alive = sum(t.is_alive() for t in threads)
        server_alive = proc.poll() is None
    finally:
        stop_server(proc)
        if scratch is not None:
            proc.wait(timeout=60)
            scratch.cleanup()

    by_kind: dict[str, list[float]] = defaultdict(list)
    by_callback: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    for kind, elapsed, _status, error in recorder.requests:
        by_kind[kind.split(":")[0]].append(elapsed)
        if ":" in kind:
            by_callback[kind.split(":", 1)[1]].append(elapsed)
        if error:
            errors[f"{kind}: {error[:120]}"] += 1
    actions_by_kind: dict[str, list[float]] = defaultdict(list)
    for kind, elapsed, _ok in recorder.actions:
        actions_by_kind[kind].append(elapsed)
    all_latencies = [r[1] for r in recorder.requests]
    callback_latencies = [r[1] for r in recorder.requests if r[0].endswith("_cb")]
    server_log = log_path.read_text(errors="replace")
    result = {
        "config": {"users": args.users, "duration_s": args.duration, "actions_per_user": args.actions,
                   "think_s": args.think, "default_share": args.default_share,
                   "preset_share": args.preset_share, "cache_dir": args.cache_dir or "(fresh per run)",
                   "warmed": args.warm or False,
                   "pages": args.pages,
                   "workers": args.workers, "threads": args.threads, "seed": args.seed, "auth": bool(args.auth)},
        "data": {"dir": str(data_dir), "orders": orders, "from": bounds[0].isoformat(), "to": bounds[1].isoformat()},
        "machine": machine_info(),
        "warm_s": warm_s,
        "server_startup_s": round(startup, 2),
        "wall_s": round(wall, 2),
        "requests": len(recorder.requests),
        "requests_per_s": round(len(recorder.requests) / wall, 2) if wall else None,
        "errors": sum(errors.values()),
        "error_kinds": dict(sorted(errors.items(), key=lambda kv: -kv[1])[:20]),
        "latency_all": summary(all_latencies),
        "latency_callbacks": summary(callback_latencies),
        "latency_by_kind": {k: summary(v) for k, v in sorted(by_kind.items())},
        "actions": {k: summary(v) for k, v in sorted(actions_by_kind.items())},
        "latency_by_page_callback": dict(sorted(((k, summary(v)) for k, v in by_callback.items()),
                                                key=lambda kv: -kv[1]["p95_s"])),
        "users_still_running": alive,
        "server_alive_at_end": server_alive,
        "server_tracebacks": server_log.count("Traceback"),
        "pages_without_data_callbacks": missing,
        "setup_errors": sum(1 for r in setup.requests if r[3]),
    }
    return result


def print_result(result: dict[str, Any]) -> None:
    c = result["config"]
    print(f"{c['users']} users, {result['wall_s']} s, gunicorn {c['workers']} workers x {c['threads']} threads, "
          f"{result['data']['orders']:,} orders, {result['machine']['cpus']} CPUs, think {c['think_s']} s, "
          f"on default view {c['default_share']:.0%}, presets {c['preset_share']:.0%} of choices, "
          f"warmed: {str(c['warmed']) + ', ' + str(result['warm_s']) + ' s' if c['warmed'] else 'no'}")
    print(f"{result['requests']:,} requests ({result['requests_per_s']}/s), errors: {result['errors']}, "
          f"server tracebacks: {result['server_tracebacks']}")
    print(f"{'kind':<16}{'count':>8}{'p50 s':>9}{'p95 s':>9}{'max s':>9}")
    rows = [("all requests", result["latency_all"]), ("all callbacks", result["latency_callbacks"])]
    rows += list(result["latency_by_kind"].items()) + [(f"action {k}", v) for k, v in result["actions"].items()]
    for name, s in rows:
        print(f"{name:<16}{s['count']:>8}{s['p50_s']:>9.3f}{s['p95_s']:>9.3f}{s['max_s']:>9.3f}")
    print("slowest page callbacks (p95):")
    for name, s in list(result["latency_by_page_callback"].items())[:8]:
        print(f"  {name:<40}{s['count']:>6}{s['p50_s']:>9.3f}{s['p95_s']:>9.3f}{s['max_s']:>9.3f}")
    for kind, count in result["error_kinds"].items():
        print(f"  error x{count}: {kind}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--users", type=int, default=50, help="concurrent simulated users")
    parser.add_argument("--duration", type=float, default=120.0, help="seconds of load")
    parser.add_argument("--actions", type=int, default=1000, help="most actions per user")
    parser.add_argument("--think", type=float, default=2.0, help="mean pause between a user's actions, s")
    parser.add_argument("--default-share", type=float, default=0.3, help="share of users on the default view")
    parser.add_argument("--preset-share", type=float, default=0.0,
                        help="share of filter choices that are period presets (the rest are custom ranges)")
    parser.add_argument("--cache-dir", default=None,
                        help="shared result cache folder of the server (default: a fresh one per run; 'off')")
    parser.add_argument("--warm", nargs="?", const="presets", choices=("presets", "countries"), default=None,
                        help="run `custintel warm` before the users start: period presets x Prime choices, "
                             "and with 'countries' also each single country")
    parser.add_argument("--orders", type=int, default=1_000_000, help="orders to generate if data is missing")
    parser.add_argument("--data-dir", default=str(ROOT / "benchmarks" / "data-1m"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--port", type=int, default=0, help="0 = a free port")
    parser.add_argument("--auth", default=None, help="serve with CUSTINTEL_AUTH=user:password and log in")
    parser.add_argument("--pages", nargs="+", default=None, help="paths of the pages (default: every data page)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--startup-timeout", type=float, default=300.0)
    parser.add_argument("--server-log", default=None)
    parser.add_argument("--out", default=None, help="JSON path (default benchmarks/results/load-<time>.json)")
    parser.add_argument("--quiet", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result = run(args)
    out = write_result("load", result, args.out)
    if not args.quiet:
        print_result(result)
        print(f"written to {out}")
    return 0 if result["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
