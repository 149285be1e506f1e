"""API tokens: issued once, stored only as SHA-256 hashes, looked up by a public prefix.

A token reads ``mlt_<prefix>_<secret>``. The prefix (8 characters) names the
token in listings and revocations; the database never holds the secret.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from domain.identifiers import identifier_problem, normalised
from domain.personal import is_reserved
from domain.principal import ROLES, Principal

# The public mark every token starts with; not a secret.
TOKEN_MARK = "mlt"  # nosec B105
PREFIX_LENGTH = 8
SEEN = 10_000  # tokens whose principal a process remembers (``TokenStore.seen_as``)


@dataclass(frozen=True)
class TokenInfo:
    """What may be shown about a token: never the token itself."""

    prefix: str
    principal_id: str
    role: str
    created_at: str
    revoked_at: str | None


class UnknownTokenError(LookupError):
    """No token matches what was given."""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


TOKEN_SHAPE = re.compile(rf"^{TOKEN_MARK}_([0-9a-f]{{{PREFIX_LENGTH}}})_([A-Za-z0-9_-]{{20,100}})$")
PREFIX_SHAPE = re.compile(rf"^[0-9a-f]{{{PREFIX_LENGTH}}}$")


def _split(token: str) -> tuple[str, str] | None:
    """(prefix, secret) of a well-formed token; anything else never reaches the database."""
    match = TOKEN_SHAPE.match(token)
    return (match.group(1), match.group(2)) if match else None


class TokenStore:
    """Bearer tokens in the service's own database (SQLite or PostgreSQL).

    ``datastore`` offers ``transaction(commit=...)`` yielding a DB-API cursor;
    ``placeholder`` is that driver's parameter marker.
    """

    def __init__(self, datastore: Any, placeholder: str = "?", table: str = "api_tokens",
                 reader: Callable[[], AbstractContextManager[Any]] | None = None,
                 execute: Callable[[Any, str, tuple[Any, ...]], None] | None = None) -> None:
        self.datastore = datastore
        self.p = placeholder
        self.table = table
        self.ended_table = table.replace("api_tokens", "page_sessions_ended")
        # A cursor for one read. Every request reads its token, so on a server one round trip
        # (an autocommit SELECT) is worth having over three (BEGIN, SELECT, ROLLBACK).
        self.reader = reader or (lambda: datastore.transaction(commit=False))
        # How the statement every request makes is run (PostgreSQL: prepared once per connection).
        self.execute = execute or (lambda cursor, sql, params: cursor.execute(sql, params))
        # Whom each token stood for when last checked live, by prefix (``seen_as``); at most SEEN at a time,
        # and only while no participant has been erased since (``seen_under``).
        self._seen: dict[str, Principal] = {}
        self._seen_generation: Any = None

    def create_table(self) -> None:
        # On PostgreSQL, DDL under the schema lock: processes starting at once would race on the table.
        schema_change = getattr(self.datastore, "schema_change", None)
        with (schema_change() if schema_change else self.datastore.transaction(commit=True)) as cursor:
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {self.table} ("
                "prefix TEXT PRIMARY KEY, token_hash TEXT NOT NULL, principal_id TEXT NOT NULL, "
                "role TEXT NOT NULL, created_at TEXT NOT NULL, revoked_at TEXT)"
            )
            # Browser sessions signed out before their cookie expired: a copy of the cookie no longer works.
            cursor.execute(f"CREATE TABLE IF NOT EXISTS {self.ended_table} (session_id TEXT PRIMARY KEY, "
                           "ended_at TEXT NOT NULL)")

    def issue(self, principal_id: str, role: str) -> str:
        """Create a token for a principal in a role; the only time the token is seen."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        principal_id = normalised(principal_id)
        problem_text = identifier_problem(principal_id)
        if problem_text is None and is_reserved(principal_id):
            problem_text = "ids starting with '~' or 'erased:' stand for pseudonyms and erased participants"
        if problem_text is not None:
            raise ValueError(f"not a principal id: {problem_text}")
        prefix = secrets.token_hex(PREFIX_LENGTH // 2)
        token = f"{TOKEN_MARK}_{prefix}_{secrets.token_urlsafe(32)}"
        now = datetime.now(timezone.utc).isoformat()
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                f"INSERT INTO {self.table} (prefix, token_hash, principal_id, role, created_at) "
                f"VALUES ({self.p}, {self.p}, {self.p}, {self.p}, {self.p})",
                (prefix, _digest(token), principal_id, role, now),
            )
        return token

    def authenticate(self, token: str) -> Principal | None:
        """The principal a live token stands for, else None. Compared in constant time."""
        return self.authenticate_along(token)[0]

    def authenticate_along(self, token: str, *along: str, params: tuple[Any, ...] = ()
                           ) -> tuple[Principal | None, tuple[Any, ...] | None]:
        """``authenticate``, and the values of the SQL expressions ``along`` read in the same round trip (every
        request reads its token: what else it must read can come with it); None without a token row.
        ``params``: the values of the parameter marks in ``along``, in order."""
        parts = _split(token)
        if parts is None:
            return None, None
        extra = "".join(f", {expression}" for expression in along)
        with self.reader() as cursor:
            self.execute(cursor, f"SELECT token_hash, principal_id, role, revoked_at{extra} FROM {self.table} "
                                 f"WHERE prefix = {self.p}", (*params, parts[0]))
            row = cursor.fetchone()
        principal = self._live(token, row)
        if principal is not None:
            if len(self._seen) >= SEEN:
                self._seen.clear()
            self._seen[parts[0]] = principal
        else:
            self._seen.pop(parts[0], None)
        return principal, (tuple(row[4:]) if row is not None else None)

    def seen_as(self, token: str) -> Principal | None:
        """Whom ``token`` stood for when this process last found it live: a guess, never an authentication
        (a read made for it ahead is used only if the token, checked in the same statement, still does)."""
        parts = _split(token)
        return self._seen.get(parts[0]) if parts else None

    def seen_under(self, generation: Any) -> None:
        """The erasure generation read with this request's token: once it moves, forget whom every token
        stood for (an erased participant's id is not kept in memory, and their tokens are gone)."""
        if generation != self._seen_generation:
            self._seen.clear()
            self._seen_generation = generation

    def _live(self, token: str, row: Any) -> Principal | None:
        if row is None or row[3] is not None:
            return None
        if not hmac.compare_digest(row[0], _digest(token)):
            return None
        return Principal(row[1], row[2])

    def session_key(self, token: str) -> tuple[str, str] | None:
        """What a browser session keeps of a live token instead of the token: (prefix, its stored hash)."""
        if self.authenticate(token) is None:
            return None
        parts = _split(token)
        return (parts[0], _digest(token)) if parts else None

    def by_session_key(self, prefix: str, token_hash: str) -> Principal | None:
        """The principal of a session's token, if that token is still live (revocation and erasure apply)."""
        with self.reader() as cursor:
            cursor.execute(f"SELECT token_hash, principal_id, role, revoked_at FROM {self.table} "
                           f"WHERE prefix = {self.p}", (prefix,))
            row = cursor.fetchone()
        if row is None or row[3] is not None or not hmac.compare_digest(row[0], token_hash):
            return None
        return Principal(row[1], row[2])

    def end_session(self, session_id: str, older_than: datetime) -> None:
        """A browser session signed out; forget the ones whose cookies have expired anyway."""
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(f"DELETE FROM {self.ended_table} WHERE ended_at < {self.p}", (older_than.isoformat(),))
            cursor.execute(f"INSERT INTO {self.ended_table} (session_id, ended_at) VALUES ({self.p}, {self.p}) "
                           "ON CONFLICT (session_id) DO NOTHING", (session_id, datetime.now(timezone.utc).isoformat()))

    def session_ended(self, session_id: str) -> bool:
        with self.reader() as cursor:
            cursor.execute(f"SELECT 1 FROM {self.ended_table} WHERE session_id = {self.p}", (session_id,))
            return cursor.fetchone() is not None

    def revoke(self, token_or_prefix: str) -> TokenInfo:
        """Revoke a token, named by itself or by its prefix; effective on the next request."""
        parts = _split(token_or_prefix)
        prefix = parts[0] if parts else token_or_prefix
        if not PREFIX_SHAPE.match(prefix):
            raise UnknownTokenError("give a token or its 8-character prefix")
        now = datetime.now(timezone.utc).isoformat()
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                f"UPDATE {self.table} SET revoked_at = {self.p} WHERE prefix = {self.p} AND revoked_at IS NULL",
                (now, prefix),
            )
        for info in self.list():
            if info.prefix == prefix:
                return info
        raise UnknownTokenError(f"no token with prefix {prefix!r}")

    def of(self, principal_id: str) -> list[TokenInfo]:
        """The tokens issued to one principal (in any role), without secrets."""
        return [info for info in self.list() if info.principal_id == principal_id]

    def delete_for(self, principal_id: str) -> None:
        """Delete every token of a principal (erasure: their tokens and their id must go)."""
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(f"DELETE FROM {self.table} WHERE principal_id = {self.p}", (principal_id,))

    def list(self) -> list[TokenInfo]:
        """Every token ever issued, oldest first, without secrets."""
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                f"SELECT prefix, principal_id, role, created_at, revoked_at FROM {self.table} "
                "ORDER BY created_at, prefix"
            )
            rows = cursor.fetchall()
        return [TokenInfo(*tuple(row)) for row in rows]
