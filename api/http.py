"""HTTP plumbing shared by every endpoint: JSON encoding, body checks, security headers."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from typing import Any
from uuid import UUID

from flask import Flask, Response, current_app, request
from flask.json.provider import DefaultJSONProvider

from api.errors import problem

BODY_METHODS = ("POST", "PUT", "PATCH")
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def rfc3339(moment: datetime) -> str:
    """A UTC time as RFC 3339 with a Z and microseconds, e.g. 2026-01-15T09:30:00.000000Z."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LedgerJSONProvider(DefaultJSONProvider):
    """JSON with RFC 3339 UTC times and UUIDs as strings."""

    sort_keys = False

    @staticmethod
    def default(o: Any) -> Any:
        if isinstance(o, datetime):
            return rfc3339(o)
        if isinstance(o, date):
            return o.isoformat()
        if isinstance(o, UUID):
            return str(o)
        return DefaultJSONProvider.default(o)


def check_headers() -> Response | None:
    """Refuse requests whose headers together exceed the limit (431)."""
    limit = current_app.config["MAX_HEADER_BYTES"]
    size = sum(len(name) + len(value) + 4 for name, value in request.headers.items())
    if size > limit:
        return problem(431, f"The request headers are larger than the limit of {limit} bytes.")
    return None


def check_body() -> Response | None:
    """Refuse an unreadable (400), oversized (413) or non-JSON (415) body before anything else."""
    if request.method not in BODY_METHODS:
        return None
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if request.content_length is not None and request.content_length > limit:
        return problem(413, f"The body is larger than the limit of {limit} bytes.")
    data = request.get_data(cache=True)
    if not data:
        return None
    if not request.is_json:
        return problem(415, "Send the body as application/json.")
    try:
        json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return problem(400, "The body is not valid JSON.")
    return None


def add_security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.path.startswith("/v1"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def install(app: Flask) -> None:
    app.json = LedgerJSONProvider(app)
    app.before_request(check_headers)
    app.before_request(check_body)
    app.after_request(add_security_headers)
