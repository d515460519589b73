"""The Spark backend: the same Ibis metric code, run by Spark instead of embedded DuckDB.

Chosen with ``CUSTINTEL_BACKEND=spark``. ``CUSTINTEL_SPARK_MASTER`` picks the cluster (``local[2]`` by
default: Spark inside this process on two cores) and ``CUSTINTEL_DATA_DIR`` may be an object-store URI
such as ``s3a://bucket/custintel`` (the cluster needs the matching Hadoop connector and credentials,
configured the usual Spark way: ``spark-defaults.conf`` under ``SPARK_CONF_DIR``).

One Spark application (SparkContext, JVM) serves the whole process. Every :class:`~metrics.engine.Engine`
gets its own Spark *session* on it (``newSession()``): sessions share the executors and the cache but
keep their own temporary views, so two engines over different data folders never see each other's
``fact_orders``.

pyspark is an optional extra (``pip install .[spark]``); nothing imports it unless Spark is chosen.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from metrics.settings import Settings

APP_NAME = "customer-intelligence"
LOOPBACK = "127.0.0.1"

_BASE_SESSION: SparkSession | None = None
_LOCK = threading.Lock()


class SparkNotInstalledError(ImportError):
    """The Spark backend was chosen but pyspark is not installed."""


def is_local_master(master: str) -> bool:
    """True for ``local``, ``local[n]``, ``local[*]``: Spark runs inside this process."""
    return master == "local" or master.startswith("local[")


def local_cores(master: str) -> int:
    """Worker threads of a local master: ``local`` 1, ``local[n]`` n, ``local[*]`` all cores."""
    inside = master[len("local["):-1] if master.startswith("local[") else "1"
    count = inside.split(",")[0].strip()  # local[n, maxFailures]
    if count == "*":
        return os.cpu_count() or 1
    return max(int(count), 1) if count.isdigit() else 1


def local_driver_memory() -> str:
    """Heap of a local Spark driver: a quarter of the machine's memory, between 1 and 8 GB."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return "2g"
    return f"{min(max(total // 4 // 2**30, 1), 8)}g"


def _import_pyspark() -> Any:
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise SparkNotInstalledError(
            "CUSTINTEL_BACKEND=spark needs pyspark, an optional extra: run `pip install .[spark]` "
            "(or `pip install 'customer-intelligence[spark]'`) and make sure Java 17 is installed"
        ) from exc
    return SparkSession


def session_conf(settings: Settings) -> dict[str, str]:
    """SQL settings of every session (they are per session, so each new session gets them again)."""
    conf = {
        "spark.sql.session.timeZone": "UTC",
        # pandas results through Arrow instead of row-by-row pickling
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.execution.arrow.pyspark.fallback.enabled": "true",
    }
    if is_local_master(settings.spark_master):
        # Spark's default of 200 shuffle partitions makes every small local query slow; one per core
        conf["spark.sql.shuffle.partitions"] = str(local_cores(settings.spark_master))
    return conf


def spark_conf(settings: Settings, scratch_dir: str) -> dict[str, str]:
    """The builder settings of the Spark application.

    For a local master the driver binds the loopback interface only (nothing is exposed to the
    network). For a cluster master the driver address is left to the cluster's own configuration
    (``SPARK_LOCAL_IP`` / ``spark.driver.host`` in ``spark-defaults.conf``), because executors on other
    machines must reach it. Spark's web UI is off; tables Spark would create go to a temporary folder
    under ``scratch_dir`` instead of ``./spark-warehouse``.
    """
    conf = {
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",  # no progress bars in the server log
        "spark.sql.warehouse.dir": str(Path(scratch_dir) / "warehouse"),
        **session_conf(settings),
    }
    if is_local_master(settings.spark_master):
        conf.update(
            {
                # a local master runs every task inside the driver JVM, whose default heap (1 GB) fails
                # at ~1M orders ("Not enough memory to build and broadcast the table")
                "spark.driver.memory": os.environ.get("SPARK_DRIVER_MEMORY") or local_driver_memory(),
                "spark.driver.bindAddress": LOOPBACK,
                "spark.driver.host": LOOPBACK,
                "spark.default.parallelism": str(local_cores(settings.spark_master)),
                # errors only, from the first line the JVM logs (setLogLevel comes after start-up)
                "spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile={log_config_path(scratch_dir)}",
            }
        )
    return conf


#: log4j2 configuration of a local driver: errors only, to stderr.
QUIET_LOG_CONFIG = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex
"""


def log_config_path(scratch_dir: str) -> Path:
    return Path(scratch_dir) / "log4j2-errors-only.properties"


def spark_session(settings: Settings) -> SparkSession:
    """The process's Spark application, started on first use (later calls reuse it).

    Spark allows one SparkContext per process, so the master of the first call wins; a later call
    asking for another master gets an error instead of silently running elsewhere.
    """
    global _BASE_SESSION
    SparkSession = _import_pyspark()
    with _LOCK:
        if _BASE_SESSION is not None and _BASE_SESSION.sparkContext._jsc is not None:
            running = _BASE_SESSION.sparkContext.master
            if running != settings.spark_master:
                raise RuntimeError(
                    f"a Spark application with master {running!r} is already running in this process; "
                    f"cannot switch to {settings.spark_master!r} (restart the process)"
                )
            return _BASE_SESSION
        if is_local_master(settings.spark_master):
            os.environ.setdefault("SPARK_LOCAL_IP", LOOPBACK)  # read when the JVM starts
        builder = SparkSession.builder.master(settings.spark_master).appName(APP_NAME)
        scratch = tempfile.mkdtemp(prefix="custintel-spark-")
        atexit.register(shutil.rmtree, scratch, ignore_errors=True)
        log_config_path(scratch).write_text(QUIET_LOG_CONFIG)
        for key, value in spark_conf(settings, scratch).items():
            builder = builder.config(key, value)
        session = builder.getOrCreate()
        session.sparkContext.setLogLevel("ERROR")  # window functions warn on every query otherwise
        _BASE_SESSION = session
        return session


def _backend_class() -> type:
    # ibis.pyspark loads the backend and registers its options; its compile() is bound to an instance
    Backend = type(ibis.pyspark.compile.__self__)

    class SparkBackend(Backend):  # type: ignore[misc, valid-type]
        """Ibis's PySpark backend, registering in-memory tables before caching an expression.

        Ibis 12 registers ``ibis.memtable`` tables in Spark only when an expression is *executed*;
        ``expr.cache()`` (what :meth:`Engine.materialize` does on Spark) compiled a query naming a view
        that did not exist yet (TABLE_OR_VIEW_NOT_FOUND), e.g. model scores joined back to the mart.
        """

        def _create_cached_table(self, name: str, expr: Any) -> Any:
            self._run_pre_execute_hooks(expr)
            return super()._create_cached_table(name, expr)

    return SparkBackend


def connect_spark(settings: Settings) -> ibis.BaseBackend:
    """An Ibis connection on a fresh Spark session (own temporary views) of the process's application."""
    base = spark_session(settings)
    return _backend_class()().connect(base.newSession(), **session_conf(settings))


def stop_spark() -> None:
    """Stop the process's Spark application (tests and scripts call it at the end)."""
    global _BASE_SESSION
    with _LOCK:
        if _BASE_SESSION is not None:
            _BASE_SESSION.stop()
            _BASE_SESSION = None


__all__ = [
    "SparkNotInstalledError",
    "connect_spark",
    "is_local_master",
    "session_conf",
    "spark_conf",
    "spark_session",
    "stop_spark",
]
