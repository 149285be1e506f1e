"""The feedback loop: give feedback, acknowledge it, complete the actions agreed."""

from __future__ import annotations

from api.blueprint import Blueprint
from api.commands import endpoint
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
IN = "/relationships/<uuid:relationship_id>"

endpoint(blp, f"{IN}/feedback", Ledger.give_feedback, GiveFeedbackSchema, FeedbackGivenSchema)
endpoint(blp, f"{IN}/feedback/<uuid:feedback_id>/receipt", Ledger.receive_feedback, ReceiptSchema,
         ReceiptAnswerSchema)
endpoint(blp, f"{IN}/actions/<uuid:action_id>/completion", Ledger.complete_action, CompletionSchema,
         CompletionAnswerSchema)
