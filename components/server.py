"""Serving safely: optional HTTP basic authentication, security headers and a request-size limit.

``install_security(server, settings)`` is called once by ``app.py`` right after the Dash app is built.
With ``CUSTINTEL_AUTH=user:password`` set, every request except the health check needs those
credentials (HTTP basic auth: use it behind HTTPS, or on a trusted network only). Without it, nothing is
asked, which is meant for the default bind address 127.0.0.1 (this machine only).

Dash registers its own lazy set-up hooks when the app is constructed, before this one, so the app's
warm-up request at import still wires the callbacks even when it is answered with 401.
"""

from __future__ import annotations

import base64
import hmac

from flask import Flask, Response, request

from metrics.settings import Settings

#: Paths answered without credentials (load balancers and uptime checks need no password).
PUBLIC_PATHS: frozenset[str] = frozenset({"/health"})
#: Largest request body accepted; Dash callback payloads are a few kB.
MAX_REQUEST_BYTES = 1_000_000
REALM = "Customer Intelligence"
SECURITY_HEADERS: dict[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "SAMEORIGIN",
    "Referrer-Policy": "same-origin",
}
_MARK = "custintel_security"


def parse_credentials(auth: str) -> tuple[str, str]:
    """``"user:password"`` → (user, password); the password may itself contain ':'."""
    user, sep, password = auth.partition(":")
    if not sep or not user:
        raise ValueError("credentials must look like user:password")
    return user, password


def basic_auth_header(auth: str) -> dict[str, str]:
    """The ``Authorization`` header for ``user:password`` (for clients, tests and the load test)."""
    token = base64.b64encode(auth.encode("utf-8")).decode("ascii")
    return {"Authorization": f"Basic {token}"}


def _matches(given: str | None, expected: str) -> bool:
    return hmac.compare_digest((given or "").encode("utf-8"), expected.encode("utf-8"))


def install_security(server: Flask, settings: Settings, *, max_request_bytes: int = MAX_REQUEST_BYTES) -> None:
    """Add basic auth (when ``settings.auth`` is set), security headers and a body-size limit to ``server``.

    Calling it twice does nothing the second time. ``/health`` stays public.
    """
    if server.extensions.get(_MARK):
        return
    server.extensions[_MARK] = True
    server.config["MAX_CONTENT_LENGTH"] = max_request_bytes  # enforced when a view reads the body ...

    @server.before_request
    def refuse_large_bodies() -> Response | None:  # ... and here, before any work, from the declared length
        if request.content_length is not None and request.content_length > max_request_bytes:
            return Response("Request too large.\n", 413)
        return None

    if settings.auth:
        user, password = parse_credentials(settings.auth)

        @server.before_request
        def require_basic_auth() -> Response | None:
            if request.path in PUBLIC_PATHS:
                return None
            given = request.authorization
            # Compare both parts every time, so the answer takes as long for a wrong user as a wrong password.
            ok_user = _matches(given.username if given else None, user)
            ok_password = _matches(given.password if given else None, password)
            if given is not None and given.type == "basic" and ok_user and ok_password:
                return None
            return Response("Authentication required.\n", 401,
                            {"WWW-Authenticate": f'Basic realm="{REALM}", charset="UTF-8"'})

    @server.after_request
    def add_security_headers(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response


__all__ = ["MAX_REQUEST_BYTES", "PUBLIC_PATHS", "basic_auth_header", "install_security", "parse_credentials"]
