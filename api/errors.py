"""Every error the service answers, as RFC 9457 application/problem+json, mapped in one place."""

from __future__ import annotations

import logging
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError, PersistenceError
from flask import Flask, Response, json
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from domain import errors
from projections.service import ProjectionsNotCaughtUpError

PROBLEM_BASE = "urn:mentorship-ledger:problem:"
PROBLEM_JSON = "application/problem+json"
STORE_UNAVAILABLE = "The event store is unavailable; try again shortly."

log = logging.getLogger(__name__)

# Domain error families, most specific first.
DOMAIN_STATUSES: list[tuple[type[errors.LedgerError], int, str]] = [
    (errors.ParticipantErasedError, 410, "participant-erased"),
    (errors.ErasedParticipantError, 409, "erased-participant"),
    (errors.StoreNotMigratedError, 409, "store-not-migrated"),
    (errors.NotFoundError, 404, "not-found"),
    (errors.NotPermittedError, 403, "forbidden"),
    (errors.IdempotencyKeyReusedError, 422, "idempotency-key-reused"),
    (errors.InvalidCommandError, 422, "invalid-command"),
    (errors.VersionMismatchError, 412, "version-mismatch"),
    (errors.RuleBrokenError, 409, "rule-broken"),
]

HTTP_SLUGS = {
    400: "malformed-request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    410: "gone",
    412: "version-mismatch",
    413: "body-too-large",
    414: "uri-too-long",
    415: "unsupported-media-type",
    422: "validation-failed",
    429: "too-many-requests",
    431: "headers-too-large",
    500: "internal-error",
    501: "not-implemented",
    503: "unavailable",
}


def problem(status: int, detail: str, *, title: str | None = None, slug: str | None = None,
            headers: dict[str, str] | None = None, **extra: Any) -> Response:
    """A problem+json response."""
    body = {
        "type": PROBLEM_BASE + (slug or HTTP_SLUGS.get(status, "error")),
        "title": title or HTTP_STATUS_CODES.get(status, "Error"),
        "status": status,
        "detail": detail,
        **extra,
    }
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def invalid(field_errors: dict[str, list[str]], headers: dict[str, str] | None = None) -> Response:
    """422: the fields named, each with what is wrong with it."""
    return problem(422, "The request did not pass validation.", title="Validation failed",
                   headers=headers, errors=field_errors)


def flatten_validation_messages(messages: Any) -> dict[str, list[str]]:
    """webargs nests messages by location ({"json": {"field": [...]}}); clients want field -> messages."""
    flat: dict[str, list[str]] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), inner)
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            flat.setdefault(prefix or "_schema", []).extend(value)
        else:
            flat.setdefault(prefix or "_schema", []).append(str(value))

    if isinstance(messages, dict):
        for location_or_field, inner in messages.items():
            nested = location_or_field in ("json", "query", "querystring", "headers", "view_args")
            walk("" if nested else str(location_or_field), inner)
    else:
        walk("", messages)
    return flat


def handle_http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
    headers.update(data.get("headers") or {})
    if status == 422 and "messages" in data:
        return invalid(flatten_validation_messages(data["messages"]), headers=headers)
    if status >= 500:
        log.error("unexpected server error %s", status)
        return problem(status, "The service failed to answer this request.", headers=headers)
    detail = data.get("message") or error.description or HTTP_STATUS_CODES.get(status, "Error")
    return problem(status, detail, headers=headers)


def status_of(error: errors.LedgerError) -> int:
    """The HTTP status of a domain error (its family's)."""
    return _family(error)[0]


def _family(error: errors.LedgerError) -> tuple[int, str]:
    return next(((status, slug) for family, status, slug in DOMAIN_STATUSES if isinstance(error, family)),
                (409, "rule-broken"))


def handle_ledger_error(error: errors.LedgerError) -> Response:
    """The family of a domain error decides its status; an error about one input names it, as validation does;
    one that contention caused says when to try again (Retry-After)."""
    status, slug = _family(error)
    extra = {"errors": {error.field: [str(error)]}} if error.field else {}
    headers = {"Retry-After": str(error.retry_after)} if error.retry_after is not None else None
    return problem(status, str(error), title=error.title, slug=slug, headers=headers, **extra)


def handle_store_error(error: PersistenceError) -> Response:
    if isinstance(error, OperationalError | InterfaceError):
        log.warning("store unavailable: %s", type(error).__name__)
        return problem(503, STORE_UNAVAILABLE,
                       headers={"Retry-After": "1"})
    log.error("store error: %s", type(error).__name__)
    return problem(500, "The service failed to answer this request.")


def handle_not_caught_up(error: ProjectionsNotCaughtUpError) -> Response:
    return problem(503, "The views have not reached that position yet; try again shortly.",
                   title="Views not caught up", slug="not-caught-up", headers={"Retry-After": "1"})


def handle_unexpected(error: Exception) -> Response:
    log.exception("unhandled error answering a request")
    return problem(500, "The service failed to answer this request.")


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(errors.LedgerError, handle_ledger_error)
    app.register_error_handler(PersistenceError, handle_store_error)
    app.register_error_handler(ProjectionsNotCaughtUpError, handle_not_caught_up)
    app.register_error_handler(Exception, handle_unexpected)
