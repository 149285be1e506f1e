"""The rules of a mentorship relationship, checked on the aggregate alone (no store)."""

from __future__ import annotations

import copy
from datetime import date, datetime, timedelta, timezone
from uuid import UUID, uuid4

import pytest

from domain import errors
from domain.events import Act, short
from domain.relationship import MentorshipRelationship

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
COORDINATOR = Act("ada", "coordinator", T0, "key-start")
MENTOR = Act("mentor-7", "mentor", T0 + timedelta(days=1), "key-mentor")
MENTEE = Act("mentee-12", "mentee", T0 + timedelta(days=2), "key-mentee")


def started(**overrides) -> MentorshipRelationship:
    arguments = {"relationship_id": uuid4(), "program_id": "spring-2026", "mentor_id": "mentor-7",
                 "mentee_id": "mentee-12", "goals": ["Lead a design review"], "by": COORDINATOR, **overrides}
    return MentorshipRelationship.start(**arguments)


def give(rel: MentorshipRelationship, by: Act = MENTOR, items: int = 1) -> tuple[UUID, list[UUID]]:
    feedback_id = uuid4()
    action_items = [{"action_id": uuid4(), "description": f"step {i}", "due_on": date(2026, 2, 1)} for i in range(items)]
    rel.give_feedback(feedback_id=feedback_id, content="Clear review; slow down on trade-offs.", kind="improvement",
                      skills=["presenting"], action_items=action_items, by=by)
    return feedback_id, [item["action_id"] for item in action_items]


def last(rel: MentorshipRelationship):
    return rel.pending_events[-1]


# -- starting ------------------------------------------------------------------------


def test_a_started_relationship_is_active_at_version_one_and_records_what_was_given():
    rid = uuid4()
    rel = started(relationship_id=rid)
    event = last(rel)
    assert (rel.id, rel.status, rel.version, rel.mentor_id, rel.mentee_id) == (rid, "active", 1, "mentor-7", "mentee-12")
    assert (event.program_id, event.mentor_id, event.mentee_id, event.goals) == (
        "spring-2026", "mentor-7", "mentee-12", ["Lead a design review"])
    assert (event.actor, event.actor_role, event.command_id, event.timestamp) == ("ada", "coordinator", "key-start", T0)
    assert rel.started_at == T0 and rel.counts == {"feedback": 0, "actions": 0, "check_ins": 0}


def test_mentor_and_mentee_must_differ_and_the_error_names_the_mentee():
    with pytest.raises(errors.SameParticipantError) as refused:
        started(mentor_id="x", mentee_id="x")
    assert refused.value.field == "mentee_id"


# -- feedback ---------------------------------------------------------------------------


def test_feedback_records_giver_recipient_words_and_actions_owned_by_the_recipient():
    rel = started()
    feedback_id, (action_id,) = give(rel, by=MENTOR)
    event = last(rel)
    assert (event.feedback_id, event.giver_id, event.giver_role, event.recipient_id, event.recipient_role) == (
        feedback_id, "mentor-7", "mentor", "mentee-12", "mentee")
    assert (event.content, event.kind, event.skills) == ("Clear review; slow down on trade-offs.", "improvement",
                                                          ["presenting"])
    assert event.action_items == [{"action_id": action_id, "description": "step 0", "due_on": "2026-02-01",
                                   "owner_id": "mentee-12"}]
    assert (event.actor, event.actor_role, event.command_id, event.timestamp) == (
        "mentor-7", "mentor", "key-mentor", MENTOR.at)
    assert rel.awaiting == {str(feedback_id): "mentee-12"}
    assert rel.open_actions == {str(action_id): ["mentee-12", str(feedback_id)]}
    assert rel.counts == {"feedback": 1, "actions": 1, "check_ins": 0}


def test_feedback_flows_the_other_way_too():
    rel = started()
    feedback_id, (action_id,) = give(rel, by=MENTEE)
    assert (last(rel).recipient_id, last(rel).recipient_role, last(rel).giver_role) == ("mentor-7", "mentor", "mentee")
    assert rel.open_actions[str(action_id)][0] == "mentor-7"


def test_an_action_without_a_due_date_keeps_none():
    rel = started()
    rel.give_feedback(feedback_id=uuid4(), content="c", kind="general", skills=[],
                      action_items=[{"action_id": uuid4(), "description": "d"}], by=MENTOR)
    assert last(rel).action_items[0]["due_on"] is None


def test_only_the_recipient_acknowledges_feedback():
    rel = started()
    feedback_id, _ = give(rel, by=MENTOR)
    for someone in (MENTOR, Act("mentee-12", "coordinator", T0)):
        with pytest.raises(errors.NotPermittedError):
            rel.receive_feedback(feedback_id=feedback_id, reflection=None, usefulness=None, by=someone)


def test_a_receipt_records_the_reflection_and_rating():
    rel = started()
    feedback_id, _ = give(rel)
    rel.receive_feedback(feedback_id=feedback_id, reflection="Fair.", usefulness=4, by=MENTEE)
    event = last(rel)
    assert (event.feedback_id, event.reflection, event.usefulness) == (feedback_id, "Fair.", 4)
    assert (event.actor, event.actor_role, event.command_id, event.timestamp) == (
        "mentee-12", "mentee", "key-mentee", MENTEE.at)
    assert rel.awaiting == {} and feedback_id.hex in rel.received


def test_feedback_is_acknowledged_once_and_the_giver_still_may_not():
    rel = started()
    feedback_id, _ = give(rel)
    rel.receive_feedback(feedback_id=feedback_id, reflection="Fair.", usefulness=4, by=MENTEE)
    with pytest.raises(errors.FeedbackAlreadyReceivedError):
        rel.receive_feedback(feedback_id=feedback_id, reflection=None, usefulness=None, by=MENTEE)
    with pytest.raises(errors.NotPermittedError):
        rel.receive_feedback(feedback_id=feedback_id, reflection=None, usefulness=None, by=MENTOR)
    assert rel.version == 3


def test_unknown_feedback_cannot_be_acknowledged_even_when_others_were():
    rel = started()
    feedback_id, (action_id,) = give(rel)
    rel.receive_feedback(feedback_id=feedback_id, reflection=None, usefulness=None, by=MENTEE)
    for unknown in (uuid4(), action_id):
        with pytest.raises(errors.FeedbackNotFoundError):
            rel.receive_feedback(feedback_id=unknown, reflection=None, usefulness=None, by=MENTEE)


# -- actions -------------------------------------------------------------------------------


def test_an_action_is_completed_once_by_its_owner():
    rel = started()
    _, (action_id,) = give(rel)
    with pytest.raises(errors.NotPermittedError):
        rel.complete_action(action_id=action_id, outcome=None, by=MENTOR)
    rel.complete_action(action_id=action_id, outcome="Done", by=MENTEE)
    assert (last(rel).action_id, last(rel).outcome, last(rel).actor) == (action_id, "Done", "mentee-12")
    with pytest.raises(errors.ActionAlreadyCompletedError):
        rel.complete_action(action_id=action_id, outcome=None, by=MENTEE)
    with pytest.raises(errors.NotPermittedError):
        rel.complete_action(action_id=action_id, outcome=None, by=MENTOR)
    assert rel.open_actions == {} and action_id.hex in rel.completed


def test_a_coordinator_may_complete_any_action():
    rel = started()
    _, (action_id,) = give(rel)
    rel.complete_action(action_id=action_id, outcome=None, by=COORDINATOR)
    assert (last(rel).actor, last(rel).actor_role) == ("ada", "coordinator")


def test_unknown_actions_cannot_be_completed():
    rel = started()
    feedback_id, (action_id,) = give(rel)
    rel.complete_action(action_id=action_id, outcome=None, by=MENTEE)
    for unknown in (uuid4(), feedback_id):
        with pytest.raises(errors.ActionNotFoundError):
            rel.complete_action(action_id=unknown, outcome=None, by=COORDINATOR)


def test_closed_items_remember_whose_they_were_for_either_participant():
    rel = started()
    to_mentor, (mentor_action,) = give(rel, by=MENTEE)
    to_mentee, (mentee_action,) = give(rel, by=MENTOR)
    rel.receive_feedback(feedback_id=to_mentor, reflection=None, usefulness=None, by=MENTOR)
    rel.receive_feedback(feedback_id=to_mentee, reflection=None, usefulness=None, by=MENTEE)
    rel.complete_action(action_id=mentor_action, outcome=None, by=MENTOR)
    rel.complete_action(action_id=mentee_action, outcome=None, by=MENTEE)
    with pytest.raises(errors.FeedbackAlreadyReceivedError):
        rel.receive_feedback(feedback_id=to_mentor, reflection=None, usefulness=None, by=MENTOR)
    with pytest.raises(errors.NotPermittedError):
        rel.receive_feedback(feedback_id=to_mentor, reflection=None, usefulness=None, by=MENTEE)
    with pytest.raises(errors.ActionAlreadyCompletedError):
        rel.complete_action(action_id=mentee_action, outcome=None, by=MENTEE)
    with pytest.raises(errors.NotPermittedError):
        rel.complete_action(action_id=mentee_action, outcome=None, by=MENTOR)


# -- lifecycle -----------------------------------------------------------------------------------


def test_no_new_feedback_while_paused_but_receipts_and_completions_go_on():
    rel = started()
    feedback_id, (action_id,) = give(rel)
    rel.pause(reason="Holidays", by=COORDINATOR)
    assert (rel.status, last(rel).reason) == ("paused", "Holidays")
    with pytest.raises(errors.RelationshipPausedError):
        give(rel)
    rel.receive_feedback(feedback_id=feedback_id, reflection=None, usefulness=None, by=MENTEE)
    rel.complete_action(action_id=action_id, outcome=None, by=MENTEE)
    rel.resume(reason="Back", by=COORDINATOR)
    assert (rel.status, last(rel).reason) == ("active", "Back")
    give(rel)


def test_pausing_a_paused_or_resuming_an_active_relationship_is_refused():
    rel = started()
    with pytest.raises(errors.RelationshipNotPausedError):
        rel.resume(reason=None, by=COORDINATOR)
    rel.pause(reason=None, by=COORDINATOR)
    with pytest.raises(errors.RelationshipAlreadyPausedError):
        rel.pause(reason=None, by=COORDINATOR)


def test_ended_is_final():
    rel = started()
    feedback_id, (action_id,) = give(rel)
    rel.end(reason="Goals met", by=MENTEE)
    assert (rel.status, last(rel).reason, last(rel).actor_role) == ("ended", "Goals met", "mentee")
    refused = [lambda: give(rel), lambda: rel.end(reason=None, by=COORDINATOR),
               lambda: rel.pause(reason=None, by=COORDINATOR), lambda: rel.resume(reason=None, by=COORDINATOR),
               lambda: rel.receive_feedback(feedback_id=feedback_id, reflection=None, usefulness=None, by=MENTEE),
               lambda: rel.complete_action(action_id=action_id, outcome=None, by=MENTEE),
               lambda: rel.hold_check_in(check_in_id=uuid4(), held_on=date(2026, 1, 6), minutes=5, note=None,
                                         by=MENTEE)]
    for command in refused:
        with pytest.raises(errors.RelationshipEndedError):
            command()
    assert rel.version == 3


def test_a_refused_command_changes_nothing():
    rel = started()
    before = copy.deepcopy(rel)
    with pytest.raises(errors.RelationshipNotPausedError):
        rel.resume(reason=None, by=COORDINATOR)
    assert rel.__dict__ == before.__dict__


# -- check-ins -------------------------------------------------------------------------------------


def test_a_check_in_records_the_day_the_minutes_and_a_note():
    rel = started()
    check_in = uuid4()
    rel.hold_check_in(check_in_id=check_in, held_on=date(2026, 1, 6), minutes=45, note="Walked through goals",
                      by=MENTEE)
    event = last(rel)
    assert (event.check_in_id, event.held_on, event.minutes, event.note) == (check_in, "2026-01-06", 45,
                                                                             "Walked through goals")
    assert (event.actor, event.actor_role) == ("mentee-12", "mentee") and rel.counts["check_ins"] == 1


@pytest.mark.parametrize("held_on, allowed", [
    (date(2026, 1, 4), False),  # the day before the start
    (date(2026, 1, 5), True),  # the day of the start
    (date(2026, 1, 7), True),  # the day it is recorded (MENTEE acts on 2026-01-07)
    (date(2026, 1, 8), False),  # tomorrow
])
def test_a_check_in_is_held_between_the_start_and_today(held_on, allowed):
    rel = started()
    if allowed:
        rel.hold_check_in(check_in_id=uuid4(), held_on=held_on, minutes=30, note=None, by=MENTEE)
        assert last(rel).held_on == held_on.isoformat()
        return
    with pytest.raises(errors.InvalidCommandError) as refused:
        rel.hold_check_in(check_in_id=uuid4(), held_on=held_on, minutes=30, note=None, by=MENTEE)
    assert refused.value.field == "held_on" and rel.version == 1


def test_no_check_ins_while_paused():
    rel = started()
    rel.pause(reason=None, by=COORDINATOR)
    with pytest.raises(errors.RelationshipPausedError):
        rel.hold_check_in(check_in_id=uuid4(), held_on=date(2026, 1, 6), minutes=30, note=None, by=MENTEE)


# -- state, copies, replays, old snapshots -------------------------------------------------------------


def test_replaying_the_events_rebuilds_the_same_state():
    rel = started()
    feedback_id, (action_id,) = give(rel)
    rel.receive_feedback(feedback_id=feedback_id, reflection="ok", usefulness=5, by=MENTEE)
    rel.complete_action(action_id=action_id, outcome=None, by=MENTEE)
    rel.hold_check_in(check_in_id=uuid4(), held_on=date(2026, 1, 6), minutes=5, note=None, by=MENTOR)
    replayed = None
    for event in rel.collect_events():
        replayed = event.mutate(replayed)
    assert replayed == rel and replayed.__dict__ == rel.__dict__


def test_a_copy_changes_independently_of_its_original():
    rel = started()
    feedback_id, (action_id,) = give(rel)
    rel.collect_events()
    before = copy.deepcopy(rel.__dict__)
    twin = copy.deepcopy(rel)
    twin.receive_feedback(feedback_id=feedback_id, reflection="r", usefulness=4, by=MENTEE)
    twin.complete_action(action_id=action_id, outcome="o", by=MENTEE)
    twin.pause(reason=None, by=COORDINATOR)
    give(twin, by=MENTEE) if twin.status == "active" else None
    assert rel.__dict__ == before and rel.pending_events == []
    assert (twin.version, twin.status, twin.awaiting, twin.open_actions) == (5, "paused", {}, {})


def test_a_copy_copies_containers_added_to_the_state_later():
    rel = started()
    rel.collect_events()
    rel.notes = {"a": 1}  # state a future event might add
    twin = copy.deepcopy(rel)
    twin.notes["b"] = 2
    assert rel.notes == {"a": 1}


def test_a_snapshot_of_the_first_shape_is_upcast_to_what_the_rules_need():
    fid, gid, aid, bid = (uuid4() for _ in range(4))
    state = {"program_id": "p", "mentor_id": "m", "mentee_id": "e", "goals": ["g"], "status": "active",
             "feedback": {str(fid): {"recipient_id": "e", "received_at": None},
                          str(gid): {"recipient_id": "m", "received_at": T0}},
             "actions": {str(aid): {"owner_id": "e", "feedback_id": str(fid), "status": "open"},
                         str(bid): {"owner_id": "m", "feedback_id": str(gid), "status": "completed"}}}
    MentorshipRelationship.upcast_v1_v2(state)
    assert state["awaiting"] == {str(fid): "e"} and state["received"] == gid.hex + "0"
    assert state["open_actions"] == {str(aid): ["e", str(fid)]} and state["completed"] == bid.hex + "0"
    assert state["counts"] == {"feedback": 2, "actions": 2, "check_ins": 0} and "goals" not in state


def test_a_snapshot_of_the_second_shape_is_upcast_with_nobody_erased():
    state = {"program_id": "p", "mentor_id": "m", "mentee_id": "e", "status": "active", "awaiting": {},
             "open_actions": {}, "received": "", "completed": "", "counts": {"feedback": 0, "actions": 0,
                                                                            "check_ins": 0}}
    MentorshipRelationship.upcast_v2_v3(state)
    assert state["erased"] == []


def test_every_event_says_what_happened_in_words():
    class Say:
        def who(self, ref):
            return ref.upper()

        def text(self, value):
            return short(value) if value else None

    rel = started()
    feedback_id, (action_id,) = give(rel, items=2)[0], give(rel)[1]
    rel.receive_feedback(feedback_id=feedback_id, reflection=None, usefulness=3, by=MENTEE)
    rel.complete_action(action_id=action_id, outcome=None, by=MENTEE)
    rel.hold_check_in(check_in_id=uuid4(), held_on=date(2026, 1, 6), minutes=20, note=None, by=MENTEE)
    rel.pause(reason="  Holiday   season " + "x" * 90, by=COORDINATOR)
    rel.resume(reason=None, by=COORDINATOR)
    rel.end(reason="done", by=MENTOR)
    said = [event.summary(Say()) for event in rel.pending_events]
    assert said == [
        "ADA paired mentor MENTOR-7 with mentee MENTEE-12 in program spring-2026",
        "MENTOR-7 (mentor) gave improvement feedback to MENTEE-12 with 2 action items",
        "MENTOR-7 (mentor) gave improvement feedback to MENTEE-12 with 1 action item",
        f"MENTEE-12 acknowledged feedback {str(feedback_id)[:8]} (usefulness 3)",
        f"MENTEE-12 completed action {str(action_id)[:8]}",
        "MENTEE-12 recorded a 20-minute check-in held on 2026-01-06",
        "ADA paused the relationship: Holiday season " + "x" * 64 + "…",
        "ADA resumed the relationship",
        "MENTOR-7 ended the relationship: done",
    ]


# -- what a refusal says (its message is the problem+json `detail` a client reads) --------------------------


def paused() -> MentorshipRelationship:
    rel = started()
    rel.pause(reason=None, by=COORDINATOR)
    return rel


def ended() -> MentorshipRelationship:
    rel = started()
    rel.end(reason=None, by=COORDINATOR)
    return rel


def with_closed_feedback_and_action() -> tuple[MentorshipRelationship, UUID, UUID]:
    rel = started()
    feedback_id, (action_id,) = give(rel, by=MENTOR)
    rel.receive_feedback(feedback_id=feedback_id, reflection=None, usefulness=None, by=MENTEE)
    rel.complete_action(action_id=action_id, outcome=None, by=MENTEE)
    return rel, feedback_id, action_id


def refuse_same_participant():
    started(mentor_id="x", mentee_id="x")


def refuse_feedback_while_paused():
    give(paused())


def refuse_check_in_while_paused():
    paused().hold_check_in(check_in_id=uuid4(), held_on=date(2026, 1, 6), minutes=30, note=None, by=MENTEE)


def refuse_check_in_tomorrow():
    started().hold_check_in(check_in_id=uuid4(), held_on=date(2026, 1, 8), minutes=30, note=None, by=MENTEE)


def refuse_check_in_before_the_start():
    started().hold_check_in(check_in_id=uuid4(), held_on=date(2026, 1, 4), minutes=30, note=None, by=MENTEE)


def refuse_second_receipt():
    rel, feedback_id, _ = with_closed_feedback_and_action()
    rel.receive_feedback(feedback_id=feedback_id, reflection=None, usefulness=None, by=MENTEE)


def refuse_receipt_of_unknown_feedback():
    rel, _, _ = with_closed_feedback_and_action()
    rel.receive_feedback(feedback_id=uuid4(), reflection=None, usefulness=None, by=MENTEE)


def refuse_receipt_by_the_giver():
    rel = started()
    feedback_id, _ = give(rel, by=MENTOR)
    rel.receive_feedback(feedback_id=feedback_id, reflection=None, usefulness=None, by=MENTOR)


def refuse_second_completion():
    rel, _, action_id = with_closed_feedback_and_action()
    rel.complete_action(action_id=action_id, outcome=None, by=MENTEE)


def refuse_completion_of_unknown_action():
    rel, _, _ = with_closed_feedback_and_action()
    rel.complete_action(action_id=uuid4(), outcome=None, by=COORDINATOR)


def refuse_completion_by_the_other_participant():
    rel = started()
    _, (action_id,) = give(rel, by=MENTOR)
    rel.complete_action(action_id=action_id, outcome=None, by=MENTOR)


def refuse_second_pause():
    paused().pause(reason=None, by=COORDINATOR)


def refuse_resuming_an_active_relationship():
    started().resume(reason=None, by=COORDINATOR)


def refuse_anything_once_ended():
    ended().end(reason=None, by=COORDINATOR)


REFUSALS = [
    (refuse_same_participant, errors.SameParticipantError,
     "A relationship needs two different people as mentor and mentee."),
    (refuse_feedback_while_paused, errors.RelationshipPausedError,
     "The relationship is paused: no new feedback until it resumes."),
    (refuse_check_in_while_paused, errors.RelationshipPausedError,
     "The relationship is paused: no check-ins until it resumes."),
    (refuse_check_in_tomorrow, errors.InvalidCommandError, "A check-in cannot be held in the future."),
    (refuse_check_in_before_the_start, errors.InvalidCommandError,
     "A check-in cannot be held before the relationship started."),
    (refuse_second_receipt, errors.FeedbackAlreadyReceivedError, "This feedback has already been acknowledged."),
    (refuse_receipt_of_unknown_feedback, errors.FeedbackNotFoundError, "No such feedback in this relationship."),
    (refuse_receipt_by_the_giver, errors.NotPermittedError, "Only the recipient acknowledges feedback."),
    (refuse_second_completion, errors.ActionAlreadyCompletedError, "This action item has already been completed."),
    (refuse_completion_of_unknown_action, errors.ActionNotFoundError, "No such action item in this relationship."),
    (refuse_completion_by_the_other_participant, errors.NotPermittedError,
     "Only the owner of an action item, or a coordinator, completes it."),
    (refuse_second_pause, errors.RelationshipAlreadyPausedError, "The relationship is already paused."),
    (refuse_resuming_an_active_relationship, errors.RelationshipNotPausedError,
     "Only a paused relationship can resume."),
    (refuse_anything_once_ended, errors.RelationshipEndedError, "The relationship has ended."),
]


@pytest.mark.parametrize("command, error, message", REFUSALS, ids=[r[0].__name__ for r in REFUSALS])
def test_a_refusal_says_why_in_the_words_a_client_reads(command, error, message):
    with pytest.raises(error) as refused:
        command()
    assert str(refused.value) == message


# -- every event records what its command was given, and who gave it -------------------------------------------


AT = T0 + timedelta(days=3, hours=4)
ACTS = {
    "coordinator": Act("ada", "coordinator", AT, "key-c"),
    "mentor": Act("mentor-7", "mentor", AT, "key-m"),
    "mentee": Act("mentee-12", "mentee", AT, "key-e"),
}


@pytest.mark.parametrize("command, who", [("pause", "coordinator"), ("end", "coordinator"), ("end", "mentor"),
                                          ("end", "mentee")])
def test_a_lifecycle_event_records_its_reason_and_who_acted(command, who):
    rel = started()
    getattr(rel, command)(reason=f"{command} by {who}", by=ACTS[who])
    event = last(rel)
    assert (event.reason, event.actor, event.actor_role, event.command_id, event.timestamp) == (
        f"{command} by {who}", ACTS[who].actor, ACTS[who].role, ACTS[who].command_id, AT)


def test_resuming_records_its_reason_and_who_acted():
    rel = paused()
    rel.resume(reason="Back from leave", by=ACTS["coordinator"])
    event = last(rel)
    assert (event.reason, event.actor, event.actor_role, event.command_id, event.timestamp) == (
        "Back from leave", "ada", "coordinator", "key-c", AT)


def test_a_completion_records_the_outcome_and_who_completed_it():
    rel = started()
    _, (action_id,) = give(rel, by=MENTOR)
    rel.complete_action(action_id=action_id, outcome="Table shared", by=ACTS["mentee"])
    event = last(rel)
    assert (event.action_id, event.outcome, event.actor, event.actor_role, event.command_id, event.timestamp) == (
        action_id, "Table shared", "mentee-12", "mentee", "key-e", AT)


def test_a_check_in_records_who_recorded_it_and_when():
    rel = started()
    rel.hold_check_in(check_in_id=uuid4(), held_on=date(2026, 1, 8), minutes=60, note=None, by=ACTS["mentor"])
    event = last(rel)
    assert (event.held_on, event.minutes, event.note, event.actor, event.actor_role, event.command_id,
            event.timestamp) == ("2026-01-08", 60, None, "mentor-7", "mentor", "key-m", AT)


def test_feedback_from_the_mentee_records_every_field_as_given():
    rel = started()
    feedback_id, action_id = uuid4(), uuid4()
    rel.give_feedback(feedback_id=feedback_id, content="Thanks for the review.", kind="strength",
                      skills=("listening", "patience"), by=ACTS["mentee"],
                      action_items=[{"action_id": action_id, "description": "Share notes", "due_on": "2026-02-03"}])
    event = last(rel)
    assert (event.feedback_id, event.giver_id, event.giver_role, event.recipient_id, event.recipient_role) == (
        feedback_id, "mentee-12", "mentee", "mentor-7", "mentor")
    assert (event.content, event.kind, event.skills) == ("Thanks for the review.", "strength",
                                                          ["listening", "patience"])
    assert event.action_items == [{"action_id": action_id, "description": "Share notes", "due_on": "2026-02-03",
                                   "owner_id": "mentor-7"}]
    assert (event.actor, event.actor_role, event.command_id, event.timestamp) == ("mentee-12", "mentee", "key-e", AT)


def test_the_state_counts_every_action_item_of_every_piece_of_feedback():
    rel = started()
    give(rel, by=MENTOR, items=3)
    give(rel, by=MENTEE, items=0)
    rel.hold_check_in(check_in_id=uuid4(), held_on=date(2026, 1, 6), minutes=30, note=None, by=MENTEE)
    assert rel.counts == {"feedback": 2, "actions": 3, "check_ins": 1}


def test_the_goals_are_recorded_as_a_list_of_their_own():
    goals = ("Lead a design review", "Speak at the all-hands")
    rel = started(goals=goals)
    assert last(rel).goals == ["Lead a design review", "Speak at the all-hands"]


# -- closed items are found by their own mark, never by a match across two marks ---------------------------------

# A closed item is kept as 32 hex digits and a role mark; marks are 33 characters each, back to back. Ids made of
# zeros make an id appear across the end of one mark and the start of the next: only a match at a mark counts.
ZEROS = UUID(int=0)
ENDS_IN_ZEROS = UUID("ff000000-0000-0000-0000-000000000000")
STARTS_WITH_ZEROS = UUID("00000000-0000-0000-0000-0000000000ab")


def acknowledged_by_the_mentor(*feedback_ids: UUID) -> MentorshipRelationship:
    rel = started()
    for feedback_id in feedback_ids:
        rel.give_feedback(feedback_id=feedback_id, content="c", kind="general", skills=[], action_items=[],
                          by=MENTEE)
        rel.receive_feedback(feedback_id=feedback_id, reflection=None, usefulness=None, by=MENTOR)
    return rel


def test_closed_feedback_is_found_at_its_own_mark_after_a_match_across_marks():
    rel = acknowledged_by_the_mentor(ENDS_IN_ZEROS, ZEROS)
    assert (rel.received.find(ZEROS.hex), rel.received.rfind(ZEROS.hex)) == (2, 34)  # matches before and after
    with pytest.raises(errors.FeedbackAlreadyReceivedError):
        rel.receive_feedback(feedback_id=ZEROS, reflection=None, usefulness=None, by=MENTOR)
    with pytest.raises(errors.NotPermittedError):
        rel.receive_feedback(feedback_id=ZEROS, reflection=None, usefulness=None, by=MENTEE)


def test_an_id_seen_only_across_two_marks_is_not_found():
    rel = acknowledged_by_the_mentor(ENDS_IN_ZEROS, STARTS_WITH_ZEROS)
    assert rel.received.find(ZEROS.hex) == 2
    with pytest.raises(errors.FeedbackNotFoundError):
        rel.receive_feedback(feedback_id=ZEROS, reflection=None, usefulness=None, by=MENTOR)


def test_a_completed_action_is_found_at_its_own_mark_after_a_match_across_marks():
    rel = started()
    rel.give_feedback(feedback_id=uuid4(), content="c", kind="general", skills=[], by=MENTEE,
                      action_items=[{"action_id": ENDS_IN_ZEROS, "description": "a"},
                                    {"action_id": ZEROS, "description": "b"}])
    for action_id in (ENDS_IN_ZEROS, ZEROS):
        rel.complete_action(action_id=action_id, outcome=None, by=MENTOR)
    with pytest.raises(errors.ActionAlreadyCompletedError):
        rel.complete_action(action_id=ZEROS, outcome=None, by=MENTOR)
    with pytest.raises(errors.NotPermittedError):
        rel.complete_action(action_id=ZEROS, outcome=None, by=MENTEE)


# -- old snapshots, copies --------------------------------------------------------------------------------------


def test_a_first_shape_snapshot_keeps_one_mark_per_closed_item_back_to_back():
    fid, gid, aid, bid = (uuid4() for _ in range(4))
    state = {"program_id": "p", "mentor_id": "m", "mentee_id": "e", "goals": ["g"], "status": "active",
             "feedback": {str(fid): {"recipient_id": "e", "received_at": T0},
                          str(gid): {"recipient_id": "m", "received_at": T0}},
             "actions": {str(aid): {"owner_id": "e", "feedback_id": str(fid), "status": "completed"},
                         str(bid): {"owner_id": "m", "feedback_id": str(gid), "status": "completed"}}}
    MentorshipRelationship.upcast_v1_v2(state)
    assert state["received"] == fid.hex + "1" + gid.hex + "0"
    assert state["completed"] == aid.hex + "1" + bid.hex + "0"
    assert (state["awaiting"], state["open_actions"]) == ({}, {})


def test_a_first_shape_snapshot_without_goals_is_upcast_too():
    state = {"program_id": "p", "mentor_id": "m", "mentee_id": "e", "status": "active", "feedback": {},
             "actions": {}}
    MentorshipRelationship.upcast_v1_v2(state)
    assert state == {"program_id": "p", "mentor_id": "m", "mentee_id": "e", "status": "active", "awaiting": {},
                     "received": "", "open_actions": {}, "completed": "",
                     "counts": {"feedback": 0, "actions": 0, "check_ins": 0}}


def test_copying_a_structure_that_holds_a_relationship_leaves_its_other_values_alone():
    rel = started()
    rel.collect_events()
    copied = copy.deepcopy({"relationship": rel, "nothing": None})
    assert copied["nothing"] is None
    assert copied["relationship"] is not rel and copied["relationship"].__dict__ == rel.__dict__
