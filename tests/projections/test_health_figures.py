"""The health figures folded from the real events of a relationship and its concerns (projections/health/figures.py)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from uuid import uuid4

import pytest

from domain.concern import Concern
from domain.events import Act
from domain.relationship import MentorshipRelationship
from projections.health import figures as hf

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)


def coordinator(at: timedelta) -> Act:
    return Act("ada", "coordinator", T0 + at)


def mentor(at: timedelta) -> Act:
    return Act("mentor-7", "mentor", T0 + at)


def mentee(at: timedelta) -> Act:
    return Act("mentee-12", "mentee", T0 + at)


def started() -> MentorshipRelationship:
    return MentorshipRelationship.start(relationship_id=uuid4(), program_id="spring-2026", mentor_id="mentor-7",
                                        mentee_id="mentee-12", goals=["Lead a design review"], by=coordinator(
                                            timedelta(0)))


def give(rel: MentorshipRelationship, by: Act, *due_dates: str | None):
    feedback_id = uuid4()
    items = [{"action_id": uuid4(), "description": f"step {n}", "due_on": due} for n, due in enumerate(due_dates)]
    rel.give_feedback(feedback_id=feedback_id, content="c", kind="general", skills=[], action_items=items, by=by)
    return feedback_id, [item["action_id"] for item in items]


def test_no_events_give_no_figures():
    assert hf.fold([]) is None


def test_a_relationship_starts_active_with_nothing_counted():
    rel = started()
    assert hf.fold(rel.pending_events) == hf.HealthFigures(str(rel.id), "spring-2026", "active", T0)


def test_the_figures_count_what_the_events_say():
    rel = started()
    to_mentee, (done, due_later, undated) = give(rel, mentor(timedelta(days=1)), "2026-02-01", "2026-02-15", None)
    give(rel, mentor(timedelta(days=2)))
    rel.receive_feedback(feedback_id=to_mentee, reflection=None, usefulness=4, by=mentee(timedelta(days=2, hours=12)))
    rel.complete_action(action_id=done, outcome=None, by=mentee(timedelta(days=3)))
    give(rel, mentee(timedelta(days=3, hours=2)))
    rel.hold_check_in(check_in_id=uuid4(), held_on=date(2026, 1, 9), minutes=30, note=None,
                      by=mentor(timedelta(days=4)))
    folded = hf.fold(rel.pending_events)
    assert folded == hf.HealthFigures(
        relationship_id=str(rel.id), program_id="spring-2026", lifecycle="active", started_at=T0, by_mentor=2,
        by_mentee=1, acknowledged=1, acknowledgement_hours=(36.0,), actions_total=3, actions_completed=1,
        open_due_dates=("2026-02-15", None), last_feedback_at=T0 + timedelta(days=3, hours=2), check_ins=1,
        last_check_in_on=date(2026, 1, 9), open_concerns=0)
    assert folded.open_actions == {str(due_later): "2026-02-15", str(undated): None}
    assert sorted(folded.given_at.values()) == [T0 + timedelta(days=n) for n in (1, 2)] + [
        T0 + timedelta(days=3, hours=2)]


def test_acknowledgement_hours_are_measured_from_when_that_feedback_was_given():
    rel = started()
    first, _ = give(rel, mentor(timedelta(hours=1)))
    second, _ = give(rel, mentor(timedelta(hours=2)))
    rel.receive_feedback(feedback_id=second, reflection=None, usefulness=None, by=mentee(timedelta(hours=3)))
    rel.receive_feedback(feedback_id=first, reflection=None, usefulness=None, by=mentee(timedelta(hours=91)))
    assert hf.fold(rel.pending_events).acknowledgement_hours == (1.0, 90.0)


def test_the_lifecycle_follows_pause_resume_and_end():
    rel = started()
    seen = []
    for command in (rel.pause, rel.resume, rel.end):
        command(reason=None, by=coordinator(timedelta(days=1)))
        seen.append(hf.fold(rel.pending_events).lifecycle)
    assert seen == ["paused", "active", "ended"]


def test_the_last_check_in_is_the_latest_day_not_the_latest_recorded():
    rel = started()
    for day in (date(2026, 1, 9), date(2026, 1, 6)):
        rel.hold_check_in(check_in_id=uuid4(), held_on=day, minutes=30, note=None, by=mentee(timedelta(days=5)))
    folded = hf.fold(rel.pending_events)
    assert (folded.check_ins, folded.last_check_in_on, folded.last_feedback_at) == (2, date(2026, 1, 9), None)


def test_open_concerns_go_up_when_raised_and_down_when_resolved():
    rel = started()
    concerns = [Concern.raise_concern(concern_id=uuid4(), relationship_id=rel.id, content="c",
                                      by=mentee(timedelta(days=n))) for n in (1, 2, 3)]
    concerns[1].resolve(note=None, by=coordinator(timedelta(days=4)))
    events = [*rel.pending_events, *(e for concern in concerns for e in concern.pending_events)]
    assert hf.fold(events).open_concerns == 2


def test_a_change_before_the_relationship_started_is_refused():
    with pytest.raises(ValueError) as refused:
        hf.evolve(None, hf.Delta("r", by_mentor=1))
    assert str(refused.value) == "a change to health before the relationship started"


def test_the_last_contact_is_the_latest_of_feedback_a_check_in_and_the_start():
    subject = hf.HealthFigures("r", "p", "active", T0, last_feedback_at=T0 + timedelta(days=2),
                               last_check_in_on=date(2026, 1, 9))
    assert subject.last_contact_at == datetime(2026, 1, 9, tzinfo=timezone.utc)
    assert hf.HealthFigures("r", "p", "active", T0).last_contact_at == T0
