"""Bearer-token authentication for /v1 and the principal of the current request."""

from __future__ import annotations

from flask import Response, current_app, g, request

from api.errors import problem
from domain.principal import Principal
from persistence.tokens import TokenStore

PROTECTED_PREFIX = "/v1"


def token_store() -> TokenStore:
    return current_app.extensions["tokens"]


def authenticate() -> Response | None:
    """Find the principal behind the bearer token; 401 without a live one."""
    if not request.path.startswith(PROTECTED_PREFIX):
        return None
    current_app.extensions["ledger"].refresh()  # an erasure by another process: forget what it named
    principal = bearer_principal()
    if principal is None:
        return problem(401, "A valid bearer token is required.",
                       headers={"WWW-Authenticate": 'Bearer realm="mentorship-ledger"'})
    g.principal = principal
    return None


def bearer_principal() -> Principal | None:
    """The principal of the request's bearer token, if it carries a live one."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token_store().authenticate(token.strip())
    return None


def current_principal() -> Principal:
    return g.principal
