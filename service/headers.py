"""Response headers that tell the browser what the app's pages may do: the Content-Security-Policy and the
usual safe defaults.

The policy allows nothing from another origin (``default-src 'self'``). Dash writes a few inline scripts
into every page (the renderer's start and any clientside callbacks): they are allowed by their hashes
(``dash.Dash.csp_hashes()``), not by ``'unsafe-inline'``. Styles do need ``'unsafe-inline'``: Plotly and
AG Grid set ``style`` attributes and add ``<style>`` elements as they draw. Images and fonts may also come
from ``data:`` URLs (AG Grid's icons, Plotly's "download as PNG").
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

SECURITY_HEADERS: dict[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "SAMEORIGIN",  # frame-ancestors below says the same to browsers that read CSP
    "Referrer-Policy": "same-origin",
}

#: The policy's directives; ``script-src`` gets the inline scripts' hashes added.
CSP_DIRECTIVES: dict[str, str] = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self' 'unsafe-inline'",
    "img-src": "'self' data: blob:",
    "font-src": "'self' data:",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'self'",
}

_HASH_LOCK = threading.Lock()


def content_security_policy(script_hashes: Iterable[str] = ()) -> str:
    """The ``Content-Security-Policy`` value allowing the inline scripts with these CSP hashes."""
    directives = dict(CSP_DIRECTIVES)
    hashes = " ".join(dict.fromkeys(script_hashes))  # in order, once each
    if hashes:
        directives["script-src"] += " " + hashes
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def dash_script_hashes(dash_app: Any) -> list[str]:
    """The hashes of the Dash app's inline scripts (none when there is no Dash app)."""
    if dash_app is None:
        return []
    with _HASH_LOCK:  # csp_hashes() moves the clientside callbacks' scripts into the app: once at a time
        return list(dash_app.csp_hashes())


__all__ = ["CSP_DIRECTIVES", "SECURITY_HEADERS", "content_security_policy", "dash_script_hashes"]
