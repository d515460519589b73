"""What every benchmark needs: its data (generated once, seeded), and a results file in
``benchmarks/results/<kind>-<time>.json`` with the machine facts needed to compare runs across commits
(a loaded machine explains a slow run)."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
DATA_SEED = 42


def ensure_data(folder: Path, orders: int) -> Path:
    """Generate ``orders`` orders (seed 42) into ``folder`` unless it already holds every table."""
    from metrics.schema import TABLES

    if not all((folder / name).is_dir() for name in TABLES):
        from generate_data import generate

        print(f"generating {orders:,} orders into {folder} ...", file=sys.stderr, flush=True)
        generate(folder, orders=orders, seed=DATA_SEED, progress=True)
    return folder


def machine_info() -> dict[str, Any]:
    return {"load_average_at_end": os.getloadavg(), "cpus": os.cpu_count(),
            "python": platform.python_version(), "platform": platform.platform()}


def write_result(kind: str, result: dict[str, Any], out: str | None = None) -> Path:
    """Write ``result`` as JSON to ``out`` or to a new time-stamped file; returns the path."""
    path = Path(out) if out else RESULTS / f"{kind}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, default=str))
    return path
