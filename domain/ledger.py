"""The mentorship ledger: the application service that runs commands and replays history.

It is an eventsourcing ``Application``: its repository loads relationships
from their events, ``save`` records new events atomically, and its recorder
gives every event a position in the store's total order.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable
from copy import deepcopy
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application, Repository
from eventsourcing.persistence import RecordConflictError

from domain import errors
from domain.cache import RecentRelationships
from domain.idempotency import AcceptedCommand, accepted_command_id
from domain.principal import COORDINATOR, MENTEE, MENTOR, Actor, CommandContext, Principal
from domain.relationship import MentorshipRelationship
from domain.representation import (
    describe,
    describe_completion,
    describe_event,
    describe_feedback_given,
    describe_receipt,
)

Clock = Callable[[], datetime]
NO_CONTEXT = CommandContext()  # no Idempotency-Key, no If-Match
Decision = Callable[[MentorshipRelationship, Actor, datetime], UUID | None]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def project(aggregate: Any, events: Iterable[Any]) -> Any:
    """Apply events to an aggregate (or create it from its first event).

    The library's default projector checks each event against a runtime
    Protocol, which costs more than applying it; every event here is known.
    """
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


@dataclass(frozen=True)
class CommandResult:
    """What a command answers: the body, the relationship's new version, its store position."""

    body: dict[str, Any]
    relationship_id: UUID
    version: int
    position: int | None
    replayed: bool = False


ANSWERS: dict[str, Callable[[MentorshipRelationship, UUID | None], dict[str, Any]]] = {
    "start": lambda rel, _: describe(rel),
    "give_feedback": describe_feedback_given,
    "receive_feedback": describe_receipt,
    "complete_action": describe_completion,
    "pause": lambda rel, _: describe(rel),
    "resume": lambda rel, _: describe(rel),
    "end": lambda rel, _: describe(rel),
}

# Which roles, inside a relationship, may attempt each command. Finer rules
# (only the recipient receives, only the owner completes) live in the aggregate.
ACTING_ROLES = {
    "give_feedback": {MENTOR, MENTEE},
    "receive_feedback": {MENTOR, MENTEE},
    "complete_action": {MENTOR, MENTEE, COORDINATOR},
    "pause": {COORDINATOR},
    "resume": {COORDINATOR},
    "end": {MENTOR, MENTEE, COORDINATOR},
}


class MentorshipLedger(Application[UUID]):
    """Runs the commands of mentoring programs and answers questions about their history."""

    name = "MentorshipLedger"
    snapshotting_intervals = {MentorshipRelationship: 100}
    max_attempts = 20

    def __init__(self, env: dict[str, str] | None = None, clock: Clock = utc_now) -> None:
        self.clock = clock
        super().__init__(env)
        # Relationships stay in memory between commands (see _current); "" or 0 keeps none.
        self._recent = RecentRelationships(int(self.env.get("AGGREGATE_CACHE_MAXSIZE", "1000") or 0))
        self._checked = threading.local()
        interval = int(self.env.get("SNAPSHOT_INTERVAL") or 100)
        self.snapshotting_intervals = {MentorshipRelationship: interval} if interval > 0 else {}

    def construct_repository(self) -> Repository[UUID]:
        """The library's repository, without its cache: the ledger keeps its own (``_current``)."""
        return Repository(event_store=self.events, snapshot_store=self.snapshots)

    # -- commands -------------------------------------------------------------

    def start_relationship(
        self,
        principal: Principal,
        *,
        program_id: str,
        mentor_id: str,
        mentee_id: str,
        goals: list[str],
        context: CommandContext = NO_CONTEXT,
    ) -> CommandResult:
        """A coordinator pairs a mentor and a mentee in a program."""
        if not principal.is_coordinator:
            raise errors.NotPermittedError("Only a coordinator starts a relationship.")
        replay = self._replay_if_repeated(principal, context, "start")
        if replay is not None:
            return replay
        relationship = MentorshipRelationship.start(
            relationship_id=uuid4(),
            program_id=program_id,
            mentor_id=mentor_id,
            mentee_id=mentee_id,
            goals=goals,
            actor=Actor(principal.id, COORDINATOR),
            command_id=context.key,
            at=self.clock(),
        )
        try:
            position = self._save_command(principal, context, "start", relationship, None)
        except RecordConflictError:
            replay = self._replay_if_repeated(principal, context, "start")
            if replay is None:
                raise
            return replay
        self._recent.keep(relationship)
        return CommandResult(describe(relationship), relationship.id, relationship.version, position)

    def give_feedback(
        self,
        principal: Principal,
        relationship_id: UUID,
        *,
        content: str,
        kind: str,
        skills: list[str],
        action_items: list[dict[str, Any]],
        context: CommandContext = NO_CONTEXT,
    ) -> CommandResult:
        """The mentor or the mentee gives feedback to the other, with action items they will own."""

        def decide(rel: MentorshipRelationship, actor: Actor, at: datetime) -> UUID:
            feedback_id = uuid4()
            items = [{**item, "action_id": uuid4()} for item in action_items]
            rel.give_feedback(
                feedback_id=feedback_id, content=content, kind=kind, skills=skills,
                action_items=items, actor=actor, command_id=context.key, at=at,
            )
            return feedback_id

        return self._run(principal, relationship_id, context, "give_feedback", decide)

    def receive_feedback(
        self,
        principal: Principal,
        relationship_id: UUID,
        feedback_id: UUID,
        *,
        reflection: str | None = None,
        usefulness: int | None = None,
        context: CommandContext = NO_CONTEXT,
    ) -> CommandResult:
        """The recipient acknowledges feedback, reflecting on it and rating its usefulness."""

        def decide(rel: MentorshipRelationship, actor: Actor, at: datetime) -> UUID:
            rel.receive_feedback(
                feedback_id=feedback_id, reflection=reflection, usefulness=usefulness,
                actor=actor, command_id=context.key, at=at,
            )
            return feedback_id

        return self._run(principal, relationship_id, context, "receive_feedback", decide)

    def complete_action(
        self,
        principal: Principal,
        relationship_id: UUID,
        action_id: UUID,
        *,
        outcome: str | None = None,
        context: CommandContext = NO_CONTEXT,
    ) -> CommandResult:
        """The owner of an action item (or a coordinator) records it as done."""

        def decide(rel: MentorshipRelationship, actor: Actor, at: datetime) -> UUID:
            rel.complete_action(
                action_id=action_id, outcome=outcome, actor=actor, command_id=context.key, at=at
            )
            return action_id

        return self._run(principal, relationship_id, context, "complete_action", decide)

    def pause_relationship(self, principal: Principal, relationship_id: UUID, *, reason: str | None = None,
                           context: CommandContext = NO_CONTEXT) -> CommandResult:
        """A coordinator pauses an active relationship."""
        return self._lifecycle(principal, relationship_id, "pause", reason, context)

    def resume_relationship(self, principal: Principal, relationship_id: UUID, *, reason: str | None = None,
                            context: CommandContext = NO_CONTEXT) -> CommandResult:
        """A coordinator resumes a paused relationship."""
        return self._lifecycle(principal, relationship_id, "resume", reason, context)

    def end_relationship(self, principal: Principal, relationship_id: UUID, *, reason: str | None = None,
                         context: CommandContext = NO_CONTEXT) -> CommandResult:
        """A coordinator or either participant ends a relationship for good."""
        return self._lifecycle(principal, relationship_id, "end", reason, context)

    # -- queries --------------------------------------------------------------

    def get_relationship(
        self,
        principal: Principal,
        relationship_id: UUID,
        *,
        version: int | None = None,
        as_of: datetime | None = None,
    ) -> dict[str, Any]:
        """The relationship now, right after event ``version``, or as it stood at ``as_of``."""
        current = self._load_visible(principal, relationship_id)
        if version is None and as_of is None:
            return describe(current)
        if as_of is not None:
            version = self._version_at(relationship_id, as_of)
        if version is None or version > current.version:
            raise errors.VersionNotFoundError("The relationship had no such version.")
        if version == current.version:
            return describe(current)
        return describe(self.repository.get(relationship_id, version=version, projector_func=project))

    def list_events(
        self, principal: Principal, relationship_id: UUID, *, after: int = 0, limit: int = 50
    ) -> tuple[list[dict[str, Any]], bool]:
        """A page of the relationship's history after a version, and whether more follows."""
        self._load_visible(principal, relationship_id)
        events = list(self.events.get(relationship_id, gt=after, limit=limit + 1))
        return [describe_event(e) for e in events[:limit]], len(events) > limit

    def check_visible(self, principal: Principal, relationship_id: UUID) -> None:
        """Raise RelationshipNotFoundError unless the caller may see this relationship."""
        self._load_visible(principal, relationship_id)

    def check_may(self, principal: Principal, relationship_id: UUID | None, command: str,
                  subject_id: UUID | None = None) -> None:
        """Raise NotFound/NotPermitted unless the caller may attempt ``command`` here.

        ``subject_id`` names the feedback to receive or the action to complete.
        Lets the edge answer 404 and 403 before it looks at the request body.
        """
        if command == "start":
            if not principal.is_coordinator:
                raise errors.NotPermittedError("Only a coordinator starts a relationship.")
            return
        if relationship_id is None:
            raise errors.RelationshipNotFoundError("No such relationship.")

        def check(relationship: MentorshipRelationship) -> None:
            self._require_visible(principal, relationship)
            actor = self._actor(principal, relationship, command)
            if command == "receive_feedback" and subject_id is not None:
                relationship.require_recipient(subject_id, actor)
            if command == "complete_action" and subject_id is not None:
                relationship.require_owner(subject_id, actor)

        relationship = self._current(relationship_id, fresh=False)
        try:
            check(relationship)
        except errors.LedgerError:
            # Refused on the state held in memory: only the stored state may refuse.
            latest = self._current(relationship_id, fresh=True)
            if latest is relationship:
                raise
            check(latest)
            relationship = latest
        self._checked.relationship = relationship

    def position(self) -> int:
        """The position of the newest event in the store (0 when empty)."""
        return self.recorder.max_notification_id() or 0

    # -- machinery ------------------------------------------------------------

    def _lifecycle(self, principal: Principal, relationship_id: UUID, command: str,
                   reason: str | None, context: CommandContext) -> CommandResult:
        def decide(rel: MentorshipRelationship, actor: Actor, at: datetime) -> None:
            getattr(rel, command)(reason=reason, actor=actor, command_id=context.key, at=at)

        return self._run(principal, relationship_id, context, command, decide)

    def _run(self, principal: Principal, relationship_id: UUID, context: CommandContext,
             command: str, decide: Decision) -> CommandResult:
        """Check access, then decide and save, retrying on the fresh state if another write won.

        The first attempt decides on the relationship held in memory, without
        reading the store: if another process wrote meanwhile, saving fails on
        the version and the next attempt reads what is new. A refusal on the
        held state is checked again on the stored state before it stands.
        """
        relationship = self._just_checked(relationship_id) or self._current(relationship_id, fresh=False)
        try:
            self._require_visible(principal, relationship)
            self._actor(principal, relationship, command)
        except errors.LedgerError:
            relationship = self._current(relationship_id, fresh=True)
            self._require_visible(principal, relationship)
            self._actor(principal, relationship, command)
        replay = self._replay_if_repeated(principal, context, command)
        if replay is not None:
            return replay
        for attempt in range(self.max_attempts):
            if attempt:
                relationship = self._current(relationship_id, fresh=True)
                # Jitter between retries; nothing here needs unpredictability.
                time.sleep(random.uniform(0, 0.002 * attempt))  # nosec B311
            try:
                result = self._attempt(principal, deepcopy(relationship), context, command, decide)
            except errors.LedgerError:
                latest = self._current(relationship_id, fresh=True)
                if latest is relationship:
                    raise
                relationship = latest
                result = self._attempt(principal, deepcopy(relationship), context, command, decide)
            if result is not None:
                return result
        raise errors.ConcurrentCommandsError("The relationship kept changing; try again.")

    def _attempt(self, principal: Principal, relationship: MentorshipRelationship,
                 context: CommandContext, command: str, decide: Decision) -> CommandResult | None:
        if context.expected_version is not None and context.expected_version != relationship.version:
            raise errors.VersionMismatchError(
                f"The relationship is at version {relationship.version}, "
                f"not {context.expected_version}."
            )
        actor = self._actor(principal, relationship, command)
        try:
            subject_id = decide(relationship, actor, self.clock())
        except errors.RuleBrokenError:
            # A concurrent copy of this very command may have just been accepted.
            replay = self._replay_if_repeated(principal, context, command)
            if replay is None:
                raise
            return replay
        try:
            position = self._save_command(principal, context, command, relationship, subject_id)
        except RecordConflictError:
            replay = self._replay_if_repeated(principal, context, command)
            if replay is not None:
                return replay
            if context.expected_version is not None:
                raise errors.VersionMismatchError("The relationship changed meanwhile.") from None
            return None
        body = ANSWERS[command](relationship, subject_id)
        self._recent.keep(relationship)
        return CommandResult(body, relationship.id, relationship.version, position)

    def _save_command(self, principal: Principal, context: CommandContext, command: str,
                      relationship: MentorshipRelationship, subject_id: UUID | None) -> int | None:
        accepted = None
        if context.key is not None:
            accepted = AcceptedCommand.accept(
                principal_id=principal.id, key=context.key, fingerprint=context.fingerprint,
                command=command, relationship_id=relationship.id,
                relationship_version=relationship.version,
                subject_id=subject_id, at=self.clock(),
            )
        recordings = self.save(relationship, accepted)
        return max((r.notification.id for r in recordings), default=None)

    def _replay_if_repeated(self, principal: Principal, context: CommandContext,
                            command: str) -> CommandResult | None:
        """The first answer to this caller's key, if it was used before; refuse another use."""
        if context.key is None:
            return None
        try:
            accepted = self.repository.get(accepted_command_id(principal.id, context.key), projector_func=project)
        except AggregateNotFoundError:
            return None
        if accepted.fingerprint != context.fingerprint or accepted.command != command:
            raise errors.IdempotencyKeyReusedError(
                "This Idempotency-Key was already used for a different request."
            )
        relationship = self.repository.get(accepted.relationship_id, version=accepted.relationship_version,
                                           projector_func=project)
        body = ANSWERS[command](relationship, accepted.subject_id)
        return CommandResult(body, relationship.id, relationship.version, self.position(), replayed=True)

    def _just_checked(self, relationship_id: UUID) -> MentorshipRelationship | None:
        """The relationship check_may loaded for this same command on this thread, if any.

        Saves loading it twice per request; should another write land in between,
        saving fails on the version and the command is retried on a fresh load.
        """
        relationship = getattr(self._checked, "relationship", None)
        self._checked.relationship = None
        return relationship if relationship is not None and relationship.id == relationship_id else None

    def _current(self, relationship_id: UUID, *, fresh: bool = True) -> MentorshipRelationship:
        """The relationship as held in memory, brought up to date from the store when ``fresh``.

        What this returns is shared and must not be changed: commands change a copy.
        """
        held = self._recent.get(relationship_id)
        if held is None:
            relationship = self._reconstruct(relationship_id)
        elif fresh:
            newer = list(self.events.get(relationship_id, gt=held.version))
            relationship = project(deepcopy(held), newer) if newer else held
        else:
            return held
        self._recent.keep(relationship)
        return relationship

    def _reconstruct(self, relationship_id: UUID) -> MentorshipRelationship:
        try:
            relationship = self.repository.get(relationship_id, projector_func=project)
        except AggregateNotFoundError:
            raise errors.RelationshipNotFoundError("No such relationship.") from None
        if not isinstance(relationship, MentorshipRelationship):
            raise errors.RelationshipNotFoundError("No such relationship.")
        return relationship

    def _load_visible(self, principal: Principal, relationship_id: UUID) -> MentorshipRelationship:
        relationship = self._current(relationship_id, fresh=True)
        self._require_visible(principal, relationship)
        return relationship

    @staticmethod
    def _require_visible(principal: Principal, relationship: MentorshipRelationship) -> None:
        if principal.is_participant and relationship.role_of(principal.id) is None:
            raise errors.RelationshipNotFoundError("No such relationship.")

    def forget_checked(self) -> None:
        """End of a request: drop what check_may kept for it."""
        self._checked.relationship = None

    @staticmethod
    def _actor(principal: Principal, relationship: MentorshipRelationship, command: str) -> Actor:
        """The role the principal acts in here; refuse roles the command does not admit."""
        role = relationship.role_of(principal.id) if principal.is_participant else principal.role
        if role not in ACTING_ROLES[command]:
            raise errors.NotPermittedError(f"A {principal.role} may not {command.replace('_', ' ')} here.")
        return Actor(principal.id, role)

    def _version_at(self, relationship_id: UUID, moment: datetime) -> int | None:
        version = None
        for event in self.events.get(relationship_id):
            if event.timestamp > moment:
                break
            version = event.originator_version
        return version

