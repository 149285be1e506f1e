"""Bearer-token authentication for /v1 and the principal of the current request."""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

from eventsourcing.persistence import PersistenceError
from flask import Response, current_app, g, request

from api.errors import problem
from api.reads import LOADED_QUERIES, ride_for
from domain.principal import Principal
from persistence.pg_datastore import TRANSIENT
from persistence.stores import position_sql, version_sql
from persistence.tokens import TokenStore
from projections.service import Ride

PROTECTED_PREFIX = "/v1"
log = logging.getLogger(__name__)


def token_store() -> TokenStore:
    return current_app.extensions["tokens"]


def authenticate() -> Response | None:
    """Find the principal behind the bearer token; 401 without a live one."""
    if not request.path.startswith(PROTECTED_PREFIX):
        return None
    ledger, projections = current_app.extensions["ledger"], current_app.extensions["projections"]
    relationship_id = (request.view_args or {}).get("relationship_id")
    asked, params = [ledger.vault.generation_sql, position_sql(ledger), projections.live_sql], ()
    if isinstance(relationship_id, UUID):
        newest, param = version_sql(ledger, relationship_id)
        asked.append(newest)
        params = (param,)
    ride = ride_for(request.endpoint, lambda: token_store().seen_as(bearer_token() or ""))
    # With the token, in one round trip: an erasure by another process (forget what it named), the store's
    # position (nothing written since a relationship was last read: no need to ask the store about it again),
    # the views' live generations and positions (no need to ask which tables to read, nor how far they are),
    # for a request about one relationship its newest version (a command decides on a current copy instead of
    # losing a race) and, for some reads of a view, what they read (api.reads.reads_along).
    principal, along, ride = read_with_token(asked, params, ride)
    generation, position, live, *more = along or (None, None, None)
    ridden = more.pop() if ride is not None else None
    ledger.refresh(generation, position, (relationship_id, more[0]) if more else None)
    if along is not None:  # a token row was read: so was the erasure generation
        token_store().seen_under(generation)
        LOADED_QUERIES.seen_under(generation)
    projections.note_live(live)
    if ride is not None:
        projections.note_along(ride, ridden)
    if principal is None:
        return problem(401, "A valid bearer token is required.",
                       headers={"WWW-Authenticate": 'Bearer realm="mentorship-ledger"'})
    g.principal = principal
    return None


def read_with_token(asked: list[str], params: tuple[Any, ...], ride: Ride | None
                    ) -> tuple[Principal | None, Any, Ride | None]:
    """``bearer_principal_along`` of ``asked`` and of the read riding along, if any: (principal, the values
    read, the ride if its answer came too)."""
    try:
        principal, along = bearer_principal_along(*asked, *([ride.sql] if ride else []),
                                                  params=(*params, *(ride.params if ride else ())))
    except PersistenceError as error:
        if ride is None or isinstance(error, TRANSIENT):
            raise
        # The ride read a generation a rebuild has since dropped: the token alone, the view read after.
        log.info("read along with the token failed (%s); read alone", error)
        return (*bearer_principal_along(*asked, params=params), None)
    return principal, along, ride if along is not None else None


def bearer_principal() -> Principal | None:
    """The principal of the request's bearer token, if it carries a live one."""
    return bearer_principal_along()[0]


def bearer_principal_along(*along: str, params: tuple[Any, ...] = ()) -> tuple[Principal | None, Any]:
    """The principal of the request's bearer token (if live), and the SQL values ``along`` (their parameter
    marks filled from ``params``), in one round trip."""
    token = bearer_token()
    if token:
        return token_store().authenticate_along(token, *along, params=params)
    return None, None


def bearer_token() -> str | None:
    """The request's bearer token, if it sends one."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def current_principal() -> Principal:
    return g.principal
