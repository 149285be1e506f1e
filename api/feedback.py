"""The feedback loop: give feedback, acknowledge it, complete the actions agreed."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from api.blueprint import Blueprint

from api.auth import current_principal
from api.commands import answer, command_context, ledger, may
from api.schemas import (
    CompletionAnswerSchema,
    CompletionSchema,
    FeedbackGivenSchema,
    GiveFeedbackSchema,
    ReceiptAnswerSchema,
    ReceiptSchema,
)

blp = Blueprint("feedback", __name__, url_prefix="/v1",
                description="Two-way feedback between mentor and mentee, receipts and action items.")


@blp.route("/relationships/<uuid:relationship_id>/feedback", methods=["POST"])
@may("give_feedback")
@blp.arguments(GiveFeedbackSchema)
@blp.response(201, FeedbackGivenSchema)
def give_feedback(body: dict[str, Any], relationship_id: UUID) -> Any:
    """Give feedback to the other participant (mentor or mentee); they own its action items."""
    items = [{"description": i["description"], "due_on": _iso(i["due_on"])} for i in body.pop("action_items")]
    result = ledger().give_feedback(current_principal(), relationship_id, **body, action_items=items,
                                    context=command_context())
    return answer(result)


@blp.route("/relationships/<uuid:relationship_id>/feedback/<uuid:feedback_id>/receipt", methods=["POST"])
@may("receive_feedback")
@blp.arguments(ReceiptSchema)
@blp.response(201, ReceiptAnswerSchema)
def receive_feedback(body: dict[str, Any], relationship_id: UUID, feedback_id: UUID) -> Any:
    """Acknowledge feedback you received, with a reflection and a usefulness rating (recipient)."""
    result = ledger().receive_feedback(current_principal(), relationship_id, feedback_id, **body,
                                       context=command_context())
    return answer(result)


@blp.route("/relationships/<uuid:relationship_id>/actions/<uuid:action_id>/completion", methods=["POST"])
@may("complete_action")
@blp.arguments(CompletionSchema)
@blp.response(201, CompletionAnswerSchema)
def complete_action(body: dict[str, Any], relationship_id: UUID, action_id: UUID) -> Any:
    """Complete an action item (its owner, or a coordinator)."""
    result = ledger().complete_action(current_principal(), relationship_id, action_id, **body,
                                      context=command_context())
    return answer(result)


def _iso(day: Any) -> str | None:
    return None if day is None else day.isoformat()
