"""What each event changes in a relationship's health figures: one mapping, used by the fold and the view.

``delta(event)`` says what an event changes (counters, rows added, the
lifecycle, the last contact). ``evolve`` applies it to the figures of one
relationship (replays, tests); the view applies the deltas of a batch to its
tables. A new kind of event is registered here once, or nowhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timezone
from functools import singledispatch
from typing import Any

from domain.concern import Concern as C
from domain.relationship import MentorshipRelationship as R


@dataclass(frozen=True)
class HealthFigures:
    """What the events of one relationship say, independent of the clock."""

    relationship_id: str
    program_id: str
    lifecycle: str
    started_at: datetime
    by_mentor: int = 0
    by_mentee: int = 0
    acknowledged: int = 0
    acknowledgement_hours: tuple[float, ...] = ()
    actions_total: int = 0
    actions_completed: int = 0
    open_due_dates: tuple[str | None, ...] = ()
    last_feedback_at: datetime | None = None
    check_ins: int = 0
    last_check_in_on: date | None = None
    open_concerns: int = 0
    given_at: dict[str, datetime] = field(default_factory=dict, compare=False, repr=False)
    open_actions: dict[str, str | None] = field(default_factory=dict, compare=False, repr=False)

    @property
    def given(self) -> int:
        return self.by_mentor + self.by_mentee

    @property
    def last_contact_at(self) -> datetime:
        """The last sign of life: feedback given, a check-in held (from the start of its day), or the start."""
        moments = [self.last_feedback_at or self.started_at, self.started_at]
        if self.last_check_in_on is not None:
            moments.append(datetime.combine(self.last_check_in_on, time(), timezone.utc))
        return max(moments)


@dataclass(frozen=True)
class Delta:
    """What one event changes in the health figures of its relationship."""

    relationship_id: str
    started: tuple[str, datetime] | None = None  # (program, when)
    by_mentor: int = 0
    by_mentee: int = 0
    given: tuple[str, datetime] | None = None  # (feedback id, when)
    actions: tuple[tuple[str, str | None], ...] = ()  # (action id, due date)
    acknowledged: tuple[str, datetime] | None = None  # (feedback id, when)
    completed: str | None = None  # action id
    lifecycle: str | None = None
    check_in: date | None = None  # the day a check-in was held
    concerns: int = 0  # open concerns: +1 raised, -1 resolved


@singledispatch
def delta(event: Any) -> Delta | None:
    """What an event changes in health; None for events health does not count (listed in IGNORED)."""
    raise TypeError(f"health does not know {type(event).__name__}: count it in delta() or list it in IGNORED")


IGNORED: frozenset[type] = frozenset({R.ParticipantErased})  # an erasure changes no figure


@delta.register
def _(event: R.ParticipantErased) -> None:
    return None


@delta.register
def _(event: R.RelationshipStarted) -> Delta:
    return Delta(str(event.originator_id), started=(event.program_id, event.timestamp))


@delta.register
def _(event: R.FeedbackGiven) -> Delta:
    by_mentor = event.giver_role == "mentor"
    return Delta(str(event.originator_id), by_mentor=int(by_mentor), by_mentee=int(not by_mentor),
                 given=(str(event.feedback_id), event.timestamp),
                 actions=tuple((str(i["action_id"]), i.get("due_on")) for i in event.action_items))


@delta.register
def _(event: R.FeedbackReceived) -> Delta:
    return Delta(str(event.originator_id), acknowledged=(str(event.feedback_id), event.timestamp))


@delta.register
def _(event: R.ActionCompleted) -> Delta:
    return Delta(str(event.originator_id), completed=str(event.action_id))


@delta.register
def _(event: R.RelationshipPaused) -> Delta:
    return Delta(str(event.originator_id), lifecycle="paused")


@delta.register
def _(event: R.RelationshipResumed) -> Delta:
    return Delta(str(event.originator_id), lifecycle="active")


@delta.register
def _(event: R.RelationshipEnded) -> Delta:
    return Delta(str(event.originator_id), lifecycle="ended")


@delta.register
def _(event: R.CheckInHeld) -> Delta:
    return Delta(str(event.originator_id), check_in=date.fromisoformat(event.held_on))


@delta.register
def _(event: C.ConcernRaised) -> Delta:
    return Delta(str(event.relationship_id), concerns=1)


@delta.register
def _(event: C.ConcernResolved) -> Delta:
    return Delta(str(event.relationship_id), concerns=-1)


def fold(events: list[Any]) -> HealthFigures | None:
    """The figures after these events of one relationship (oldest first)."""
    figures = None
    for event in events:
        change = delta(event)
        if change is not None:
            figures = evolve(figures, change)
    return figures


def evolve(figures: HealthFigures | None, d: Delta) -> HealthFigures:
    """The figures after one more change."""
    if d.started is not None:
        return HealthFigures(d.relationship_id, d.started[0], "active", d.started[1])
    if figures is None:
        raise ValueError("a change to health before the relationship started")
    open_actions = dict(figures.open_actions)
    open_actions.update(d.actions)
    open_actions.pop(d.completed, None)
    hours = figures.acknowledgement_hours
    if d.acknowledged is not None:
        given_at = figures.given_at.get(d.acknowledged[0], d.acknowledged[1])
        hours = (*hours, (d.acknowledged[1] - given_at).total_seconds() / 3600)
    return replace(
        figures,
        lifecycle=d.lifecycle or figures.lifecycle,
        by_mentor=figures.by_mentor + d.by_mentor, by_mentee=figures.by_mentee + d.by_mentee,
        acknowledged=figures.acknowledged + (d.acknowledged is not None), acknowledgement_hours=hours,
        actions_total=figures.actions_total + len(d.actions),
        actions_completed=figures.actions_completed + (d.completed is not None),
        open_actions=open_actions, open_due_dates=tuple(open_actions.values()),
        last_feedback_at=d.given[1] if d.given else figures.last_feedback_at,
        given_at={**figures.given_at, d.given[0]: d.given[1]} if d.given else figures.given_at,
        check_ins=figures.check_ins + (d.check_in is not None),
        last_check_in_on=max(filter(None, (figures.last_check_in_on, d.check_in)), default=None),
        open_concerns=figures.open_concerns + d.concerns,
    )
