"""Relationship health: one relationship (now or as it stood), or many, worst first."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any
from uuid import UUID

from flask_smorest import abort

from api.auth import current_principal
from api.blueprint import Blueprint
from api.commands import visible
from api.pagination import decode_cursor, encode_cursor, is_uuid
from api.reads import fresh, queries
from api.schemas import HealthListQuerySchema, HealthPageSchema, HealthQuerySchema, HealthSchema

blp = Blueprint("health", __name__, url_prefix="/v1",
                description="How healthy relationships are: balance, acknowledgement, follow-through, cadence.")


@blp.route("/relationships/<uuid:relationship_id>/health", methods=["GET"])
@visible
@blp.arguments(HealthQuerySchema, location="query")
@blp.response(200, HealthSchema)
def relationship_health(query: dict[str, Any], relationship_id: UUID) -> Any:
    """A relationship's health now, or as it stood at ?version=N or ?as_of=time."""
    fresh(query, "relationship_health")
    return queries().health(current_principal(), relationship_id, **query)


@blp.route("/health", methods=["GET"])
@blp.arguments(HealthListQuerySchema, location="query")
@blp.response(200, HealthPageSchema)
def health_list(query: dict[str, Any]) -> Any:
    """Health of many relationships, lowest score first (coordinators, auditors)."""
    fresh(query, "relationship_health")
    after, now = None, None
    if "cursor" in query:
        state = decode_cursor(query.pop("cursor"))
        try:
            after = (int(state["score"]), state["id"])
            now = datetime.fromtimestamp(float(state["as_of"]), timezone.utc)
        except (KeyError, TypeError, ValueError, OverflowError, OSError):
            after = None
        if after is None or not is_uuid(after[1]) or not 0 <= after[0] <= 100:
            abort(422, messages={"cursor": ["Not a cursor from this list."]})
    limit = query.pop("limit")
    items, now = queries().health_page(current_principal(), program_id=query.get("program_id"),
                                       status=query.get("status"), after=after, limit=limit + 1, now=now)
    following = None
    if len(items) > limit:
        items = items[:limit]
        last = items[-1]
        following = encode_cursor({"score": last["score"], "id": last["relationship_id"], "as_of": now.timestamp()})
    return {"items": items, "next": following}
