"""The MentorshipRelationship aggregate, its events and its rules.

State is kept in plain values (str, int, list, dict, UUID, datetime) so that
snapshots and replays need nothing but the library's transcoder. Entries of
``feedback`` and ``actions`` are never changed in place: an event replaces an
entry with a new one, so a copy of the aggregate may share them (see
``__deepcopy__``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain import errors
from domain.principal import COORDINATOR, MENTEE, MENTOR, Actor

ACTIVE, PAUSED, ENDED = "active", "paused", "ended"
FEEDBACK_KINDS = ("strength", "improvement", "general")


class MentorshipRelationship(Aggregate):
    """A mentor and a mentee paired in a program, and the feedback loop between them."""

    class Event(Aggregate.Event):
        """Every event records who caused it, in which role, under which command key."""

        actor: str
        actor_role: str
        command_id: str | None

    class RelationshipStarted(Aggregate.Created):
        program_id: str
        mentor_id: str
        mentee_id: str
        goals: list[str]
        actor: str
        actor_role: str
        command_id: str | None

        def apply(self, aggregate: MentorshipRelationship) -> None:
            aggregate.program_id = self.program_id
            aggregate.mentor_id = self.mentor_id
            aggregate.mentee_id = self.mentee_id
            aggregate.goals = list(self.goals)
            aggregate.status = ACTIVE
            aggregate.feedback = {}
            aggregate.actions = {}

    class FeedbackGiven(Event):
        feedback_id: UUID
        giver_id: str
        giver_role: str
        recipient_id: str
        recipient_role: str
        content: str
        kind: str
        skills: list[str]
        action_items: list[dict[str, Any]]

        def apply(self, aggregate: MentorshipRelationship) -> None:
            key = str(self.feedback_id)
            aggregate.feedback[key] = {
                "feedback_id": key,
                "giver_id": self.giver_id,
                "giver_role": self.giver_role,
                "recipient_id": self.recipient_id,
                "recipient_role": self.recipient_role,
                "content": self.content,
                "kind": self.kind,
                "skills": list(self.skills),
                "action_ids": [str(item["action_id"]) for item in self.action_items],
                "given_at": self.timestamp,
                "received_at": None,
                "reflection": None,
                "usefulness": None,
            }
            for item in self.action_items:
                action_id = str(item["action_id"])
                aggregate.actions[action_id] = {
                    "action_id": action_id,
                    "feedback_id": key,
                    "description": item["description"],
                    "due_on": item["due_on"],
                    "owner_id": item["owner_id"],
                    "status": "open",
                    "completed_at": None,
                    "completed_by": None,
                    "outcome": None,
                }

    class FeedbackReceived(Event):
        feedback_id: UUID
        reflection: str | None
        usefulness: int | None

        def apply(self, aggregate: MentorshipRelationship) -> None:
            key = str(self.feedback_id)
            aggregate.feedback[key] = {
                **aggregate.feedback[key],
                "received_at": self.timestamp,
                "reflection": self.reflection,
                "usefulness": self.usefulness,
            }

    class ActionCompleted(Event):
        action_id: UUID
        outcome: str | None

        def apply(self, aggregate: MentorshipRelationship) -> None:
            key = str(self.action_id)
            aggregate.actions[key] = {
                **aggregate.actions[key],
                "status": "completed",
                "completed_at": self.timestamp,
                "completed_by": self.actor,
                "outcome": self.outcome,
            }

    class RelationshipPaused(Event):
        reason: str | None

        def apply(self, aggregate: MentorshipRelationship) -> None:
            aggregate.status = PAUSED

    class RelationshipResumed(Event):
        reason: str | None

        def apply(self, aggregate: MentorshipRelationship) -> None:
            aggregate.status = ACTIVE

    class RelationshipEnded(Event):
        reason: str | None

        def apply(self, aggregate: MentorshipRelationship) -> None:
            aggregate.status = ENDED

    # -- construction ---------------------------------------------------------

    @classmethod
    def start(
        cls,
        *,
        relationship_id: UUID,
        program_id: str,
        mentor_id: str,
        mentee_id: str,
        goals: list[str],
        actor: Actor,
        command_id: str | None,
        at: datetime,
    ) -> MentorshipRelationship:
        """Pair a mentor with a mentee in a program."""
        if actor.role != COORDINATOR:
            raise errors.NotPermittedError("Only a coordinator starts a relationship.")
        if mentor_id == mentee_id:
            raise errors.SameParticipantError(
                "A relationship needs two different people as mentor and mentee."
            )
        return cls._create(
            cls.RelationshipStarted,
            id=relationship_id,
            timestamp=at,
            program_id=program_id,
            mentor_id=mentor_id,
            mentee_id=mentee_id,
            goals=list(goals),
            actor=actor.id,
            actor_role=actor.role,
            command_id=command_id,
        )

    def __deepcopy__(self, memo: dict[int, Any]) -> MentorshipRelationship:
        """A copy whose changes cannot reach the original, made without walking every entry.

        The repository copies a cached relationship for every command; a
        generic deep copy of thousands of feedback entries costs more than the
        command. Entries are replaced, never changed (see the events' ``apply``),
        so new containers holding the same entries are enough.
        """
        copy = object.__new__(type(self))
        copy.__dict__.update(self.__dict__)
        copy._pending_events = list(self._pending_events)
        copy.goals = list(self.goals)
        copy.feedback = dict(self.feedback)
        copy.actions = dict(self.actions)
        memo[id(self)] = copy
        return copy

    # -- questions ------------------------------------------------------------

    def role_of(self, participant_id: str) -> str | None:
        """'mentor' or 'mentee' for the two participants, else None."""
        if participant_id == self.mentor_id:
            return MENTOR
        if participant_id == self.mentee_id:
            return MENTEE
        return None

    def other_than(self, participant_id: str) -> str:
        return self.mentee_id if participant_id == self.mentor_id else self.mentor_id

    @property
    def started_at(self) -> datetime:
        return self.created_on

    # -- commands -------------------------------------------------------------

    def give_feedback(
        self,
        *,
        feedback_id: UUID,
        content: str,
        kind: str,
        skills: list[str],
        action_items: list[dict[str, Any]],
        actor: Actor,
        command_id: str | None,
        at: datetime,
    ) -> None:
        """The mentor or the mentee gives feedback to the other; the other owns its actions.

        ``action_items`` carry ``action_id``, ``description`` and ``due_on``
        (an ISO date string or None).
        """
        if actor.role not in (MENTOR, MENTEE):
            raise errors.NotPermittedError(
                "Only the mentor and the mentee of a relationship give feedback."
            )
        self._require_not_ended()
        if self.status == PAUSED:
            raise errors.RelationshipPausedError(
                "The relationship is paused: no new feedback until it resumes."
            )
        if kind not in FEEDBACK_KINDS:
            raise errors.InvalidCommandError(f"Unknown kind of feedback: {kind!r}.")
        recipient_id = self.other_than(actor.id)
        items = [
            {
                "action_id": item["action_id"],
                "description": item["description"],
                "due_on": item.get("due_on"),
                "owner_id": recipient_id,
            }
            for item in action_items
        ]
        self.trigger_event(
            self.FeedbackGiven,
            timestamp=at,
            feedback_id=feedback_id,
            giver_id=actor.id,
            giver_role=actor.role,
            recipient_id=recipient_id,
            recipient_role=self.role_of(recipient_id),
            content=content,
            kind=kind,
            skills=list(skills),
            action_items=items,
            actor=actor.id,
            actor_role=actor.role,
            command_id=command_id,
        )

    def receive_feedback(
        self,
        *,
        feedback_id: UUID,
        reflection: str | None,
        usefulness: int | None,
        actor: Actor,
        command_id: str | None,
        at: datetime,
    ) -> None:
        """The recipient acknowledges feedback, once, with an optional reflection."""
        feedback = self.require_recipient(feedback_id, actor)
        self._require_not_ended()
        if feedback["received_at"] is not None:
            raise errors.FeedbackAlreadyReceivedError(
                "This feedback has already been acknowledged."
            )
        if usefulness is not None and not 1 <= usefulness <= 5:
            raise errors.InvalidCommandError("Usefulness is rated from 1 to 5.")
        self.trigger_event(
            self.FeedbackReceived,
            timestamp=at,
            feedback_id=feedback_id,
            reflection=reflection,
            usefulness=usefulness,
            actor=actor.id,
            actor_role=actor.role,
            command_id=command_id,
        )

    def complete_action(
        self,
        *,
        action_id: UUID,
        outcome: str | None,
        actor: Actor,
        command_id: str | None,
        at: datetime,
    ) -> None:
        """The owner of an action item (or a coordinator) completes it, once."""
        action = self.require_owner(action_id, actor)
        self._require_not_ended()
        if action["status"] == "completed":
            raise errors.ActionAlreadyCompletedError(
                "This action item has already been completed."
            )
        self.trigger_event(
            self.ActionCompleted,
            timestamp=at,
            action_id=action_id,
            outcome=outcome,
            actor=actor.id,
            actor_role=actor.role,
            command_id=command_id,
        )

    def pause(self, *, reason: str | None, actor: Actor, command_id: str | None, at: datetime) -> None:
        """A coordinator pauses an active relationship."""
        self._require_coordinator(actor, "pauses")
        self._require_not_ended()
        if self.status == PAUSED:
            raise errors.RelationshipAlreadyPausedError("The relationship is already paused.")
        self._trigger_lifecycle(self.RelationshipPaused, reason, actor, command_id, at)

    def resume(self, *, reason: str | None, actor: Actor, command_id: str | None, at: datetime) -> None:
        """A coordinator resumes a paused relationship."""
        self._require_coordinator(actor, "resumes")
        self._require_not_ended()
        if self.status != PAUSED:
            raise errors.RelationshipNotPausedError("Only a paused relationship can resume.")
        self._trigger_lifecycle(self.RelationshipResumed, reason, actor, command_id, at)

    def end(self, *, reason: str | None, actor: Actor, command_id: str | None, at: datetime) -> None:
        """A coordinator or either participant ends the relationship, for good."""
        self._require_not_ended()
        self._trigger_lifecycle(self.RelationshipEnded, reason, actor, command_id, at)

    def require_recipient(self, feedback_id: UUID, actor: Actor) -> dict[str, Any]:
        """The feedback, if it exists and ``actor`` received it; only they acknowledge it."""
        feedback = self._feedback(feedback_id)
        if actor.id != feedback["recipient_id"] or actor.role == COORDINATOR:
            raise errors.NotPermittedError("Only the recipient acknowledges feedback.")
        return feedback

    def require_owner(self, action_id: UUID, actor: Actor) -> dict[str, Any]:
        """The action item, if it exists and ``actor`` owns it (or coordinates)."""
        action = self._action(action_id)
        if actor.role != COORDINATOR and actor.id != action["owner_id"]:
            raise errors.NotPermittedError(
                "Only the owner of an action item, or a coordinator, completes it."
            )
        return action

    # -- helpers --------------------------------------------------------------

    def _trigger_lifecycle(
        self, event_class: type, reason: str | None, actor: Actor, command_id: str | None, at: datetime
    ) -> None:
        self.trigger_event(
            event_class,
            timestamp=at,
            reason=reason,
            actor=actor.id,
            actor_role=actor.role,
            command_id=command_id,
        )

    @staticmethod
    def _require_coordinator(actor: Actor, verb: str) -> None:
        if actor.role != COORDINATOR:
            raise errors.NotPermittedError(f"Only a coordinator {verb} a relationship.")

    def _require_not_ended(self) -> None:
        if self.status == ENDED:
            raise errors.RelationshipEndedError("The relationship has ended.")

    def _feedback(self, feedback_id: UUID) -> dict[str, Any]:
        try:
            return self.feedback[str(feedback_id)]
        except KeyError:
            raise errors.FeedbackNotFoundError("No such feedback in this relationship.") from None

    def _action(self, action_id: UUID) -> dict[str, Any]:
        try:
            return self.actions[str(action_id)]
        except KeyError:
            raise errors.ActionNotFoundError("No such action item in this relationship.") from None
