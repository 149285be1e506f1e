"""Relationships: start, read and replay, history, lifecycle (pause, resume, end) and check-ins."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from flask import url_for

from api.auth import current_principal
from api.blueprint import Blueprint
from api.commands import endpoint, ledger, visible
from api.fields import Cursor
from api.reads import LOADED_QUERIES, fresh, page, queries, reads_along, written
from api.schemas.common import page_of
from api.schemas.relationships import (
    CheckInAnswerSchema,
    CheckInSchema,
    EventSchema,
    EventsQuerySchema,
    LifecycleSchema,
    RelationshipListQuerySchema,
    RelationshipQuerySchema,
    RelationshipSchema,
    RelationshipSummarySchema,
    StartRelationshipSchema,
)
from domain.ledger import MentorshipLedger as Ledger
from domain.principal import Principal
from projections.index import IndexFilter
from projections.service import Ride

blp = Blueprint("relationships", __name__, url_prefix="/v1",
                description="Mentorship relationships: start them, read them, replay their history.")


@blp.route("/relationships", methods=["GET"])
@blp.arguments(RelationshipListQuerySchema, location="query")
@blp.response(200, page_of(RelationshipSummarySchema))
def list_relationships(query: dict[str, Any]) -> Any:
    """Relationships by program, participant and status (participants: their own), oldest first."""
    fresh(query, "relationship_index")
    cursor, limit = query.pop("cursor", None), query.pop("limit")
    after = (cursor["started_at"], cursor["id"]) if cursor else None
    items = queries().list_relationships(current_principal(), IndexFilter(**query), after, limit + 1)
    return page(items, limit, lambda last: {"started_at": last["started_at"], "id": last["relationship_id"]})


LIST_QUERY = RelationshipListQuerySchema()


def list_along(principal: Principal | None) -> Ride | None:
    """``list_relationships``'s read of the index for ``principal``, to ride along with the token."""
    if principal is None:
        return None
    query = LOADED_QUERIES.of(LIST_QUERY)
    if query is None or "min_position" in query:
        return None
    cursor, limit = query.pop("cursor", None), query.pop("limit")
    after = (cursor["started_at"], cursor["id"]) if cursor else None
    return queries().list_along(principal, IndexFilter(**query), after, limit + 1)


reads_along(blp, list_relationships, list_along)


@blp.route("/relationships/<uuid:relationship_id>", methods=["GET"])
@visible
@blp.arguments(RelationshipQuerySchema, location="query")
@blp.response(200, RelationshipSchema)
def get_relationship(query: dict[str, Any], relationship_id: UUID) -> Any:
    """The relationship now, or replayed at ?version=N or ?as_of=time (a replay carries no ETag);
    ?limit=N keeps only the N most recent feedback and check-ins (long relationships). Read from the store
    itself: ?min_position= is accepted, and always reached."""
    written(query)
    state = ledger().get_relationship(current_principal(), relationship_id, **query)
    replayed = "version" in query or "as_of" in query
    return state if replayed else (state, {"ETag": f'"{state["version"]}"'})


@blp.route("/relationships/<uuid:relationship_id>/events", methods=["GET"])
@visible
@blp.arguments(EventsQuerySchema, location="query")
@blp.response(200, page_of(EventSchema))
def list_events(query: dict[str, Any], relationship_id: UUID) -> Any:
    """The relationship's events in order, each with its actor (from the store itself: ?min_position= is
    always reached)."""
    written(query)
    after = query["cursor"]["after"] if "cursor" in query else query["after"]
    version = ledger().checked_version(relationship_id)
    items, more = ledger().list_events(current_principal(), relationship_id, after=after, limit=query["limit"])
    answer = {"items": items, "next": Cursor.encode({"after": items[-1]["version"]}) if more else None}
    return answer if version is None else (answer, {"ETag": f'"{version}"'})


endpoint(blp, "/relationships", Ledger.start_relationship, StartRelationshipSchema, RelationshipSchema,
         location=lambda result: url_for("relationships.get_relationship", relationship_id=result.aggregate_id))
LIFECYCLE = "/relationships/<uuid:relationship_id>/{}"
endpoint(blp, LIFECYCLE.format("pause"), Ledger.pause_relationship, LifecycleSchema, RelationshipSchema, 200)
endpoint(blp, LIFECYCLE.format("resume"), Ledger.resume_relationship, LifecycleSchema, RelationshipSchema, 200)
endpoint(blp, LIFECYCLE.format("end"), Ledger.end_relationship, LifecycleSchema, RelationshipSchema, 200)
endpoint(blp, LIFECYCLE.format("check-ins"), Ledger.hold_check_in, CheckInSchema, CheckInAnswerSchema)
