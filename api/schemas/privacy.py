"""Bodies and answers of the privacy endpoints: a participant's export, and erasure."""

from __future__ import annotations

from marshmallow import Schema, fields

from api.fields import UTCDateTime, text
from api.schemas.common import StrictSchema
from api.schemas.relationships import (
    PARTICIPANT_ROLES,
    STATUSES,
    ActionSchema,
    CheckInItemSchema,
    FeedbackSchema,
)
from api.schemas.views import AuditEntrySchema, ConcernSchema, SkillSchema


class ErasureSchema(StrictSchema):
    reason = fields.String(load_default=None, allow_none=True, validate=text(1000), metadata={
        "description": "Why (kept in the record, in plain text: it may not name the person)."})


class ErasureAnswerSchema(Schema):
    participant_id = fields.String(required=True)
    erased_at = UTCDateTime(required=True)
    relationships = fields.Integer(required=True, metadata={"description": "Relationships the person was in."})


class ExportedRelationshipSchema(Schema):
    relationship_id = fields.UUID(required=True)
    program_id = fields.String(required=True)
    role = fields.String(required=True, metadata={"enum": PARTICIPANT_ROLES})
    status = fields.String(required=True, metadata={"enum": STATUSES})
    started_at = UTCDateTime(required=True)
    mentor_id = fields.String(required=True)
    mentee_id = fields.String(required=True)
    goals = fields.List(fields.String(), required=True, allow_none=True)
    feedback_given = fields.List(fields.Nested(FeedbackSchema), required=True)
    feedback_received = fields.List(fields.Nested(FeedbackSchema), required=True)
    actions_owned = fields.List(fields.Nested(ActionSchema), required=True)
    actions_given = fields.List(fields.Nested(ActionSchema), required=True)
    check_ins = fields.List(fields.Nested(CheckInItemSchema), required=True)
    concerns_raised = fields.List(fields.Nested(ConcernSchema), required=True)


class ExportedTokenSchema(Schema):
    prefix = fields.String(required=True)
    role = fields.String(required=True)
    created_at = UTCDateTime(required=True)
    revoked_at = UTCDateTime(required=True, allow_none=True)


class ExportSchema(Schema):
    participant_id = fields.String(required=True)
    exported_at = UTCDateTime(required=True)
    format_version = fields.Integer(required=True)
    relationships = fields.List(fields.Nested(ExportedRelationshipSchema), required=True)
    skills_growth = fields.List(fields.Nested(SkillSchema), required=True)
    audit_entries = fields.List(fields.Nested(AuditEntrySchema), required=True, metadata={
        "description": "The audit entries where the person is the actor."})
    tokens = fields.List(fields.Nested(ExportedTokenSchema), required=True)
