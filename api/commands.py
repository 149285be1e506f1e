"""What every command endpoint shares: access checks before the body, headers in and out."""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Callable
from typing import Any
from uuid import UUID

from flask import current_app, request
from flask_smorest import abort
from marshmallow import Schema

from api.auth import current_principal
from api.blueprint import Blueprint
from api.limits import retry_after
from api.reads import keep_views_current, queries
from domain.commands import CommandResult
from domain.ledger import MentorshipLedger
from domain.principal import CommandContext

ETAG = re.compile(r'^\s*(?:W/)?"(\d{1,18})"\s*$')
MAX_KEY_LENGTH = 200


def ledger() -> MentorshipLedger:
    return current_app.extensions["ledger"]


SUBJECTS = ("feedback_id", "action_id", "concern_id")  # path ids of what a command acts on inside a relationship


def endpoint(blp: Any, rule: str, command: Callable[..., CommandResult], body: type[Schema],
             answers: type[Schema], status: int = 201,
             location: Callable[[CommandResult], str] | None = None) -> None:
    """A POST endpoint for a use case of the ledger: 404 and 403 before the body, then 422, then the command.

    Its OpenAPI summary is the use case's docstring; its answer, the use case's, dumped by ``answers``.
    """

    def view(loaded: dict[str, Any], **ids: UUID) -> Any:
        result = run(command, *in_order(ids), **loaded)
        return answer(result, location(result) if location else None)

    view.__name__, view.__doc__ = command.__name__, command.__doc__
    limited = blp.alt_response(429, response="TOO_MANY_REQUESTS",
                               description="Too many commands from the caller to this relationship (Retry-After).")
    blp.route(rule, methods=["POST"])(may(command)(blp.arguments(body)(limited(blp.response(status, answers)(view)))))


def in_order(ids: dict[str, Any]) -> list[Any]:
    """The ids of a path, the relationship first, then what the command acts on inside it."""
    return [ids[name] for name in ("relationship_id", *SUBJECTS) if name in ids]


def may(command: Callable[..., CommandResult]) -> Callable:
    """Check visibility (404) and role (403) for ``command`` (a use case of the ledger) before the body (422)."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            ledger().check_may(current_principal(), command, *in_order(kwargs))
            no_query()
            return view(*args, **kwargs)

        return wrapper

    return decorator


NO_QUERY = Schema()  # what a command takes in its query string: nothing


def no_query() -> None:
    """A command takes nothing in its query string: any parameter is 422 "Unknown field", as on every read
    (after 404 and 403, before the body; before, ``?foo=1`` or ``?_method=GET`` went unread and the command
    was carried out)."""
    if request.query_string:
        Blueprint.ARGUMENTS_PARSER.parse(NO_QUERY, location="query")


def admitted(check: Callable[..., None]) -> Callable:
    """``check(principal, **path arguments)`` before the query is validated: 404 (not visible) and 403 (role)
    come before 422, in the contract's order, on reads as on commands."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            check(current_principal(), **kwargs)
            return view(*args, **kwargs)

        return wrapper

    return decorator


visible = admitted(lambda principal, relationship_id: ledger().check_visible(principal, relationship_id))
overseers_only = admitted(lambda principal: queries().require_overseer(principal))


def command_context() -> CommandContext:
    """Idempotency-Key, a fingerprint of what was asked, and If-Match, from the request."""
    return CommandContext(key=idempotency_key(), fingerprint=fingerprint(), expected_version=expected_version())


def idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    key = key.strip(" \t") if key is not None else None  # optional whitespace is not part of a field value
    if key is not None and not (1 <= len(key) <= MAX_KEY_LENGTH and key.isprintable()):
        abort(422, messages={"Idempotency-Key": [f"Give 1 to {MAX_KEY_LENGTH} printable characters."]})
    return key


def fingerprint() -> str:
    """Method, path and the JSON value of the body: equal for a faithful retry."""
    raw = request.get_data(cache=True)
    body = json.loads(raw) if raw else {}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{request.method} {request.path}\n{canonical}".encode()).hexdigest()


def expected_version() -> int | None:
    header = request.headers.get("If-Match")
    if header is None or header.strip() == "*":
        return None
    match = ETAG.match(header)
    if match is None:
        abort(412, message='If-Match must be an ETag of the relationship, e.g. "3".')
    return int(match.group(1))


def run(command: Callable[..., CommandResult], *ids: Any, **arguments: Any) -> CommandResult:
    """Run a use case of the ledger for the caller, with the request's Idempotency-Key and If-Match."""
    principal = current_principal()
    context = command_context()
    # Commands on a relationship are limited per caller and relationship; starting one (coordinators
    # importing a cohort) is not.
    wait = current_app.extensions["limiter"].wait_needed((principal.id, principal.role, ids[0])) if ids else 0
    if wait:
        abort(429, message="Too many commands to this relationship; slow down.",
              headers={"Retry-After": retry_after(wait)})
    return command(ledger(), principal, *ids, context=context, **arguments)


def answer(result: CommandResult, location: str | None = None) -> tuple[dict, dict[str, str]]:
    """The command's body with ETag, X-Position and, for a repeat, Idempotent-Replayed."""
    keep_views_current(within=current_app.config["CATCH_UP_WITHIN"])
    headers = {"ETag": f'"{result.version}"'}
    if result.position is not None:
        headers["X-Position"] = str(result.position)
    if result.replayed:
        headers["Idempotent-Replayed"] = "true"
    if location:
        headers["Location"] = location
    return result.body, headers
