"""Schemas of relationships and what happens in them: requests and the answers to them."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from api.fields import (
    MAX_NUMBER,
    AfterPosition,
    AfterStart,
    Cursor,
    Day,
    Identifier,
    UTCDateTime,
    name,
    text,
)
from api.schemas.common import FreshnessQuerySchema, StrictSchema, limit_field
from domain.principal import COORDINATOR
from domain.relationship import (
    ACTIVE,
    CHECK_IN_MINUTES,
    ENDED,
    FEEDBACK_KINDS,
    MENTEE,
    MENTOR,
    PAUSED,
    USEFULNESS,
)
from domain.representation import COMPLETED, OPEN

STATUSES = [ACTIVE, PAUSED, ENDED]
PARTICIPANT_ROLES = [MENTOR, MENTEE]
ACTING_ROLES = [MENTOR, MENTEE, COORDINATOR]

# -- requests -------------------------------------------------------------------


def redacted_field() -> fields.Boolean:
    """Present (true) on an item whose free text was erased: its text fields read as null."""
    return fields.Boolean(metadata={"description": "Present, and true, when free text here was erased (a "
                                                   "participant's erasure): its text fields read as null."})


class StartRelationshipSchema(StrictSchema):
    program_id = Identifier(required=True, new=True)
    mentor_id = Identifier(required=True, new=True)
    mentee_id = Identifier(required=True, new=True)
    goals = fields.List(fields.String(validate=name(200)), load_default=list, validate=validate.Length(max=10))


class ActionItemSchema(StrictSchema):
    description = fields.String(required=True, validate=text(500, 1))
    due_on = Day(load_default=None, allow_none=True)


class GiveFeedbackSchema(StrictSchema):
    content = fields.String(required=True, validate=text(5000, 1))
    kind = fields.String(required=True, validate=validate.OneOf(FEEDBACK_KINDS))
    skills = fields.List(fields.String(validate=name(64)), load_default=list, validate=validate.Length(max=20))
    action_items = fields.List(fields.Nested(ActionItemSchema), load_default=list, validate=validate.Length(max=10))


class ReceiptSchema(StrictSchema):
    reflection = fields.String(load_default=None, allow_none=True, validate=text(5000))
    usefulness = fields.Integer(load_default=None, allow_none=True, strict=True,
                                validate=validate.Range(min=USEFULNESS[0], max=USEFULNESS[1]))


class CompletionSchema(StrictSchema):
    outcome = fields.String(load_default=None, allow_none=True, validate=text(5000))


class LifecycleSchema(StrictSchema):
    reason = fields.String(load_default=None, allow_none=True, validate=text(1000))


class CheckInSchema(StrictSchema):
    held_on = Day(required=True, metadata={"description": "The day the meeting took place."})
    minutes = fields.Integer(required=True, strict=True,
                             validate=validate.Range(min=CHECK_IN_MINUTES[0], max=CHECK_IN_MINUTES[1]))
    note = fields.String(load_default=None, allow_none=True, validate=text(2000))


class ReplayQuerySchema(StrictSchema):
    version = fields.Integer(validate=validate.Range(min=1, max=MAX_NUMBER),
                             metadata={"description": "The state right after this event."})
    as_of = UTCDateTime(metadata={"description": "The state as it stood at this time."})

    @validates_schema
    def one_at_most(self, data: dict[str, Any], **_: Any) -> None:
        if "version" in data and "as_of" in data:
            raise ValidationError("Give version or as_of, not both.", "as_of")


class RelationshipQuerySchema(ReplayQuerySchema, FreshnessQuerySchema):
    limit = fields.Integer(validate=validate.Range(min=0, max=500), metadata={
        "description": "Only this many of the most recent feedback (with their actions) and check-ins, and "
                       "`totals`: for long relationships (older ones: `/events`)."})


class EventsQuerySchema(FreshnessQuerySchema):
    after = fields.Integer(load_default=0, validate=validate.Range(min=0, max=MAX_NUMBER))
    cursor = Cursor(AfterPosition)
    limit = limit_field()


class RelationshipListQuerySchema(FreshnessQuerySchema):
    program_id = Identifier()
    participant_id = Identifier()
    status = fields.String(validate=validate.OneOf(STATUSES))
    cursor = Cursor(AfterStart)
    limit = limit_field()


# -- answers ----------------------------------------------------------------------


class FeedbackSchema(Schema):
    feedback_id = fields.UUID(required=True)
    giver_id = fields.String(required=True)
    giver_role = fields.String(required=True, metadata={"enum": PARTICIPANT_ROLES})
    recipient_id = fields.String(required=True)
    recipient_role = fields.String(required=True, metadata={"enum": PARTICIPANT_ROLES})
    content = fields.String(required=True, allow_none=True)
    kind = fields.String(required=True, metadata={"enum": list(FEEDBACK_KINDS)})
    skills = fields.List(fields.String(), required=True)
    action_ids = fields.List(fields.UUID(), required=True)
    given_at = UTCDateTime(required=True)
    received_at = UTCDateTime(required=True, allow_none=True)
    reflection = fields.String(required=True, allow_none=True)
    usefulness = fields.Integer(required=True, allow_none=True)
    redacted = redacted_field()


class ActionSchema(Schema):
    action_id = fields.UUID(required=True)
    feedback_id = fields.UUID(required=True)
    description = fields.String(required=True, allow_none=True)
    due_on = fields.String(required=True, allow_none=True, metadata={"format": "date"})
    owner_id = fields.String(required=True)
    status = fields.String(required=True, metadata={"enum": [OPEN, COMPLETED]})
    completed_at = UTCDateTime(required=True, allow_none=True)
    completed_by = fields.String(required=True, allow_none=True)
    outcome = fields.String(required=True, allow_none=True)
    redacted = redacted_field()


class CheckInItemSchema(Schema):
    check_in_id = fields.UUID(required=True)
    held_on = fields.String(required=True, metadata={"format": "date"})
    minutes = fields.Integer(required=True)
    note = fields.String(required=True, allow_none=True)
    recorded_by = fields.String(required=True)
    recorded_at = UTCDateTime(required=True)
    redacted = redacted_field()


class TotalsSchema(Schema):
    feedback = fields.Integer(required=True)
    actions = fields.Integer(required=True)
    check_ins = fields.Integer(required=True)


class RelationshipSchema(Schema):
    id = fields.UUID(required=True)
    program_id = fields.String(required=True)
    mentor_id = fields.String(required=True)
    mentee_id = fields.String(required=True)
    goals = fields.List(fields.String(), required=True, allow_none=True)
    status = fields.String(required=True, metadata={"enum": STATUSES})
    version = fields.Integer(required=True)
    started_at = UTCDateTime(required=True)
    updated_at = UTCDateTime(required=True)
    feedback = fields.List(fields.Nested(FeedbackSchema), required=True)
    actions = fields.List(fields.Nested(ActionSchema), required=True)
    check_ins = fields.List(fields.Nested(CheckInItemSchema), required=True)
    totals = fields.Nested(TotalsSchema, metadata={
        "description": "With ?limit=: how many feedback, actions and check-ins there are in all."})
    redacted = redacted_field()


class CreatedActionSchema(Schema):
    action_id = fields.UUID(required=True)
    description = fields.String(required=True, allow_none=True)
    due_on = fields.String(required=True, allow_none=True, metadata={"format": "date"})
    owner_id = fields.String(required=True)
    redacted = redacted_field()


class Recorded(Schema):
    """What every answer to a command inside a relationship carries."""

    relationship_id = fields.UUID(required=True)
    version = fields.Integer(required=True)
    redacted = redacted_field()


class FeedbackGivenSchema(Recorded):
    feedback_id = fields.UUID(required=True)
    giver_role = fields.String(required=True)
    recipient_role = fields.String(required=True)
    given_at = UTCDateTime(required=True)
    action_items = fields.List(fields.Nested(CreatedActionSchema), required=True)


class ReceiptAnswerSchema(Recorded):
    feedback_id = fields.UUID(required=True)
    received_at = UTCDateTime(required=True)
    reflection = fields.String(required=True, allow_none=True)
    usefulness = fields.Integer(required=True, allow_none=True)


class CompletionAnswerSchema(Recorded):
    action_id = fields.UUID(required=True)
    feedback_id = fields.UUID(required=True)
    completed_at = UTCDateTime(required=True)
    completed_by = fields.String(required=True)
    outcome = fields.String(required=True, allow_none=True)


class CheckInAnswerSchema(Recorded, CheckInItemSchema):
    pass


class EventSchema(Schema):
    version = fields.Integer(required=True)
    type = fields.String(required=True)
    recorded_at = UTCDateTime(required=True)
    actor = fields.String(required=True)
    actor_role = fields.String(required=True, metadata={"enum": ACTING_ROLES})
    command_id = fields.String(required=True, allow_none=True)
    data = fields.Dict(required=True)
    redacted = redacted_field()


class RelationshipSummarySchema(Schema):
    id = fields.String(required=True, attribute="relationship_id", metadata={"format": "uuid"})
    program_id = fields.String(required=True)
    mentor_id = fields.String(required=True)
    mentee_id = fields.String(required=True)
    status = fields.String(required=True, metadata={"enum": STATUSES})
    version = fields.Integer(required=True)
    started_at = fields.String(required=True, metadata={"format": "date-time"})
    updated_at = fields.String(required=True, metadata={"format": "date-time"})
