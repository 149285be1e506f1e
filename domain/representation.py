"""Relationships and their events as callers see them: plain values folded from the events.

The aggregate keeps only what its rules need; everything a caller reads about a
relationship (goals, feedback with its words, actions, check-ins) is folded
here from the events, at any version.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import fields
from typing import Any

from domain.relationship import MentorshipRelationship as R

ENVELOPE = {"originator_id", "originator_version", "timestamp", "originator_topic"}
ATTRIBUTION = {"actor", "actor_role", "command_id"}
Representation = dict[str, Any]
OPEN, COMPLETED = "open", "completed"  # the status of an action item


def fold(events: Iterable[Any]) -> Representation | None:
    """The relationship as callers see it after these events (oldest first); None without any."""
    state: Representation | None = None
    for event in events:
        state = FOLDS[type(event)](state, event) if state is not None else _started(event)
        state["version"] = event.originator_version
        state["updated_at"] = event.timestamp
    return state


def _started(event: R.RelationshipStarted) -> Representation:
    return _marked({"id": event.originator_id, "program_id": event.program_id, "mentor_id": event.mentor_id,
                    "mentee_id": event.mentee_id, "goals": None if event.goals is None else list(event.goals),
                    "status": "active", "version": 1, "started_at": event.timestamp, "updated_at": event.timestamp,
                    "feedback": {}, "actions": {}, "check_ins": []}, event, "goals")


def redacted(event: Any, *fields: str) -> bool:
    """Whether any of these free-text fields of the event was erased (it reads as None)."""
    gone = getattr(event, "redacted", ())
    return any(name in gone for name in fields)


def _marked(item: dict[str, Any], event: Any, *fields: str) -> dict[str, Any]:
    """``redacted: true`` on an item that held erased text (absent otherwise)."""
    if redacted(event, *fields):
        item["redacted"] = True
    return item


def _given(state: Representation, event: R.FeedbackGiven) -> Representation:
    key = str(event.feedback_id)
    state["feedback"][key] = feedback_item(event)
    for item in event.action_items:
        state["actions"][str(item["action_id"])] = action_item(item, key)
    return state


def _received(state: Representation, event: R.FeedbackReceived) -> Representation:
    item = state["feedback"][str(event.feedback_id)]
    item.update(received_at=event.timestamp, reflection=event.reflection, usefulness=event.usefulness)
    _marked(item, event, "reflection")
    return state


def _completed(state: Representation, event: R.ActionCompleted) -> Representation:
    item = state["actions"][str(event.action_id)]
    item.update(status=COMPLETED, completed_at=event.timestamp, completed_by=event.actor, outcome=event.outcome)
    _marked(item, event, "outcome")
    return state


def _lifecycle(status: str) -> Callable[[Representation, Any], Representation]:
    def change(state: Representation, _: Any) -> Representation:
        state["status"] = status
        return state

    return change


def _checked_in(state: Representation, event: R.CheckInHeld) -> Representation:
    state["check_ins"].append(check_in_item(event))
    return state


FOLDS: dict[type, Callable[[Representation, Any], Representation]] = {
    R.FeedbackGiven: _given,
    R.FeedbackReceived: _received,
    R.ActionCompleted: _completed,
    R.RelationshipPaused: _lifecycle("paused"),
    R.RelationshipResumed: _lifecycle("active"),
    R.RelationshipEnded: _lifecycle("ended"),
    R.CheckInHeld: _checked_in,
    R.ParticipantErased: lambda state, _: state,  # the placeholder already names them in every event
}


def fold_recent(events: Iterable[Any], limit: int) -> Representation | None:
    """Like ``fold``, keeping only the ``limit`` most recent feedback (with their actions) and check-ins, and
    the totals: memory follows ``limit``, not the relationship's history."""
    state: Representation | None = None
    totals = {"feedback": 0, "actions": 0, "check_ins": 0}
    for event in events:
        kind = type(event)
        if state is None:
            state = _started(event)
        elif kind is R.FeedbackReceived and str(event.feedback_id) not in state["feedback"]:
            pass  # a receipt of feedback older than the window
        elif kind is R.ActionCompleted and str(event.action_id) not in state["actions"]:
            pass
        else:
            state = FOLDS[kind](state, event)
        if kind is R.FeedbackGiven:
            totals["feedback"] += 1
            totals["actions"] += len(event.action_items)
            while len(state["feedback"]) > limit:
                oldest = next(iter(state["feedback"]))
                for action_id in state["feedback"].pop(oldest)["action_ids"]:
                    state["actions"].pop(action_id, None)
        elif kind is R.CheckInHeld:
            totals["check_ins"] += 1
            if len(state["check_ins"]) > limit:
                state["check_ins"].pop(0)
        state["version"] = event.originator_version
        state["updated_at"] = event.timestamp
    if state is not None:
        state["totals"] = totals
    return state


def listed(state: Representation) -> Representation:
    """The representation with its feedback and actions as lists, in the order they were given."""
    return {**state, "feedback": list(state["feedback"].values()), "actions": list(state["actions"].values())}


def feedback_item(event: R.FeedbackGiven) -> dict[str, Any]:
    return _marked({"feedback_id": str(event.feedback_id), "giver_id": event.giver_id, "giver_role": event.giver_role,
            "recipient_id": event.recipient_id, "recipient_role": event.recipient_role, "content": event.content,
            "kind": event.kind, "skills": list(event.skills),
            "action_ids": [str(item["action_id"]) for item in event.action_items], "given_at": event.timestamp,
            "received_at": None, "reflection": None, "usefulness": None}, event, "content")


def action_item(item: dict[str, Any], feedback_id: str) -> dict[str, Any]:
    answer = {"action_id": str(item["action_id"]), "feedback_id": feedback_id, "description": item["description"],
              "due_on": item["due_on"], "owner_id": item["owner_id"], "status": OPEN, "completed_at": None,
              "completed_by": None, "outcome": None}
    if item.get("redacted"):
        answer["redacted"] = True
    return answer


def check_in_item(event: R.CheckInHeld) -> dict[str, Any]:
    return _marked({"check_in_id": str(event.check_in_id), "held_on": event.held_on, "minutes": event.minutes,
                    "note": event.note, "recorded_by": event.actor, "recorded_at": event.timestamp}, event, "note")


@functools.cache
def _data_fields(event_class: type) -> tuple[str, ...]:
    """The fields of an event class that are its data, not its envelope or attribution."""
    return tuple(f.name for f in fields(event_class) if f.name not in ENVELOPE and f.name not in ATTRIBUTION)


def describe_event(event: Any) -> dict[str, Any]:
    """One entry of a history: version, type, time, actor and data (``redacted: true`` when text was erased)."""
    entry = {
        "version": event.originator_version,
        "type": type(event).__name__,
        "recorded_at": event.timestamp,
        "actor": event.actor,
        "actor_role": event.actor_role,
        "command_id": event.command_id,
        "data": {name: getattr(event, name) for name in _data_fields(type(event))},
    }
    if getattr(event, "redacted", ()):
        entry["redacted"] = True
    return entry
