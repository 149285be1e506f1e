"""Plain-value descriptions of relationships and their events, for callers of the ledger."""

from __future__ import annotations

import functools
from dataclasses import fields
from typing import Any
from uuid import UUID

from domain.relationship import MentorshipRelationship

ENVELOPE = {"originator_id", "originator_version", "timestamp", "originator_topic"}
ATTRIBUTION = {"actor", "actor_role", "command_id"}


def describe(relationship: MentorshipRelationship) -> dict[str, Any]:
    """The relationship as callers see it: participants, goals, status, feedback, actions."""
    return {
        "id": relationship.id,
        "program_id": relationship.program_id,
        "mentor_id": relationship.mentor_id,
        "mentee_id": relationship.mentee_id,
        "goals": list(relationship.goals),
        "status": relationship.status,
        "version": relationship.version,
        "started_at": relationship.started_at,
        "updated_at": relationship.modified_on,
        "feedback": [dict(item) for item in relationship.feedback.values()],
        "actions": [dict(item) for item in relationship.actions.values()],
    }


def describe_feedback_given(relationship: MentorshipRelationship, feedback_id: UUID) -> dict[str, Any]:
    """The answer to giving feedback: its id, the roles, and the action items it created."""
    feedback = relationship.feedback[str(feedback_id)]
    return {
        "feedback_id": feedback["feedback_id"],
        "relationship_id": relationship.id,
        "version": relationship.version,
        "giver_role": feedback["giver_role"],
        "recipient_role": feedback["recipient_role"],
        "given_at": feedback["given_at"],
        "action_items": [
            {key: relationship.actions[action_id][key] for key in ("action_id", "description", "due_on", "owner_id")}
            for action_id in feedback["action_ids"]
        ],
    }


def describe_receipt(relationship: MentorshipRelationship, feedback_id: UUID) -> dict[str, Any]:
    """The answer to acknowledging feedback."""
    feedback = relationship.feedback[str(feedback_id)]
    return {
        "feedback_id": feedback["feedback_id"],
        "relationship_id": relationship.id,
        "version": relationship.version,
        "received_at": feedback["received_at"],
        "reflection": feedback["reflection"],
        "usefulness": feedback["usefulness"],
    }


def describe_completion(relationship: MentorshipRelationship, action_id: UUID) -> dict[str, Any]:
    """The answer to completing an action item."""
    action = relationship.actions[str(action_id)]
    return {
        "action_id": action["action_id"],
        "feedback_id": action["feedback_id"],
        "relationship_id": relationship.id,
        "version": relationship.version,
        "completed_at": action["completed_at"],
        "completed_by": action["completed_by"],
        "outcome": action["outcome"],
    }


@functools.cache
def _data_fields(event_class: type) -> tuple[str, ...]:
    """The fields of an event class that are its data, not its envelope or attribution."""
    return tuple(f.name for f in fields(event_class) if f.name not in ENVELOPE and f.name not in ATTRIBUTION)


def describe_event(event: MentorshipRelationship.Event) -> dict[str, Any]:
    """One entry of a relationship's history: version, type, time, actor and data."""
    data = {name: getattr(event, name) for name in _data_fields(type(event))}
    return {
        "version": event.originator_version,
        "type": type(event).__name__,
        "recorded_at": event.timestamp,
        "actor": event.actor,
        "actor_role": event.actor_role,
        "command_id": event.command_id,
        "data": data,
    }
