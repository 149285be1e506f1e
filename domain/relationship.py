"""The MentorshipRelationship aggregate: its events and its rules.

The aggregate keeps only what its rules need: the two participants, the
status, which feedback awaits whose receipt and which actions are open and
whose, and compact marks of the ones already closed. The words (goals,
feedback, reflections, outcomes, notes) live in the events only: the full
representation is a fold of the events (``domain.representation``), so the
state, its snapshots and a cold load stay small however long the history.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain import errors
from domain.events import Act, Attributed, Say, short
from domain.identifiers import same_person
from domain.personal import is_reserved

ACTIVE, PAUSED, ENDED = "active", "paused", "ended"
MENTOR, MENTEE = "mentor", "mentee"
FEEDBACK_KINDS = ("strength", "improvement", "general")
USEFULNESS = (1, 5)  # a receipt rates feedback from 1 (not useful) to 5 (very useful)
CHECK_IN_MINUTES = (1, 24 * 60)
_ROLE_MARK = {MENTOR: "0", MENTEE: "1"}
_MARK_ROLE = {mark: role for role, mark in _ROLE_MARK.items()}


class MentorshipRelationship(Aggregate):
    """A mentor and a mentee paired in a program, and the feedback loop between them."""

    # The shape of the state (and so of snapshots). 2: only what the rules need (see upcast_v1_v2);
    # 3: the roles whose participant was erased (upcast_v2_v3).
    class_version = 3

    class Event(Attributed, Aggregate.Event):
        """An event of a relationship."""

        @property
        def relationship_id(self) -> UUID:
            return self.originator_id

    class RelationshipStarted(Attributed, Aggregate.Created):
        PEOPLE = ("actor", "mentor_id", "mentee_id")
        TEXTS = ("goals",)
        STARTS_SCOPE, PARTICIPANTS = True, ("mentor_id", "mentee_id")  # the relationship's key, and who erases it

        program_id: str
        mentor_id: str
        mentee_id: str
        goals: list[str]

        @property
        def relationship_id(self) -> UUID:
            return self.originator_id

        def apply(self, rel: MentorshipRelationship) -> None:
            rel.program_id = self.program_id
            rel.mentor_id = self.mentor_id
            rel.mentee_id = self.mentee_id
            rel.status = ACTIVE
            rel.awaiting = {}  # feedback id -> recipient id
            rel.open_actions = {}  # action id -> [owner id, feedback id]
            rel.received = ""  # closed feedback: 32 hex digits and the recipient's role mark, each
            rel.completed = ""  # closed actions, the same way
            rel.counts = {"feedback": 0, "actions": 0, "check_ins": 0}
            rel.erased = ()  # the roles whose participant was erased

        def summary(self, say: Say) -> str:
            return (f"{say.who(self.actor)} paired mentor {say.who(self.mentor_id)} with mentee "
                    f"{say.who(self.mentee_id)} in program {self.program_id}")

    class FeedbackGiven(Event):
        PEOPLE = ("actor", "giver_id", "recipient_id", "action_items.owner_id")
        TEXTS = ("content", "action_items.description")

        feedback_id: UUID
        giver_id: str
        giver_role: str
        recipient_id: str
        recipient_role: str
        content: str
        kind: str
        skills: list[str]
        action_items: list[dict[str, Any]]

        def apply(self, rel: MentorshipRelationship) -> None:
            key = str(self.feedback_id)
            rel.awaiting[key] = self.recipient_id
            for item in self.action_items:
                rel.open_actions[str(item["action_id"])] = [item["owner_id"], key]
            rel.counts = {**rel.counts, "feedback": rel.counts["feedback"] + 1,
                          "actions": rel.counts["actions"] + len(self.action_items)}

        def summary(self, say: Say) -> str:
            items = len(self.action_items)
            return (f"{say.who(self.actor)} ({self.giver_role}) gave {self.kind} feedback to "
                    f"{say.who(self.recipient_id)} with {items} action {'item' if items == 1 else 'items'}")

    class FeedbackReceived(Event):
        TEXTS = ("reflection",)

        feedback_id: UUID
        reflection: str | None
        usefulness: int | None

        def apply(self, rel: MentorshipRelationship) -> None:
            recipient = rel.awaiting.pop(str(self.feedback_id))
            rel.received += _mark(self.feedback_id, rel.role_of(recipient))

        def summary(self, say: Say) -> str:
            rating = f" (usefulness {self.usefulness})" if self.usefulness else ""
            return f"{say.who(self.actor)} acknowledged feedback {str(self.feedback_id)[:8]}{rating}"

    class ActionCompleted(Event):
        TEXTS = ("outcome",)

        action_id: UUID
        outcome: str | None

        def apply(self, rel: MentorshipRelationship) -> None:
            owner, _ = rel.open_actions.pop(str(self.action_id))
            rel.completed += _mark(self.action_id, rel.role_of(owner))

        def summary(self, say: Say) -> str:
            return f"{say.who(self.actor)} completed action {str(self.action_id)[:8]}"

    class _Lifecycle(Event):
        """A change of status (see LIFECYCLE), with the reason given."""

        TEXTS = ("reason",)

        reason: str | None

        def apply(self, rel: MentorshipRelationship) -> None:
            rel.status = LIFECYCLE[type(self)][0]

        def summary(self, say: Say) -> str:
            return f"{say.who(self.actor)} {LIFECYCLE[type(self)][1]} the relationship{_because(say, self.reason)}"

    class RelationshipPaused(_Lifecycle):
        """The relationship was put on hold."""

    class RelationshipResumed(_Lifecycle):
        """The relationship was taken up again."""

    class RelationshipEnded(_Lifecycle):
        """The relationship ended, for good."""

    class CheckInHeld(Event):
        TEXTS = ("note",)

        check_in_id: UUID
        held_on: str
        minutes: int
        note: str | None

        def apply(self, rel: MentorshipRelationship) -> None:
            rel.counts = {**rel.counts, "check_ins": rel.counts["check_ins"] + 1}

        def summary(self, say: Say) -> str:
            return f"{say.who(self.actor)} recorded a {self.minutes}-minute check-in held on {self.held_on}"

    class ParticipantErased(Event):
        """A coordinator erased a participant's personal data: from here on the relationship names them by a
        placeholder (``subject``) and takes no new events. The reason is kept in plain text: it is the record
        of the erasure (it may not name the person)."""

        PEOPLE = ("actor", "subject")

        subject: str
        role: str
        reason: str | None

        def apply(self, rel: MentorshipRelationship) -> None:
            before = rel.mentor_id if self.role == MENTOR else rel.mentee_id
            if self.role == MENTOR:
                rel.mentor_id = self.subject
            else:
                rel.mentee_id = self.subject
            rel.awaiting = {k: self.subject if v == before else v for k, v in rel.awaiting.items()}
            rel.open_actions = {k: [self.subject if owner == before else owner, feedback]
                                for k, (owner, feedback) in rel.open_actions.items()}
            rel.erased = (*rel.erasures(), self.role)

        def summary(self, say: Say) -> str:
            reason = f": {short(self.reason)}" if self.reason else ""
            return f"{say.who(self.actor)} erased the personal data of the {self.role} {say.who(self.subject)}{reason}"

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        """A snapshot of the first shape (every feedback and action with its words) to the second."""
        role = {state["mentor_id"]: MENTOR, state["mentee_id"]: MENTEE}
        feedback, actions = state.pop("feedback"), state.pop("actions")
        state.pop("goals", None)
        state["awaiting"] = {k: f["recipient_id"] for k, f in feedback.items() if f["received_at"] is None}
        state["received"] = "".join(_mark(UUID(k), role.get(f["recipient_id"]))
                                    for k, f in feedback.items() if f["received_at"] is not None)
        state["open_actions"] = {k: [a["owner_id"], a["feedback_id"]] for k, a in actions.items()
                                 if a["status"] != "completed"}
        state["completed"] = "".join(_mark(UUID(k), role.get(a["owner_id"]))
                                     for k, a in actions.items() if a["status"] == "completed")
        state["counts"] = {"feedback": len(feedback), "actions": len(actions), "check_ins": 0}

    @staticmethod
    def upcast_v2_v3(state: dict[str, Any]) -> None:
        """A snapshot taken before erasure existed: nobody in it was erased."""
        state["erased"] = []

    # -- construction ---------------------------------------------------------

    @classmethod
    def start(cls, *, relationship_id: UUID, program_id: str, mentor_id: str, mentee_id: str,
              goals: list[str], by: Act) -> MentorshipRelationship:
        """Pair a mentor with a mentee in a program."""
        for field, participant in (("mentor_id", mentor_id), ("mentee_id", mentee_id)):
            if is_reserved(participant):
                raise errors.InvalidCommandError(
                    "Participant ids cannot start with '~' or 'erased:': those stand for pseudonyms and erased "
                    "participants.", field=field)
        if same_person(mentor_id, mentee_id):
            raise errors.SameParticipantError(
                "A relationship needs two different people as mentor and mentee.", field="mentee_id")
        return cls._create(cls.RelationshipStarted, id=relationship_id, program_id=program_id,
                           mentor_id=mentor_id, mentee_id=mentee_id, goals=list(goals), **by.attribution())

    def __deepcopy__(self, memo: dict[int, Any]) -> MentorshipRelationship:
        """A copy whose changes cannot reach the original: every container is copied, entries shared.

        Entries are values that events replace, never change, so a new container
        holding the same entries is enough, whatever state the events add.
        """
        copy = object.__new__(type(self))
        memo[id(self)] = copy
        copy.__dict__.update({name: _fresh(value) for name, value in self.__dict__.items()})
        return copy

    # -- questions ------------------------------------------------------------

    def role_of(self, participant_id: str) -> str | None:
        """'mentor' or 'mentee' for the two participants, else None."""
        if participant_id == self.mentor_id:
            return MENTOR
        if participant_id == self.mentee_id:
            return MENTEE
        return None

    def erasures(self) -> tuple[str, ...]:
        """The roles whose participant was erased."""
        return tuple(self.erased)

    def other_than(self, participant_id: str) -> str:
        return self.mentee_id if participant_id == self.mentor_id else self.mentor_id

    @property
    def started_at(self):
        return self.created_on

    # -- commands -------------------------------------------------------------

    def give_feedback(self, *, feedback_id: UUID, content: str, kind: str, skills: list[str],
                      action_items: list[dict[str, Any]], by: Act) -> None:
        """The mentor or the mentee gives feedback to the other, who owns its action items.

        ``action_items`` carry ``action_id``, ``description`` and ``due_on`` (a date, or None).
        """
        self._require_not_ended()
        self._require_not_paused("no new feedback")
        recipient = self.other_than(by.actor)
        items = [{"action_id": item["action_id"], "description": item["description"],
                  "due_on": _day(item.get("due_on")), "owner_id": recipient} for item in action_items]
        self.trigger_event(self.FeedbackGiven, feedback_id=feedback_id, giver_id=by.actor, giver_role=by.role,
                           recipient_id=recipient, recipient_role=self.role_of(recipient), content=content,
                           kind=kind, skills=list(skills), action_items=items, **by.attribution())

    def receive_feedback(self, *, feedback_id: UUID, reflection: str | None, usefulness: int | None,
                         by: Act) -> None:
        """The recipient acknowledges feedback, once, with an optional reflection."""
        self.require_recipient(feedback_id, by)
        self._require_not_ended()
        if str(feedback_id) not in self.awaiting:
            raise errors.FeedbackAlreadyReceivedError("This feedback has already been acknowledged.")
        self.trigger_event(self.FeedbackReceived, feedback_id=feedback_id, reflection=reflection,
                           usefulness=usefulness, **by.attribution())

    def complete_action(self, *, action_id: UUID, outcome: str | None, by: Act) -> None:
        """The owner of an action item (or a coordinator) completes it, once."""
        self.require_owner(action_id, by)
        self._require_not_ended()
        if str(action_id) not in self.open_actions:
            raise errors.ActionAlreadyCompletedError("This action item has already been completed.")
        self.trigger_event(self.ActionCompleted, action_id=action_id, outcome=outcome, **by.attribution())

    def pause(self, *, reason: str | None, by: Act) -> None:
        """Put an active relationship on hold."""
        self._require_not_ended()
        if self.status == PAUSED:
            raise errors.RelationshipAlreadyPausedError("The relationship is already paused.")
        self.trigger_event(self.RelationshipPaused, reason=reason, **by.attribution())

    def resume(self, *, reason: str | None, by: Act) -> None:
        """Take a paused relationship up again."""
        self._require_not_ended()
        if self.status != PAUSED:
            raise errors.RelationshipNotPausedError("Only a paused relationship can resume.")
        self.trigger_event(self.RelationshipResumed, reason=reason, **by.attribution())

    def end(self, *, reason: str | None, by: Act) -> None:
        """End the relationship, for good."""
        self._require_not_ended()
        self.trigger_event(self.RelationshipEnded, reason=reason, **by.attribution())

    def hold_check_in(self, *, check_in_id: UUID, held_on: date, minutes: int, note: str | None, by: Act) -> None:
        """Record that mentor and mentee met: on which day (not in the future, not before the start), how long."""
        self._require_not_ended()
        self._require_not_paused("no check-ins")
        if held_on > by.at.date():
            raise errors.InvalidCommandError("A check-in cannot be held in the future.", field="held_on")
        if held_on < self.started_at.date():
            raise errors.InvalidCommandError("A check-in cannot be held before the relationship started.",
                                             field="held_on")
        self.trigger_event(self.CheckInHeld, check_in_id=check_in_id, held_on=held_on.isoformat(),
                           minutes=minutes, note=note, **by.attribution())

    def erase_participant(self, *, role: str, placeholder: str, reason: str | None, by: Act) -> bool:
        """Record that the participant in ``role`` was erased (once: False when it already was)."""
        if role in self.erasures():
            return False
        self.trigger_event(self.ParticipantErased, subject=placeholder, role=role, reason=reason,
                           **by.attribution())
        return True

    # -- who may close what -----------------------------------------------------

    def require_recipient(self, feedback_id: UUID, by: Act) -> None:
        """Only the recipient of this feedback (never a coordinator) acknowledges it."""
        recipient = self.awaiting.get(str(feedback_id))
        if recipient is None:
            recipient = self._closed_by(self.received, feedback_id, errors.FeedbackNotFoundError,
                                        "No such feedback in this relationship.")
        if by.actor != recipient or by.role not in (MENTOR, MENTEE):
            raise errors.NotPermittedError("Only the recipient acknowledges feedback.")

    def require_owner(self, action_id: UUID, by: Act) -> None:
        """Only the owner of this action item, or a coordinator, completes it."""
        entry = self.open_actions.get(str(action_id))
        owner = entry[0] if entry else self._closed_by(self.completed, action_id, errors.ActionNotFoundError,
                                                       "No such action item in this relationship.")
        if by.role not in (MENTOR, MENTEE) or by.actor == owner:
            return
        raise errors.NotPermittedError("Only the owner of an action item, or a coordinator, completes it.")

    # -- helpers --------------------------------------------------------------

    def _closed_by(self, marks: str, item_id: UUID, missing: type[errors.NotFoundError], message: str) -> str:
        """The participant an already closed item belonged to; ``missing`` when it never existed."""
        start = marks.find(item_id.hex)
        while start != -1 and start % MARK_LENGTH:
            start = marks.find(item_id.hex, start + 1)
        if start == -1:
            raise missing(message)
        role = _MARK_ROLE[marks[start + 32]]
        return self.mentor_id if role == MENTOR else self.mentee_id

    def _require_not_ended(self) -> None:
        if self.status == ENDED:
            raise errors.RelationshipEndedError("The relationship has ended.")
        if self.erasures():
            raise errors.ErasedParticipantError(
                "A participant of this relationship was erased: it takes no new events.")

    def _require_not_paused(self, what: str) -> None:
        if self.status == PAUSED:
            raise errors.RelationshipPausedError(f"The relationship is paused: {what} until it resumes.")


MARK_LENGTH = 33
LIFECYCLE = {  # event class: (the status it leaves, the verb that says so)
    MentorshipRelationship.RelationshipPaused: (PAUSED, "paused"),
    MentorshipRelationship.RelationshipResumed: (ACTIVE, "resumed"),
    MentorshipRelationship.RelationshipEnded: (ENDED, "ended"),
}


def _mark(item_id: UUID, role: str | None) -> str:
    return item_id.hex + _ROLE_MARK[role or MENTEE]


def _day(day: date | str | None) -> str | None:
    """Days are kept as ISO dates (YYYY-MM-DD)."""
    return day.isoformat() if isinstance(day, date) else day


def _fresh(value: Any) -> Any:
    if isinstance(value, dict | list | set):
        return type(value)(value)
    return value


def _because(say: Say, reason: str | None) -> str:
    text = say.text(reason)
    return f": {text}" if text else ""
