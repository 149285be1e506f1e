"""The feedback loop: give feedback, acknowledge it, complete the actions agreed."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from api.blueprint import Blueprint
from api.commands import answer, may, run
from api.schemas.relationships import (
    CompletionAnswerSchema,
    CompletionSchema,
    FeedbackGivenSchema,
    GiveFeedbackSchema,
    ReceiptAnswerSchema,
    ReceiptSchema,
)
from domain.ledger import MentorshipLedger as Ledger

blp = Blueprint("feedback", __name__, url_prefix="/v1",
                description="Two-way feedback between mentor and mentee, receipts and action items.")


@blp.route("/relationships/<uuid:relationship_id>/feedback", methods=["POST"])
@may(Ledger.give_feedback)
@blp.arguments(GiveFeedbackSchema)
@blp.response(201, FeedbackGivenSchema)
def give_feedback(body: dict[str, Any], relationship_id: UUID) -> Any:
    """Give feedback to the other participant (mentor or mentee); they own its action items."""
    return answer(run(Ledger.give_feedback, relationship_id, **body))


@blp.route("/relationships/<uuid:relationship_id>/feedback/<uuid:feedback_id>/receipt", methods=["POST"])
@may(Ledger.receive_feedback)
@blp.arguments(ReceiptSchema)
@blp.response(201, ReceiptAnswerSchema)
def receive_feedback(body: dict[str, Any], relationship_id: UUID, feedback_id: UUID) -> Any:
    """Acknowledge feedback you received, with a reflection and a usefulness rating (recipient)."""
    return answer(run(Ledger.receive_feedback, relationship_id, feedback_id, **body))


@blp.route("/relationships/<uuid:relationship_id>/actions/<uuid:action_id>/completion", methods=["POST"])
@may(Ledger.complete_action)
@blp.arguments(CompletionSchema)
@blp.response(201, CompletionAnswerSchema)
def complete_action(body: dict[str, Any], relationship_id: UUID, action_id: UUID) -> Any:
    """Complete an action item (its owner, or a coordinator)."""
    return answer(run(Ledger.complete_action, relationship_id, action_id, **body))
