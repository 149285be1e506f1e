"""Marshmallow schemas: the shape of every request and response of the HTTP contract."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from api.http import rfc3339

MAX_NUMBER = 2**62  # positions and versions are 64-bit in the store
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def no_control_characters(value: str) -> None:
    """Names and ids are single-line, printable text."""
    if CONTROL.search(value):
        raise ValidationError("Control characters are not allowed here.")


def no_control_characters_in_text(value: str) -> None:
    """Free text may hold tabs and line breaks, but no other control characters (NUL above all)."""
    if CONTROL_IN_TEXT.search(value):
        raise ValidationError("Control characters other than tab and line breaks are not allowed.")


def name(max_length: int) -> list:
    return [validate.Length(min=1, max=max_length), no_control_characters]


def text(max_length: int, min_length: int = 0) -> list:
    return [validate.Length(min=min_length, max=max_length), no_control_characters_in_text]


PARTICIPANT_ID = name(128)


class UTCDateTime(fields.DateTime):
    """RFC 3339 times; offsets are converted to UTC, times without one are refused."""

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else rfc3339(value)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> datetime:
        if not isinstance(value, str):
            raise ValidationError("Not a valid RFC 3339 time.")
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise ValidationError("Not a valid RFC 3339 time.") from None
        if moment.tzinfo is None:
            raise ValidationError("Give the time with a UTC offset or Z.")
        return moment.astimezone(timezone.utc)


class StrictSchema(Schema):
    """Unknown fields are refused (marshmallow's default), said here so no one changes it."""

    class Meta:
        unknown = "raise"


class ProblemSchema(Schema):
    """RFC 9457 problem details."""

    type = fields.String(metadata={"format": "uri"})
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()),
                         metadata={"description": "For validation problems: the messages of each field."})


# -- requests -------------------------------------------------------------------


class StartRelationshipSchema(StrictSchema):
    program_id = fields.String(required=True, validate=PARTICIPANT_ID)
    mentor_id = fields.String(required=True, validate=PARTICIPANT_ID)
    mentee_id = fields.String(required=True, validate=PARTICIPANT_ID)
    goals = fields.List(fields.String(validate=name(200)),
                        load_default=list, validate=validate.Length(max=10))

    @validates_schema
    def mentor_is_not_mentee(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("mentor_id") is not None and data.get("mentor_id") == data.get("mentee_id"):
            raise ValidationError("The mentor and the mentee must be different people.", "mentee_id")


class ActionItemSchema(StrictSchema):
    description = fields.String(required=True, validate=text(500, 1))
    due_on = fields.Date(load_default=None, allow_none=True)


class GiveFeedbackSchema(StrictSchema):
    content = fields.String(required=True, validate=text(5000, 1))
    kind = fields.String(required=True, validate=validate.OneOf(["strength", "improvement", "general"]))
    skills = fields.List(fields.String(validate=name(64)),
                         load_default=list, validate=validate.Length(max=20))
    action_items = fields.List(fields.Nested(ActionItemSchema), load_default=list,
                               validate=validate.Length(max=10))


class ReceiptSchema(StrictSchema):
    reflection = fields.String(load_default=None, allow_none=True, validate=text(5000))
    usefulness = fields.Integer(load_default=None, allow_none=True, strict=True,
                                validate=validate.Range(min=1, max=5))


class CompletionSchema(StrictSchema):
    outcome = fields.String(load_default=None, allow_none=True, validate=text(5000))


class LifecycleSchema(StrictSchema):
    reason = fields.String(load_default=None, allow_none=True, validate=text(1000))


class ReplayQuerySchema(StrictSchema):
    version = fields.Integer(validate=validate.Range(min=1, max=MAX_NUMBER),
                             metadata={"description": "The state right after this event."})
    as_of = UTCDateTime(metadata={"description": "The state as it stood at this time."})

    @validates_schema
    def one_at_most(self, data: dict[str, Any], **_: Any) -> None:
        if "version" in data and "as_of" in data:
            raise ValidationError("Give version or as_of, not both.", "as_of")


class PageQuerySchema(StrictSchema):
    cursor = fields.String(validate=name(500))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class EventsQuerySchema(PageQuerySchema):
    after = fields.Integer(load_default=0, validate=validate.Range(min=0, max=MAX_NUMBER))


# -- responses ------------------------------------------------------------------


class FeedbackSchema(Schema):
    feedback_id = fields.UUID()
    giver_id = fields.String()
    giver_role = fields.String()
    recipient_id = fields.String()
    recipient_role = fields.String()
    content = fields.String()
    kind = fields.String()
    skills = fields.List(fields.String())
    action_ids = fields.List(fields.UUID())
    given_at = UTCDateTime()
    received_at = UTCDateTime(allow_none=True)
    reflection = fields.String(allow_none=True)
    usefulness = fields.Integer(allow_none=True)


class ActionSchema(Schema):
    action_id = fields.UUID()
    feedback_id = fields.UUID()
    description = fields.String()
    due_on = fields.String(allow_none=True, metadata={"format": "date"})
    owner_id = fields.String()
    status = fields.String(metadata={"enum": ["open", "completed"]})
    completed_at = UTCDateTime(allow_none=True)
    completed_by = fields.String(allow_none=True)
    outcome = fields.String(allow_none=True)


class RelationshipSchema(Schema):
    id = fields.UUID()
    program_id = fields.String()
    mentor_id = fields.String()
    mentee_id = fields.String()
    goals = fields.List(fields.String())
    status = fields.String(metadata={"enum": ["active", "paused", "ended"]})
    version = fields.Integer()
    started_at = UTCDateTime()
    updated_at = UTCDateTime()
    feedback = fields.List(fields.Nested(FeedbackSchema))
    actions = fields.List(fields.Nested(ActionSchema))


class CreatedActionSchema(Schema):
    action_id = fields.UUID()
    description = fields.String()
    due_on = fields.String(allow_none=True, metadata={"format": "date"})
    owner_id = fields.String()


class FeedbackGivenSchema(Schema):
    feedback_id = fields.UUID()
    relationship_id = fields.UUID()
    version = fields.Integer()
    giver_role = fields.String()
    recipient_role = fields.String()
    given_at = UTCDateTime()
    action_items = fields.List(fields.Nested(CreatedActionSchema))


class ReceiptAnswerSchema(Schema):
    feedback_id = fields.UUID()
    relationship_id = fields.UUID()
    version = fields.Integer()
    received_at = UTCDateTime()
    reflection = fields.String(allow_none=True)
    usefulness = fields.Integer(allow_none=True)


class CompletionAnswerSchema(Schema):
    action_id = fields.UUID()
    feedback_id = fields.UUID()
    relationship_id = fields.UUID()
    version = fields.Integer()
    completed_at = UTCDateTime()
    completed_by = fields.String()
    outcome = fields.String(allow_none=True)


class EventSchema(Schema):
    version = fields.Integer()
    type = fields.String()
    recorded_at = UTCDateTime()
    actor = fields.String()
    actor_role = fields.String(metadata={"enum": ["mentor", "mentee", "coordinator"]})
    command_id = fields.String(allow_none=True)
    data = fields.Dict()


class EventPageSchema(Schema):
    items = fields.List(fields.Nested(EventSchema))
    next = fields.String(allow_none=True)


# -- projections ------------------------------------------------------------------

HEALTH_STATUSES = ["thriving", "healthy", "needs_attention", "at_risk", "dormant", "paused", "ended", "too_early"]
EVENT_TYPES = ["RelationshipStarted", "FeedbackGiven", "FeedbackReceived", "ActionCompleted",
               "RelationshipPaused", "RelationshipResumed", "RelationshipEnded"]


class FreshnessQuerySchema(StrictSchema):
    min_position = fields.Integer(validate=validate.Range(min=0, max=MAX_NUMBER), metadata={
        "description": "Wait (a few seconds at most) until the view has processed this store position."})


class RelationshipListQuerySchema(PageQuerySchema, FreshnessQuerySchema):
    program_id = fields.String(validate=PARTICIPANT_ID)
    participant_id = fields.String(validate=PARTICIPANT_ID)
    status = fields.String(validate=validate.OneOf(["active", "paused", "ended"]))


class RelationshipSummarySchema(Schema):
    id = fields.String(attribute="relationship_id", metadata={"format": "uuid"})
    program_id = fields.String()
    mentor_id = fields.String()
    mentee_id = fields.String()
    status = fields.String()
    version = fields.Integer()
    started_at = fields.String(metadata={"format": "date-time"})
    updated_at = fields.String(metadata={"format": "date-time"})


class RelationshipPageSchema(Schema):
    items = fields.List(fields.Nested(RelationshipSummarySchema))
    next = fields.String(allow_none=True)


class HealthQuerySchema(ReplayQuerySchema, FreshnessQuerySchema):
    pass


class HealthListQuerySchema(PageQuerySchema, FreshnessQuerySchema):
    program_id = fields.String(validate=PARTICIPANT_ID)
    status = fields.String(validate=validate.OneOf(HEALTH_STATUSES))


class FeedbackCountSchema(Schema):
    by_mentor = fields.Integer()
    by_mentee = fields.Integer()


class ActionCountSchema(Schema):
    total = fields.Integer()
    completed = fields.Integer()
    open = fields.Integer()
    overdue = fields.Integer()


class HealthSchema(Schema):
    relationship_id = fields.String(metadata={"format": "uuid"})
    program_id = fields.String()
    status = fields.String(metadata={"enum": HEALTH_STATUSES})
    score = fields.Integer()
    feedback_given = fields.Nested(FeedbackCountSchema)
    two_way_ratio = fields.Float()
    acknowledged = fields.Integer()
    acknowledgement_rate = fields.Float(allow_none=True)
    median_acknowledgement_hours = fields.Float(allow_none=True)
    actions = fields.Nested(ActionCountSchema)
    last_feedback_at = UTCDateTime(allow_none=True)
    days_since_last_feedback = fields.Integer(allow_none=True)
    as_of = UTCDateTime()
    as_of_position = fields.Integer(allow_none=True)


class HealthPageSchema(Schema):
    items = fields.List(fields.Nested(HealthSchema))
    next = fields.String(allow_none=True)


class SkillSchema(Schema):
    skill = fields.String()
    strength_mentions = fields.Integer()
    improvement_mentions = fields.Integer()
    general_mentions = fields.Integer()
    actions_completed = fields.Integer()
    first_mentioned_at = fields.String(metadata={"format": "date-time"})
    last_mentioned_at = fields.String(metadata={"format": "date-time"})


class GrowthSchema(Schema):
    participant_id = fields.String()
    skills = fields.List(fields.Nested(SkillSchema))


class AuditQuerySchema(PageQuerySchema, FreshnessQuerySchema):
    relationship_id = fields.UUID()
    program_id = fields.String(validate=PARTICIPANT_ID)
    actor = fields.String(validate=PARTICIPANT_ID)
    type = fields.String(validate=validate.OneOf(EVENT_TYPES))
    since = UTCDateTime()
    until = UTCDateTime()


class AuditEntrySchema(Schema):
    position = fields.Integer()
    relationship_id = fields.String(metadata={"format": "uuid"})
    program_id = fields.String()
    version = fields.Integer()
    type = fields.String()
    actor = fields.String()
    actor_role = fields.String()
    recorded_at = fields.String(metadata={"format": "date-time"})
    summary = fields.String()
    data_sha256 = fields.String()
    prev_hash = fields.String()
    hash = fields.String()


class AuditPageSchema(Schema):
    items = fields.List(fields.Nested(AuditEntrySchema))
    next = fields.String(allow_none=True)


class VerifyQuerySchema(FreshnessQuerySchema):
    head_position = fields.Integer(validate=validate.Range(min=1, max=MAX_NUMBER), metadata={
        "description": "With head_hash: a head kept earlier, which the chain must still pass through."})
    head_hash = fields.String(validate=validate.Regexp(r"^[0-9a-f]{64}$"))

    @validates_schema
    def both_or_neither(self, data: dict[str, Any], **_: Any) -> None:
        if ("head_position" in data) != ("head_hash" in data):
            raise ValidationError("Give head_position and head_hash together.", "head_hash")


class VerifySchema(Schema):
    ok = fields.Boolean()
    entries_checked = fields.Integer()
    first_mismatch = fields.Integer(allow_none=True)
    problem = fields.String(allow_none=True)
    as_of_position = fields.Integer()


class HeadSchema(Schema):
    position = fields.Integer()
    hash = fields.String()
    entries = fields.Integer()


class LivenessSchema(Schema):
    status = fields.String()


class ViewPositionSchema(Schema):
    position = fields.Integer()
    lag = fields.Integer()


class ProjectionStateSchema(Schema):
    mode = fields.String(metadata={"enum": ["inline", "worker"]})
    views = fields.Dict(keys=fields.String(), values=fields.Nested(ViewPositionSchema))


class ReadinessSchema(Schema):
    status = fields.String()
    store = fields.String(metadata={"enum": ["sqlite", "postgresql"]})
    position = fields.Integer()
    projections = fields.Nested(ProjectionStateSchema)
