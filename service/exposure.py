"""The warning every entry point prints when it serves beyond this machine without a password.

``custintel serve``, ``python app.py`` and gunicorn all call :func:`warn_if_exposed`. gunicorn does through
the ``when_ready`` hook of the project's ``gunicorn.conf.py``, which gunicorn reads from the folder it is started
in: the hook sees the addresses gunicorn really bound, however they were given (``-b``, ``GUNICORN_CMD_ARGS``).
Standard library only: gunicorn's master process imports this without loading the app.
"""

from __future__ import annotations

import ipaddress
import os
import sys
from collections.abc import Iterable
from typing import Any, TextIO

#: Set by :func:`warn_if_exposed` once it has warned, so the gunicorn that ``custintel serve --gunicorn``
#: starts does not print the same warning again.
WARNED_ENV = "CUSTINTEL_EXPOSURE_WARNED"


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name, an IPv4/IPv6 address, possibly ``[bracketed]``) is this machine only."""
    host = host.strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # another name, or "" (all addresses): reachable from outside
        return False


def exposure_warning(hosts: Iterable[str], auth: str | None) -> str | None:
    """The warning for serving on ``hosts`` (bind addresses without the port) with ``auth``, or None."""
    exposed = [h for h in hosts if not is_loopback(h)]
    if auth or not exposed:
        return None
    return (f"warning: listening on {', '.join(h or '*' for h in exposed)} without CUSTINTEL_AUTH: anyone who "
            "can reach this port can read the data.")


def warn_if_exposed(hosts: Iterable[str], auth: str | None, entry: str, stream: TextIO | None = None) -> bool:
    """Print ``entry: <warning>`` to ``stream`` (stderr) when :func:`exposure_warning` has one; True if so."""
    message = exposure_warning(hosts, auth)
    if message is None:
        return False
    print(f"{entry}: {message}", file=stream or sys.stderr, flush=True)
    os.environ[WARNED_ENV] = "1"
    return True


def listener_host(address: Any) -> str | None:
    """The host of a bound socket address (``(host, port[, …])``), None for a Unix socket (a path)."""
    if isinstance(address, tuple) and address:
        return str(address[0])
    return None


def gunicorn_when_ready(server: Any) -> None:
    """gunicorn's ``when_ready`` hook: warn about the addresses its master really listens on."""
    if os.environ.get(WARNED_ENV):
        return
    from metrics.settings import load_settings  # the same CUSTINTEL_AUTH the app will read

    try:
        auth = load_settings().auth
    except ValueError:  # a broken setting: the workers will say so when they load the app
        return
    hosts = [h for h in (listener_host(lnr.getsockname()) for lnr in server.LISTENERS) if h is not None]
    warn_if_exposed(hosts, auth, "gunicorn")


__all__ = ["WARNED_ENV", "exposure_warning", "gunicorn_when_ready", "is_loopback", "listener_host",
           "warn_if_exposed"]
