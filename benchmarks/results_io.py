"""Where benchmark results go: ``benchmarks/results/<kind>-<time>.json`` plus the facts about the machine
needed to compare runs across commits (a loaded machine explains a slow run)."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def machine_info() -> dict[str, Any]:
    return {"load_average_at_end": os.getloadavg(), "cpus": os.cpu_count(),
            "python": platform.python_version(), "platform": platform.platform()}


def write_result(kind: str, result: dict[str, Any], out: str | None = None) -> Path:
    """Write ``result`` as JSON to ``out`` or to a new time-stamped file; returns the path."""
    path = Path(out) if out else RESULTS / f"{kind}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, default=str))
    return path
