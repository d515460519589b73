"""Soak with a data swap: simulated users on gunicorn while new data is swapped into the live folder.

    python benchmarks/swap_soak.py                      # 20 users, 300 s, 1 M orders, swap at half time
    python benchmarks/swap_soak.py --users 5 --duration 60 --orders 100000

What it checks, in one run:

1. **No errors**: every request of every user (connection failures, HTTP >= 400, answers that are not
   JSON) is counted, before and after the swap.
2. **The new numbers everywhere**: after the load, every data page is opened for a few filter states on the
   soaked server and on a freshly started server over the same folder (its own empty result cache); the
   callback answers must be equal (floats to 1e-9 relative: the last bits of a float sum depend on the
   engine's thread order; the count of bit-identical answers is reported too).
3. **Memory**: the gunicorn workers' resident memory (sum over workers) is sampled every 2 s; the result
   compares the end of the run with the moment of the swap.

The swap is what ``custintel import`` and ``custintel generate`` do at their end: the new data is built in a
sibling folder and exchanged with the live one atomically (``ingest.job.replace_folder``), the old files
deleted. The live folder is a scratch copy of ``--data-dir``; the new data is ``--new-data-dir``
(generated with another seed and 5 % more orders when missing). JSON goes to
``benchmarks/results/swap-soak-<time>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from common import ensure_data, machine_info, write_result  # noqa: E402
from load_test import (  # noqa: E402
    Client,
    Config,
    Recorder,
    free_port,
    progress,
    random_filters,
    start_gunicorn,
    stop_server,
    summary,
    user,
    wait_healthy,
)

from service.replay import FLOAT_TOLERANCE, Recording, SiteModel, first_difference, learn_site, open_page  # noqa: E402

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
#: relative difference below which two floats of an answer count as equal (far below any displayed digit)


def worker_pids(master: int) -> list[int]:
    """The gunicorn workers: processes whose parent is the master."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == master:
                pids.append(int(entry.name))
    return sorted(pids)


def rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_SIZE
        except OSError:
            continue
    return round(total / 2**20, 1)


def page_answers(port: int, model: SiteModel, pages: list[str], states: list[str]) -> list[tuple[str, Any]]:
    recording = Recording(Client(port, {}, lambda *a: None))
    for state in states:
        for page in pages:
            open_page(recording, model, page, state)
    return recording.answers


def run(args: argparse.Namespace) -> dict[str, Any]:
    old_dir = Path(args.data_dir).resolve()
    new_dir = Path(args.new_data_dir).resolve()
    ensure_data(old_dir, args.orders)
    if not (new_dir / "fact_orders").exists():
        from generate_data import generate

        progress(f"generating the new data ({int(args.orders * 1.05):,} orders) into {new_dir} ...", args.quiet)
        generate(new_dir, orders=int(args.orders * 1.05), seed=args.seed + 100, progress=not args.quiet)
    results_dir = ROOT / "benchmarks" / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="custintel-swap-soak-"))
    live = scratch / "data"
    shutil.copytree(old_dir, live)
    port = free_port()
    log_path = results_dir / "swap-soak-server.log"
    proc = start_gunicorn(live, port, args.workers, args.threads, None, log_path, str(scratch / "cache"))
    rss: list[tuple[float, float]] = []
    swap: dict[str, Any] = {}
    try:
        wait_healthy(port, proc, args.startup_timeout, log_path)
        setup = Recorder()
        client = Client(port, {}, setup.request)
        pages = json.loads(client.request("setup", "GET", "/health")[1])["pages"]
        model = learn_site(client, pages)
        recorder = Recorder()
        config = Config(port=port, users=args.users, duration=args.duration, actions=10_000, think=args.think,
                        default_share=args.default_share, pages=pages, seed=args.seed)
        started = time.monotonic()
        deadline = started + args.duration
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                rss.append((round(time.monotonic() - started, 1), rss_mb(worker_pids(proc.pid))))
                stop.wait(2.0)

        def swap_in() -> None:
            time.sleep(args.duration * args.swap_at)
            from ingest.job import replace_folder

            staged = scratch / "staged"
            shutil.copytree(new_dir, staged)
            swap["rss_mb"] = rss_mb(worker_pids(proc.pid))
            swap["at_s"] = round(time.monotonic() - started, 1)
            swap["requests_before"] = len(recorder.requests)
            replace_folder(staged, live)
            progress(f"swapped the new data in at {swap['at_s']} s (workers {swap['rss_mb']} MB)", args.quiet)

        progress(f"{args.users} users for {args.duration:.0f} s on {port} ...", args.quiet)
        helpers = [threading.Thread(target=sample, daemon=True), threading.Thread(target=swap_in, daemon=True)]
        users = [threading.Thread(target=user, args=(i, config, model, recorder, deadline), daemon=True)
                 for i in range(args.users)]
        for t in helpers + users:
            t.start()
        for t in users:
            t.join(timeout=args.duration + 600)
        stop.set()
        end_rss = rss_mb(worker_pids(proc.pid))
        health = json.loads(client.request("setup", "GET", "/health")[1])

        rng = random.Random(args.seed)
        states = [""] + [random_filters(model, rng) for _ in range(args.check_states - 1)]
        progress(f"comparing {len(states)} states x {len(pages)} pages with a fresh server ...", args.quiet)
        soaked = page_answers(port, model, pages, states)
    finally:
        stop_server(proc)
    fresh_port = free_port()
    fresh = start_gunicorn(live, fresh_port, 1, args.threads, None, results_dir / "swap-soak-fresh.log",
                           str(scratch / "fresh-cache"))
    try:
        wait_healthy(fresh_port, fresh, args.startup_timeout, results_dir / "swap-soak-fresh.log")
        fresh_answers = page_answers(fresh_port, model, pages, states)
    finally:
        stop_server(fresh)
        shutil.rmtree(scratch, ignore_errors=True)

    different = [f"{kind} {found}" for (kind, a), (_, b) in zip(soaked, fresh_answers, strict=True)
                 if (found := first_difference(a, b))]
    bit_identical = sum(a == b for (_, a), (_, b) in zip(soaked, fresh_answers, strict=True))
    before = [r for r in recorder.requests[: swap.get("requests_before", 0)]]
    after = recorder.requests[swap.get("requests_before", 0):]
    errors: dict[str, int] = {}
    for kind, _elapsed, _status, error in recorder.requests:
        if error:
            errors[f"{kind}: {error[:120]}"] = errors.get(f"{kind}: {error[:120]}", 0) + 1
    swap_rss = swap.get("rss_mb") or float("nan")
    return {
        "config": {"users": args.users, "duration_s": args.duration, "swap_at": args.swap_at, "think_s": args.think,
                   "default_share": args.default_share, "workers": args.workers, "threads": args.threads,
                   "seed": args.seed, "check_states": len(states)},
        "data": {"old": str(old_dir), "new": str(new_dir), "generation_after": health.get("generation")},
        "machine": machine_info(),
        "requests": len(recorder.requests), "requests_before_swap": len(before), "requests_after_swap": len(after),
        "errors": sum(errors.values()), "errors_after_swap": sum(1 for r in after if r[3]),
        "error_kinds": dict(sorted(errors.items(), key=lambda kv: -kv[1])[:20]),
        "latency_callbacks": summary([r[1] for r in recorder.requests if r[0].endswith("_cb")]),
        "compared_answers": len(soaked), "answers_differing_from_fresh": len(different),
        "answers_bit_identical": bit_identical, "float_tolerance": FLOAT_TOLERANCE,
        "differing": different[:20],
        "health_after": health.get("status"),
        "swap_at_s": swap.get("at_s"), "rss_mb_at_swap": swap_rss, "rss_mb_end": end_rss,
        "rss_end_over_swap": round(end_rss / swap_rss, 3) if swap_rss == swap_rss and swap_rss else None,
        "rss_samples": rss,
    }


def print_result(result: dict[str, Any]) -> None:
    c = result["config"]
    print(f"{c['users']} users, {c['duration_s']:.0f} s, swap at {result['swap_at_s']} s, "
          f"{c['workers']} workers x {c['threads']} threads")
    print(f"{'requests':<34}{result['requests']:>8,} ({result['requests_before_swap']:,} before, "
          f"{result['requests_after_swap']:,} after the swap)")
    print(f"{'errors (after the swap)':<34}{result['errors']:>8} ({result['errors_after_swap']})")
    equal = result["compared_answers"] - result["answers_differing_from_fresh"]
    print(f"{'answers equal to a fresh server':<34}{equal:>8} of {result['compared_answers']}")
    print(f"{'worker RSS at swap / end, MB':<34}{result['rss_mb_at_swap']:>8} / {result['rss_mb_end']} "
          f"(ratio {result['rss_end_over_swap']})")
    print(f"{'callback latency p50 / p95, s':<34}{result['latency_callbacks']['p50_s']:>8} / "
          f"{result['latency_callbacks']['p95_s']}")
    for kind, count in result["error_kinds"].items():
        print(f"  error x{count}: {kind}")
    for kind in result["differing"]:
        print(f"  differs from a fresh server: {kind}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--duration", type=float, default=300.0, help="seconds of load")
    parser.add_argument("--swap-at", type=float, default=0.5, help="when to swap, as a share of the duration")
    parser.add_argument("--think", type=float, default=2.0, help="mean pause between a user's actions, s")
    parser.add_argument("--default-share", type=float, default=0.3, help="share of users on the default view")
    parser.add_argument("--orders", type=int, default=1_000_000, help="orders to generate if data is missing")
    parser.add_argument("--data-dir", default=str(ROOT / "benchmarks" / "data-1m"))
    parser.add_argument("--new-data-dir", default=str(ROOT / "benchmarks" / "data-1m-new"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--check-states", type=int, default=4, help="filter states compared with a fresh server")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--startup-timeout", type=float, default=300.0)
    parser.add_argument("--json", default=None, help="JSON path (default benchmarks/results/swap-soak-<time>.json)")
    parser.add_argument("--quiet", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result = run(args)
    path = write_result("swap-soak", result, args.json)
    print_result(result)
    print(f"JSON: {path}")
    ok = result["errors"] == 0 and result["answers_differing_from_fresh"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
