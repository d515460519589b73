"""Runtime settings, read from environment variables (the CLI can override them).

| variable | default | meaning |
|---|---|---|
| CUSTINTEL_DATA_DIR | ./data | folder of the Parquet star schema (or an object-store URI on Spark) |
| CUSTINTEL_BACKEND | duckdb | query engine: ``duckdb`` (embedded) or ``spark`` |
| CUSTINTEL_SPARK_MASTER | local[2] | Spark master URL when the backend is ``spark`` |
| CUSTINTEL_HOST | 127.0.0.1 | address the web server binds |
| CUSTINTEL_PORT | 8050 | port of the web server |
| CUSTINTEL_CACHE_SIZE | 64 | filter states whose results are kept in memory |
| CUSTINTEL_CACHE_DIR | ~/.cache/custintel | results shared by the server's processes; ``off`` = none |
| CUSTINTEL_CACHE_MB | 1024 | size cap of that folder, MB (least recently used results go first) |
| CUSTINTEL_AUTH | (unset) | ``user:password`` turns on HTTP basic authentication |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

BACKENDS = ("duckdb", "spark")
PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    data_dir: str = str(PROJECT_ROOT / "data")
    backend: str = "duckdb"
    spark_master: str = "local[2]"
    host: str = "127.0.0.1"
    port: int = 8050
    cache_size: int = 64
    auth: str | None = None
    cache_dir: str = ""  # "" = the default folder, "off" = no shared cache
    cache_mb: int = 1024
    #: Bound of the in-memory result cache of one server process (materialised tables included), in MB.
    memory_mb: int = 2048
    #: Compile each query shape once and bind its values (DuckDB; see :mod:`metrics.shapes`). Off compiles
    #: every query afresh (for comparisons and benchmarks).
    query_shapes: bool = True

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        if not 0 < self.port < 65536:
            raise ValueError(f"port must be between 1 and 65535, got {self.port}")
        if self.cache_size < 1:
            raise ValueError(f"cache size must be at least 1, got {self.cache_size}")
        if self.cache_mb < 1:
            raise ValueError(f"cache MB must be at least 1, got {self.cache_mb}")
        if self.memory_mb < 1:
            raise ValueError(f"memory MB must be at least 1, got {self.memory_mb}")
        if self.auth is not None and ":" not in self.auth:
            raise ValueError("CUSTINTEL_AUTH must look like user:password")


def load_settings(env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Settings from environment variables, then explicit overrides (e.g. CLI flags) on top."""
    env = os.environ if env is None else env
    values: dict[str, object] = {}
    for field, cast in (("data_dir", str), ("backend", str), ("spark_master", str), ("host", str),
                        ("port", int), ("cache_size", int), ("auth", str), ("cache_dir", str),
                        ("cache_mb", int), ("memory_mb", int)):
        raw = env.get(f"CUSTINTEL_{field.upper()}")
        if raw not in (None, ""):
            try:
                values[field] = cast(raw)
            except ValueError as exc:
                raise ValueError(f"CUSTINTEL_{field.upper()}={raw!r} is not a valid {cast.__name__}") from exc
    shapes = env.get("CUSTINTEL_QUERY_SHAPES", "").strip().lower()
    if shapes:
        if shapes not in ("on", "off"):
            raise ValueError(f"CUSTINTEL_QUERY_SHAPES={shapes!r} must be on or off")
        values["query_shapes"] = shapes == "on"
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(**values)  # type: ignore[arg-type]
