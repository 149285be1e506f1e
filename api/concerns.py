"""Concerns: private notes from a participant to the program's coordinators, and their resolution."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from api.auth import current_principal
from api.blueprint import Blueprint
from api.commands import endpoint, visible
from api.reads import fresh, page, queries
from api.schemas.common import page_of
from api.schemas.views import ConcernListQuerySchema, ConcernSchema, RaiseConcernSchema, ResolutionSchema
from domain.ledger import MentorshipLedger as Ledger
from projections.canonical import stamp

blp = Blueprint("concerns", __name__, url_prefix="/v1",
                description="Private notes from the mentor or the mentee to the coordinators; the other "
                            "participant cannot tell they exist.")


endpoint(blp, "/relationships/<uuid:relationship_id>/concerns", Ledger.raise_concern, RaiseConcernSchema,
         ConcernSchema)
endpoint(blp, "/relationships/<uuid:relationship_id>/concerns/<uuid:concern_id>/resolution", Ledger.resolve_concern,
         ResolutionSchema, ConcernSchema)


@blp.route("/relationships/<uuid:relationship_id>/concerns", methods=["GET"])
@visible
@blp.arguments(ConcernListQuerySchema, location="query")
@blp.response(200, page_of(ConcernSchema))
def list_concerns(query: dict[str, Any], relationship_id: UUID) -> Any:
    """Concerns about a relationship: coordinators and auditors see all, a participant only their own."""
    fresh(query, "relationship_index")
    cursor = query.get("cursor")
    after = (cursor["started_at"], cursor["id"]) if cursor else None
    items = queries().concerns(current_principal(), relationship_id, after, query["limit"] + 1)
    return page(items, query["limit"], lambda last: {"started_at": stamp(last["raised_at"]), "id": last["concern_id"]})
