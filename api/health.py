"""Relationship health: one relationship (now or as it stood), or many, worst first."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any
from uuid import UUID

from flask import jsonify

from api.auth import current_principal
from api.blueprint import Blueprint
from api.commands import visible
from api.dumping import plan
from api.reads import fresh, page, queries
from api.schemas.common import page_of
from api.schemas.views import HealthListQuerySchema, HealthQuerySchema, HealthSchema

blp = Blueprint("health", __name__, url_prefix="/v1",
                description="How healthy relationships are: balance, acknowledgement, follow-through, cadence.")
ROW = HealthSchema()
dump_row = plan(ROW)


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
@blp.response(200, page_of(HealthSchema))
def health_list(query: dict[str, Any]) -> Any:
    """Health of many relationships, lowest score first (coordinators, auditors); every page scored at one moment."""
    fresh(query, "relationship_health")
    cursor = query.pop("cursor", None)
    after = (cursor["score"], cursor["id"]) if cursor else None
    moment = datetime.fromtimestamp(cursor["as_of"], timezone.utc) if cursor else None
    rows, moment, kept = queries().health_rows(current_principal(), program_id=query.get("program_id"),
                                               status=query.get("status"), after=after, limit=query["limit"] + 1,
                                               now=moment)
    answer = page(rows, query["limit"],
                  lambda last: {"score": last["score"], "id": last["relationship_id"], "as_of": moment.timestamp()})
    if kept is None:
        return answer
    # A page kept in memory (projections.health.pages): its rows are dumped once; each answer sets only
    # ``as_of``, the moment asked. The same body as dumping the page with its schema.
    dumped = kept.memo.get("dumped")
    if dumped is None:
        dumped = kept.memo["dumped"] = dump_row(kept.rows, many=True)
    as_of = ROW.fields["as_of"].serialize("as_of", {"as_of": moment})
    answer["items"] = [{**row, "as_of": as_of} for row in dumped[:query["limit"]]]
    return jsonify(answer)
