"""Skills growth of a participant, from the feedback they received."""

from __future__ import annotations

from typing import Any

from api.auth import current_principal
from api.blueprint import Blueprint
from api.commands import admitted
from api.reads import fresh, queries
from api.schemas.common import FreshnessQuerySchema
from api.schemas.views import GrowthSchema
from domain.identifiers import normalised
from projections.queries import LedgerQueries

blp = Blueprint("growth", __name__, url_prefix="/v1",
                description="Skills named in feedback, as strengths and as areas to improve, and actions done.")


@blp.route("/participants/<path:participant_id>/growth", methods=["GET"])
@admitted(lambda principal, participant_id: LedgerQueries.check_growth_reader(principal, normalised(participant_id)))
@blp.arguments(FreshnessQuerySchema, location="query")
@blp.response(200, GrowthSchema)
@blp.alt_response(410, response="GONE", description="The participant was erased, or is being erased.")
def participant_growth(query: dict[str, Any], participant_id: str) -> Any:
    """Skills growth of a participant (the participant, coordinators, auditors)."""
    fresh(query, "skills_growth")
    return queries().growth(current_principal(), normalised(participant_id))
