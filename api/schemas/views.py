"""Schemas of what the views answer: health, growth, concerns, the audit trail, operations."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from api.fields import MAX_NUMBER, AfterPosition, AfterScore, AfterStart, Cursor, Identifier, UTCDateTime, text
from api.schemas.common import FreshnessQuerySchema, StrictSchema, limit_field
from api.schemas.relationships import PARTICIPANT_ROLES, ReplayQuerySchema, redacted_field
from domain.concern import OPEN, RESOLVED
from domain.registry import EVENT_NAMES
from projections.health.score import STATUSES as HEALTH_STATUSES

# -- health ---------------------------------------------------------------------------


class HealthQuerySchema(ReplayQuerySchema, FreshnessQuerySchema):
    pass


class HealthListQuerySchema(FreshnessQuerySchema):
    program_id = Identifier()
    status = fields.String(validate=validate.OneOf(HEALTH_STATUSES))
    cursor = Cursor(AfterScore)
    limit = limit_field()


class FeedbackCountSchema(Schema):
    by_mentor = fields.Integer(required=True)
    by_mentee = fields.Integer(required=True)


class ActionCountSchema(Schema):
    total = fields.Integer(required=True)
    completed = fields.Integer(required=True)
    open = fields.Integer(required=True)
    overdue = fields.Integer(required=True)


class HealthSchema(Schema):
    relationship_id = fields.String(required=True, metadata={"format": "uuid"})
    program_id = fields.String(required=True)
    status = fields.String(required=True, metadata={"enum": list(HEALTH_STATUSES)})
    score = fields.Integer(required=True)
    feedback_given = fields.Nested(FeedbackCountSchema, required=True)
    two_way_ratio = fields.Float(required=True)
    acknowledged = fields.Integer(required=True)
    acknowledgement_rate = fields.Float(required=True, allow_none=True)
    median_acknowledgement_hours = fields.Float(required=True, allow_none=True)
    actions = fields.Nested(ActionCountSchema, required=True)
    last_feedback_at = UTCDateTime(required=True, allow_none=True)
    days_since_last_feedback = fields.Integer(required=True, allow_none=True)
    check_ins = fields.Integer(required=True)
    last_check_in_on = fields.Date(required=True, allow_none=True)
    days_since_last_contact = fields.Integer(required=True)
    open_concerns = fields.Integer(allow_none=True, metadata={
        "description": "Concerns raised and not yet resolved; coordinators and auditors only, "
                       "for the current health only (null in replays)."})
    score_parts = fields.Dict(keys=fields.String(), values=fields.Float(), required=True, metadata={
        "description": "The points of each part of the score (balance, closure, follow_through, cadence, "
                       "responsiveness) and overdue_penalty (0 or negative): what pulls the score down."})
    as_of = UTCDateTime(required=True)
    as_of_position = fields.Integer(required=True, allow_none=True)


# -- growth -------------------------------------------------------------------------------


class SkillSchema(Schema):
    skill = fields.String(required=True)
    strength_mentions = fields.Integer(required=True)
    improvement_mentions = fields.Integer(required=True)
    general_mentions = fields.Integer(required=True)
    actions_completed = fields.Integer(required=True)
    first_mentioned_at = fields.String(required=True, metadata={"format": "date-time"})
    last_mentioned_at = fields.String(required=True, metadata={"format": "date-time"})


class GrowthSchema(Schema):
    participant_id = fields.String(required=True)
    skills = fields.List(fields.Nested(SkillSchema), required=True)


# -- concerns -------------------------------------------------------------------------------


class RaiseConcernSchema(StrictSchema):
    content = fields.String(required=True, validate=text(5000, 1))


class ResolutionSchema(StrictSchema):
    note = fields.String(load_default=None, allow_none=True, validate=text(5000))


class ConcernListQuerySchema(FreshnessQuerySchema):
    cursor = Cursor(AfterStart)
    limit = limit_field()


class ConcernSchema(Schema):
    concern_id = fields.UUID(required=True)
    relationship_id = fields.UUID(required=True)
    raised_by = fields.String(required=True)
    raiser_role = fields.String(required=True, metadata={"enum": PARTICIPANT_ROLES})
    raised_at = UTCDateTime(required=True)
    content = fields.String(required=True, allow_none=True)
    status = fields.String(required=True, metadata={"enum": [OPEN, RESOLVED]})
    resolved_by = fields.String(required=True, allow_none=True)
    resolved_at = UTCDateTime(required=True, allow_none=True)
    note = fields.String(required=True, allow_none=True)
    version = fields.Integer(required=True, metadata={"description": "The concern's own version (its ETag)."})
    redacted = redacted_field()


# -- audit ------------------------------------------------------------------------------------


class AuditQuerySchema(FreshnessQuerySchema):
    relationship_id = fields.UUID()
    program_id = Identifier()
    actor = Identifier()
    type = fields.String(validate=validate.OneOf(EVENT_NAMES))
    since = UTCDateTime()
    until = UTCDateTime()
    cursor = Cursor(AfterPosition)
    limit = limit_field()


class AuditExportQuerySchema(AuditQuerySchema):
    """The filters of the audit trail, without paging: an export is the whole selection."""

    class Meta:
        exclude = ("cursor", "limit")


class AuditEntrySchema(Schema):
    position = fields.Integer(required=True)
    relationship_id = fields.String(required=True, metadata={"format": "uuid"})
    program_id = fields.String(required=True)
    version = fields.Integer(required=True)
    type = fields.String(required=True, metadata={"enum": list(EVENT_NAMES)})
    actor = fields.String(required=True)
    actor_role = fields.String(required=True)
    recorded_at = fields.String(required=True, metadata={"format": "date-time"})
    summary = fields.String(required=True)
    data_sha256 = fields.String(required=True)
    prev_hash = fields.String(required=True)
    hash = fields.String(required=True)
    redacted = redacted_field()


class VerifyQuerySchema(FreshnessQuerySchema):
    head_position = fields.Integer(validate=validate.Range(min=1, max=MAX_NUMBER), metadata={
        "description": "With head_hash: a head kept earlier, which the chain must still pass through."})
    head_hash = fields.String(validate=validate.Regexp(r"^[0-9a-f]{64}$"))

    @validates_schema
    def both_or_neither(self, data: dict[str, Any], **_: Any) -> None:
        if ("head_position" in data) != ("head_hash" in data):
            raise ValidationError("Give head_position and head_hash together.", "head_hash")


class DerivedProblemSchema(Schema):
    kind = fields.String(required=True, metadata={"enum": ["snapshot", "idempotency record",
                                                           "relationship index row"]})
    id = fields.String(required=True)
    version = fields.Integer(required=True, allow_none=True)
    problem = fields.String(required=True)


class DerivedSchema(Schema):
    snapshots_checked = fields.Integer(required=True)
    idempotency_records_checked = fields.Integer(required=True)
    index_rows_checked = fields.Integer(required=True)
    problems_found = fields.Integer(required=True)
    problems = fields.List(fields.Nested(DerivedProblemSchema), required=True,
                           metadata={"description": "The first 100 problems found."})


class VerifySchema(Schema):
    ok = fields.Boolean(required=True)
    entries_checked = fields.Integer(required=True)
    first_mismatch = fields.Integer(required=True, allow_none=True)
    problem = fields.String(required=True, allow_none=True)
    as_of_position = fields.Integer(required=True)
    from_position = fields.Integer(required=True, metadata={
        "description": "Entries after this position were checked (0: the whole chain)."})
    derived = fields.Nested(DerivedSchema, required=True, allow_none=True, metadata={
        "description": "Derived state checked against the events (null when the chain itself failed)."})


class HeadSchema(Schema):
    position = fields.Integer(required=True)
    hash = fields.String(required=True)
    entries = fields.Integer(required=True)


# -- operations ------------------------------------------------------------------------------------


class LivenessSchema(Schema):
    status = fields.String(required=True)


class ViewPositionSchema(Schema):
    position = fields.Integer(required=True)
    lag = fields.Integer(required=True)


class ProjectionStateSchema(Schema):
    mode = fields.String(required=True, metadata={"enum": ["inline", "worker"]})
    views = fields.Dict(keys=fields.String(), values=fields.Nested(ViewPositionSchema), required=True)


class ReadinessSchema(Schema):
    status = fields.String(required=True)
    # Only for a coordinator's or auditor's bearer token:
    store = fields.String(metadata={"enum": ["sqlite", "postgresql"]})
    position = fields.Integer()
    projections = fields.Nested(ProjectionStateSchema)
