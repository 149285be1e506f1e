"""Relationships: start, read and replay, history, and the lifecycle (pause, resume, end)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from flask import url_for
from flask_smorest import abort

from projections.index import IndexFilter
from api.blueprint import Blueprint

from api.auth import current_principal
from api.commands import answer, command_context, ledger, may, visible
from api.pagination import STAMP, decode_cursor, encode_cursor, is_uuid
from api.reads import fresh, queries
from api.schemas import (
    MAX_NUMBER,
    EventPageSchema,
    RelationshipListQuerySchema,
    RelationshipPageSchema,
    EventsQuerySchema,
    LifecycleSchema,
    RelationshipSchema,
    ReplayQuerySchema,
    StartRelationshipSchema,
)

blp = Blueprint("relationships", __name__, url_prefix="/v1",
                description="Mentorship relationships: start them, read them, replay their history.")


@blp.route("/relationships", methods=["GET"])
@blp.arguments(RelationshipListQuerySchema, location="query")
@blp.response(200, RelationshipPageSchema)
def list_relationships(query: dict[str, Any]) -> Any:
    """Relationships by program, participant and status (participants: their own), oldest first."""
    fresh(query, "relationship_index")
    after = None
    if "cursor" in query:
        state = decode_cursor(query.pop("cursor"))
        after = (state.get("started_at"), state.get("id"))
        if not (isinstance(after[0], str) and STAMP.match(after[0]) and is_uuid(after[1])):
            abort(422, messages={"cursor": ["Not a cursor from this list."]})
    limit = query.pop("limit")
    items = queries().list_relationships(current_principal(), IndexFilter(**query), after, limit + 1)
    following = None
    if len(items) > limit:
        items = items[:limit]
        following = encode_cursor({"started_at": items[-1]["started_at"], "id": items[-1]["relationship_id"]})
    return {"items": items, "next": following}


@blp.route("/relationships", methods=["POST"])
@may("start")
@blp.arguments(StartRelationshipSchema)
@blp.response(201, RelationshipSchema)
def start_relationship(body: dict[str, Any]) -> Any:
    """Start a relationship (coordinator)."""
    result = ledger().start_relationship(current_principal(), **body, context=command_context())
    location = url_for("relationships.get_relationship", relationship_id=result.relationship_id)
    return answer(result, location)


@blp.route("/relationships/<uuid:relationship_id>", methods=["GET"])
@visible
@blp.arguments(ReplayQuerySchema, location="query")
@blp.response(200, RelationshipSchema)
def get_relationship(query: dict[str, Any], relationship_id: UUID) -> Any:
    """The relationship now, or replayed at ?version=N or ?as_of=time."""
    state = ledger().get_relationship(current_principal(), relationship_id, **query)
    if query:
        return state
    return state, {"ETag": f'"{state["version"]}"'}


@blp.route("/relationships/<uuid:relationship_id>/events", methods=["GET"])
@visible
@blp.arguments(EventsQuerySchema, location="query")
@blp.response(200, EventPageSchema)
def list_events(query: dict[str, Any], relationship_id: UUID) -> Any:
    """The relationship's events in order, each with its actor."""
    after = query["after"]
    if "cursor" in query:
        after = decode_cursor(query["cursor"]).get("after")
        if not isinstance(after, int) or isinstance(after, bool) or not 0 <= after <= MAX_NUMBER:
            abort(422, messages={"cursor": ["Not a cursor from this list."]})
    items, more = ledger().list_events(current_principal(), relationship_id, after=after, limit=query["limit"])
    following = encode_cursor({"after": items[-1]["version"]}) if more else None
    return {"items": items, "next": following}


def _lifecycle(command: str, summary: str) -> None:
    method_name = f"{command}_relationship"

    @may(command)
    @blp.arguments(LifecycleSchema)
    @blp.response(200, RelationshipSchema)
    def view(body: dict[str, Any], relationship_id: UUID) -> Any:
        method = getattr(ledger(), method_name)
        return answer(method(current_principal(), relationship_id, **body, context=command_context()))

    view.__name__ = method_name
    view.__doc__ = summary
    blp.route(f"/relationships/<uuid:relationship_id>/{command}", methods=["POST"])(view)


_lifecycle("pause", "Pause an active relationship (coordinator).")
_lifecycle("resume", "Resume a paused relationship (coordinator).")
_lifecycle("end", "End a relationship for good (coordinator, mentor or mentee).")
