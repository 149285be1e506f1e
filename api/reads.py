"""What every query endpoint shares: fresh-enough views (read-your-writes) and the read-side services."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import current_app, request
from flask_smorest import abort
from marshmallow import Schema, ValidationError

from api.fields import Cursor
from domain.principal import Principal

from projections.queries import LedgerQueries
from projections.service import Projections, Ride

log = logging.getLogger(__name__)


def projections() -> Projections:
    return current_app.extensions["projections"]


def queries() -> LedgerQueries:
    return current_app.extensions["queries"]


def inline() -> bool:
    return current_app.config["PROJECTIONS_MODE"] == "inline"


# Reads of a view that ride along with the token's statement (one round trip instead of two), by endpoint:
# each gives the read for the request (its path and query), made for whom the token stood for when last
# seen (None: not seen), or None (``api.auth.authenticate`` makes it; the endpoint uses it if it still fits).
READS_ALONG: dict[str, Callable[[Principal | None], Ride | None]] = {}


def reads_along(blp: Any, view: Callable, read: Callable[[Principal | None], Ride | None]) -> None:
    """``view`` (an endpoint of ``blp`` answering from one view) reads what ``read`` gives with the request's
    token, when a worker keeps the views (embedded mode catches up first, so would not use it)."""
    READS_ALONG[f"{blp.name}.{view.__name__}"] = read


def ride_for(endpoint: str | None, guess: Callable[[], Principal | None]) -> Ride | None:
    """The read riding along with this request's token, if it has one; ``guess``: whom the token stood for
    when last seen."""
    read = READS_ALONG.get(endpoint or "")
    if read is None or inline() or not projections().store.postgres:  # SQLite reads in this process anyway
        return None
    return read(guess())


class LoadedQueries:
    """Query strings as schemas load them, kept per query string (dashboards ask the same ones again): what a
    read riding along with the token reads; the endpoint compares it with what its own arguments ask."""

    KEPT = 1024  # query strings kept per schema

    def __init__(self) -> None:
        self._loaded: dict[int, dict[bytes, dict[str, Any] | None]] = {}
        self._generation: Any = None  # the erasure generation the kept values were loaded under

    def of(self, schema: Schema) -> dict[str, Any] | None:
        """The request's query string as ``schema`` loads it (None if it does not), a copy of its own."""
        kept = self._loaded.setdefault(id(schema), {})
        if request.query_string not in kept:
            try:
                loaded = schema.load(request.args)
            except ValidationError:
                loaded = None
            if len(kept) >= self.KEPT:
                kept.clear()
            kept[request.query_string] = loaded
        found = kept[request.query_string]
        return None if found is None else dict(found)

    def seen_under(self, generation: Any) -> None:
        """The erasure generation read with this request's token: once it moves, forget the values kept (a
        participant id asked for may be an erased one's)."""
        if generation != self._generation:
            self._loaded.clear()
            self._generation = generation


LOADED_QUERIES = LoadedQueries()


def keep_views_current(*, within: float = 0.0) -> None:
    """Embedded mode: bring the views up to date after a write, now or (``within`` seconds > 0) in a moment,
    together with the other commands of that moment; a read catches up first either way (read-your-writes).

    The write is already committed: a failure here is logged, never reported
    as a failed command, and the next read catches up.
    """
    if not inline():
        return
    try:
        projections().catch_up_soon(within)
    except Exception:  # noqa: BLE001 - the write succeeded; views catch up on the next read
        log.warning("views could not catch up after a command", exc_info=True)


def written(query: dict[str, Any]) -> int | None:
    """?min_position=, taken out of ``query``: a position some write has reached, else 422. A read from the
    store itself (a relationship, its events) needs nothing more: every event up to it is there."""
    position = query.pop("min_position", None)
    if position is not None:
        reached(position, "min_position", "use the X-Position of a write")
    return position


def reached(position: int, field: str, use: str) -> None:
    """422 on ``field`` unless some write has reached ``position`` (``use``: where a right one comes from)."""
    if position > projections().ledger.position():
        abort(422, messages={field: [f"No write has reached this position; {use}."]})


def fresh(query: dict[str, Any], *names: str) -> None:
    """Catch up (embedded) or wait for the worker (?min_position=) before answering from views."""
    position = written(query)
    if inline():
        projections().catch_up_for_read()
    if position is not None:
        projections().wait_for(position, list(names) or None,
                               timeout=current_app.config["READ_YOUR_WRITES_TIMEOUT"])


def page(items: list[dict[str, Any]], limit: int, position: Callable[[dict[str, Any]], dict[str, Any]]
         ) -> dict[str, Any]:
    """A page of a list read with one item more than ``limit``: that one says whether a next page exists."""
    more = len(items) > limit
    items = items[:limit]
    return {"items": items, "next": Cursor.encode(position(items[-1])) if more else None}
