"""Relationship health: one relationship (now or as it stood), or many, worst first."""

from __future__ import annotations

import secrets
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

from flask import Response, current_app, request

from api.auth import current_principal
from api.blueprint import Blueprint
from api.commands import overseers_only, visible
from api.dumping import plan
from api.reads import fresh, page, queries, reads_along
from api.schemas.common import page_of
from api.schemas.views import HealthListQuerySchema, HealthQuerySchema, HealthSchema

blp = Blueprint("health", __name__, url_prefix="/v1",
                description="How healthy relationships are: balance, acknowledgement, follow-through, cadence.")
ROW = HealthSchema()
dump_row = plan(ROW)
# Stand-ins, in a kept page's encoded body, for the two values that change with every answer; no other value
# can read so (a NUL and 128 random bits).
AS_OF, NEXT = (f"\x00{secrets.token_hex(16)}" for _ in range(2))


@blp.route("/relationships/<uuid:relationship_id>/health", methods=["GET"])
@visible
@blp.arguments(HealthQuerySchema, location="query")
@blp.response(200, HealthSchema)
def relationship_health(query: dict[str, Any], relationship_id: UUID) -> Any:
    """A relationship's health now, or as it stood at ?version=N or ?as_of=time. No ETag: it is read from a view
    that may be behind the relationship (its version is the relationship's own answer's ETag)."""
    fresh(query, "relationship_health")
    return queries().health(current_principal(), relationship_id, **query)


reads_along(blp, relationship_health,  # now (no ?version=, ?as_of= or ?min_position=): from the view
            lambda _: None if request.args else queries().health_along(request.view_args["relationship_id"]))


@blp.route("/health", methods=["GET"])
@overseers_only
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
    return answer if kept is None else kept_answer(kept, moment, answer["next"], query["limit"])


def kept_answer(kept: Any, moment: datetime, cursor: str | None, limit: int) -> Response:
    """A page kept in memory (projections.health.pages), dumped and encoded once with stand-ins for ``as_of``
    (the moment asked) and the next page's cursor (which holds it): each answer only puts those in. The same
    bytes as dumping the page with its schema."""
    encode = current_app.json.dumps
    parts = kept.memo.get("body")
    if parts is None:
        template = {"items": [{**row, "as_of": AS_OF} for row in dump_row(kept.rows[:limit], many=True)],
                    "next": None if cursor is None else NEXT}
        parts = kept.memo["body"] = current_app.json.response(template).get_data(as_text=True).split(encode(AS_OF))
    body = encode(ROW.fields["as_of"].serialize("as_of", {"as_of": moment})).join(parts)
    if cursor is not None:
        body = body.replace(encode(NEXT), encode(cursor), 1)
    return current_app.response_class(body, mimetype=current_app.json.mimetype)
