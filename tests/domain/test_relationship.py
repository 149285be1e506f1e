"""The rules of a mentorship relationship, checked on the aggregate alone (no store)."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone
from uuid import uuid4

import pytest

from domain import errors
from domain.principal import Actor
from domain.relationship import MentorshipRelationship

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
COORDINATOR = Actor("ada", "coordinator")
MENTOR = Actor("mentor-7", "mentor")
MENTEE = Actor("mentee-12", "mentee")


def started() -> MentorshipRelationship:
    return MentorshipRelationship.start(
        relationship_id=uuid4(), program_id="spring-2026", mentor_id=MENTOR.id, mentee_id=MENTEE.id,
        goals=["Lead a design review"], actor=COORDINATOR, command_id=None, at=T0,
    )


def give(rel: MentorshipRelationship, by: Actor = MENTOR, items: int = 1) -> tuple[str, list[str]]:
    feedback_id = uuid4()
    action_items = [{"action_id": uuid4(), "description": f"step {i}", "due_on": "2026-02-01"} for i in range(items)]
    rel.give_feedback(feedback_id=feedback_id, content="Clear review; slow down on trade-offs.",
                      kind="improvement", skills=["presenting"], action_items=action_items,
                      actor=by, command_id=None, at=T0 + timedelta(days=1))
    return feedback_id, [item["action_id"] for item in action_items]


def test_a_started_relationship_is_active_at_version_one():
    rel = started()
    assert (rel.status, rel.version, rel.mentor_id, rel.mentee_id) == ("active", 1, "mentor-7", "mentee-12")
    assert rel.started_at == T0


def test_mentor_and_mentee_must_differ():
    with pytest.raises(errors.SameParticipantError):
        MentorshipRelationship.start(relationship_id=uuid4(), program_id="p", mentor_id="x", mentee_id="x",
                                     goals=[], actor=COORDINATOR, command_id=None, at=T0)


def test_only_a_coordinator_starts_a_relationship():
    with pytest.raises(errors.NotPermittedError):
        MentorshipRelationship.start(relationship_id=uuid4(), program_id="p", mentor_id="a", mentee_id="b",
                                     goals=[], actor=MENTOR, command_id=None, at=T0)


def test_feedback_flows_both_ways_and_the_recipient_owns_the_actions():
    rel = started()
    to_mentee, mentee_actions = give(rel, by=MENTOR)
    to_mentor, mentor_actions = give(rel, by=MENTEE)
    assert rel.feedback[str(to_mentee)]["recipient_id"] == "mentee-12"
    assert rel.feedback[str(to_mentor)]["recipient_role"] == "mentor"
    assert rel.actions[str(mentee_actions[0])]["owner_id"] == "mentee-12"
    assert rel.actions[str(mentor_actions[0])]["owner_id"] == "mentor-7"


def test_a_coordinator_does_not_give_feedback():
    with pytest.raises(errors.NotPermittedError):
        give(started(), by=COORDINATOR)


def test_only_the_recipient_acknowledges_feedback():
    rel = started()
    feedback_id, _ = give(rel, by=MENTOR)
    with pytest.raises(errors.NotPermittedError):
        rel.receive_feedback(feedback_id=feedback_id, reflection=None, usefulness=None,
                             actor=MENTOR, command_id=None, at=T0)


def test_feedback_is_acknowledged_once():
    rel = started()
    feedback_id, _ = give(rel)
    rel.receive_feedback(feedback_id=feedback_id, reflection="Fair.", usefulness=4, actor=MENTEE,
                         command_id=None, at=T0)
    with pytest.raises(errors.FeedbackAlreadyReceivedError):
        rel.receive_feedback(feedback_id=feedback_id, reflection=None, usefulness=None, actor=MENTEE,
                             command_id=None, at=T0)
    assert rel.version == 3


def test_unknown_feedback_cannot_be_acknowledged():
    with pytest.raises(errors.FeedbackNotFoundError):
        started().receive_feedback(feedback_id=uuid4(), reflection=None, usefulness=None, actor=MENTEE,
                                   command_id=None, at=T0)


def test_an_action_is_completed_once_by_its_owner():
    rel = started()
    _, (action_id,) = give(rel)
    with pytest.raises(errors.NotPermittedError):
        rel.complete_action(action_id=action_id, outcome=None, actor=MENTOR, command_id=None, at=T0)
    rel.complete_action(action_id=action_id, outcome="Done", actor=MENTEE, command_id=None, at=T0)
    with pytest.raises(errors.ActionAlreadyCompletedError):
        rel.complete_action(action_id=action_id, outcome=None, actor=MENTEE, command_id=None, at=T0)
    assert rel.actions[str(action_id)]["status"] == "completed"


def test_a_coordinator_may_complete_any_action():
    rel = started()
    _, (action_id,) = give(rel)
    rel.complete_action(action_id=action_id, outcome=None, actor=COORDINATOR, command_id=None, at=T0)
    assert rel.actions[str(action_id)]["completed_by"] == "ada"


def test_no_new_feedback_while_paused_but_receipts_and_completions_go_on():
    rel = started()
    feedback_id, (action_id,) = give(rel)
    rel.pause(reason="Holidays", actor=COORDINATOR, command_id=None, at=T0)
    with pytest.raises(errors.RelationshipPausedError):
        give(rel)
    rel.receive_feedback(feedback_id=feedback_id, reflection=None, usefulness=None, actor=MENTEE,
                         command_id=None, at=T0)
    rel.complete_action(action_id=action_id, outcome=None, actor=MENTEE, command_id=None, at=T0)
    assert rel.status == "paused"


def test_pausing_a_paused_or_resuming_an_active_relationship_is_refused():
    rel = started()
    with pytest.raises(errors.RelationshipNotPausedError):
        rel.resume(reason=None, actor=COORDINATOR, command_id=None, at=T0)
    rel.pause(reason=None, actor=COORDINATOR, command_id=None, at=T0)
    with pytest.raises(errors.RelationshipAlreadyPausedError):
        rel.pause(reason=None, actor=COORDINATOR, command_id=None, at=T0)


def test_participants_neither_pause_nor_resume():
    with pytest.raises(errors.NotPermittedError):
        started().pause(reason=None, actor=MENTEE, command_id=None, at=T0)


def test_either_participant_may_end_and_then_nothing_new_happens():
    rel = started()
    feedback_id, (action_id,) = give(rel)
    rel.end(reason="Goals met", actor=MENTEE, command_id=None, at=T0)
    with pytest.raises(errors.RelationshipEndedError):
        give(rel)
    with pytest.raises(errors.RelationshipEndedError):
        rel.receive_feedback(feedback_id=feedback_id, reflection=None, usefulness=None, actor=MENTEE,
                             command_id=None, at=T0)
    with pytest.raises(errors.RelationshipEndedError):
        rel.complete_action(action_id=action_id, outcome=None, actor=MENTEE, command_id=None, at=T0)
    with pytest.raises(errors.RelationshipEndedError):
        rel.end(reason=None, actor=COORDINATOR, command_id=None, at=T0)


def test_a_refused_command_changes_nothing():
    rel = started()
    before = (rel.version, dict(rel.feedback), rel.status, len(rel.pending_events))
    with pytest.raises(errors.RelationshipNotPausedError):
        rel.resume(reason=None, actor=COORDINATOR, command_id=None, at=T0)
    assert (rel.version, dict(rel.feedback), rel.status, len(rel.pending_events)) == before


def test_every_event_records_actor_role_and_command_key():
    rel = started()
    rel.pause(reason="r", actor=COORDINATOR, command_id="key-1", at=T0 + timedelta(hours=1))
    event = rel.pending_events[-1]
    assert (event.actor, event.actor_role, event.command_id) == ("ada", "coordinator", "key-1")
    assert event.timestamp == T0 + timedelta(hours=1)


def test_replaying_the_events_rebuilds_the_same_state():
    rel = started()
    feedback_id, (action_id,) = give(rel)
    rel.receive_feedback(feedback_id=feedback_id, reflection="ok", usefulness=5, actor=MENTEE,
                         command_id=None, at=T0)
    events = rel.collect_events()
    replayed = None
    for event in events:
        replayed = event.mutate(replayed)
    assert replayed == rel



def test_a_copy_changes_independently_of_its_original():
    rel = started()
    feedback_id, (action_id,) = give(rel)
    rel.collect_events()
    twin = copy.deepcopy(rel)
    at = T0 + timedelta(days=2)
    twin.receive_feedback(feedback_id=feedback_id, reflection="r", usefulness=4, actor=MENTEE, command_id=None, at=at)
    twin.complete_action(action_id=action_id, outcome="o", actor=MENTEE, command_id=None, at=at)
    twin.pause(reason=None, actor=COORDINATOR, command_id=None, at=at)
    assert rel.feedback[str(feedback_id)]["received_at"] is None
    assert rel.actions[str(action_id)]["status"] == "open"
    assert (rel.status, rel.version, rel.pending_events) == ("active", 2, [])
    assert twin.feedback[str(feedback_id)]["usefulness"] == 4 and twin.version == 5
    assert twin.actions[str(action_id)]["status"] == "completed" and twin.status == "paused"
