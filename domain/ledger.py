"""The mentorship ledger: the application service of mentoring programs.

It is an eventsourcing ``Application``: its repository loads aggregates from
their events, ``save`` records new events atomically, and its recorder gives
every event a position in the store's total order. Each use case below is a
decision on an aggregate; its ``Command`` spec says who may attempt it and how
it answers, and ``domain.commands`` runs every one the same way (get, decide,
save, answer, with idempotency and retries). Questions about the past are in
``domain.history``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date, datetime, timezone
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application, Repository
from eventsourcing.utils import resolve_topic

from domain import errors
from domain.cache import RecentRelationships
from domain.commands import Command, CommandResult, CommandRunner, Outcome, project
from domain.concern import Concern
from domain.events import Act
from domain.history import History
from domain.principal import AUDITOR, COORDINATOR, Principal
from domain.relationship import MENTEE, MENTOR, MentorshipRelationship
from domain.representation import action_item, check_in_item, feedback_item

Clock = Callable[[], datetime]
PARTICIPANTS = frozenset({MENTOR, MENTEE})
COORDINATORS = frozenset({COORDINATOR})
OVERSEERS = frozenset({COORDINATOR, AUDITOR})  # who sees every concern (docs/api.md, "Concerns")
EVERYONE_INSIDE = frozenset({MENTOR, MENTEE, COORDINATOR})


# Where snapshots are kept: a topic, like the library's persistence module, so that the domain names its
# snapshot store without importing storage code (SNAPSHOT_STORE_TOPIC overrides it).
SNAPSHOT_STORE = "persistence.signing:signed_snapshots"
# How events are stored: people as pseudonymous subjects, texts encrypted per relationship (MAPPER_TOPIC overrides).
MAPPER = "persistence.privacy:private_mapper"


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


# -- how commands answer ----------------------------------------------------------------


def _the_relationship(o: Outcome) -> dict[str, Any]:
    return o.ledger.representation(o.event.originator_id, o.event.originator_version)


def _recorded(o: Outcome, **body: Any) -> dict[str, Any]:
    """An answer about the event recorded (``redacted: true`` when a replayed answer's text was erased)."""
    answer = {**body, "relationship_id": o.event.relationship_id, "version": o.event.originator_version}
    if getattr(o.event, "redacted", ()):
        answer["redacted"] = True
    return answer


def _feedback_given(o: Outcome) -> dict[str, Any]:
    item = feedback_item(o.event)
    actions = [{k: v for k, v in action_item(i, "").items() if k in ("action_id", "description", "due_on", "owner_id", "redacted")}
               for i in o.event.action_items]
    return _recorded(o, feedback_id=item["feedback_id"], giver_role=item["giver_role"],
                     recipient_role=item["recipient_role"], given_at=item["given_at"], action_items=actions)


def _receipt(o: Outcome) -> dict[str, Any]:
    e = o.event
    return _recorded(o, feedback_id=str(e.feedback_id), received_at=e.timestamp, reflection=e.reflection,
                     usefulness=e.usefulness)


def _completion(o: Outcome) -> dict[str, Any]:
    e = o.event
    return _recorded(o, action_id=str(e.action_id), feedback_id=o.before.open_actions[str(e.action_id)][1],
                     completed_at=e.timestamp, completed_by=e.actor, outcome=e.outcome)


def _check_in(o: Outcome) -> dict[str, Any]:
    return _recorded(o, **check_in_item(o.event))


def _concern(o: Outcome) -> dict[str, Any]:
    return o.ledger.concern_answer(o.event.originator_id, o.event.originator_version)


def _concern_to_resolve(ledger: MentorshipLedger, rel: MentorshipRelationship, by: Act, concern_id: UUID) -> Concern:
    return ledger.concern_of(rel, by.actor, by.role in OVERSEERS, concern_id)


START = Command("start", COORDINATORS, _the_relationship, creates=True)
GIVE_FEEDBACK = Command("give_feedback", PARTICIPANTS, _feedback_given)
RECEIVE_FEEDBACK = Command("receive_feedback", PARTICIPANTS, _receipt,
                           subject=lambda _, rel, by, feedback_id: rel.require_recipient(feedback_id, by))
COMPLETE_ACTION = Command("complete_action", EVERYONE_INSIDE, _completion,
                          subject=lambda _, rel, by, action_id: rel.require_owner(action_id, by))
PAUSE = Command("pause", COORDINATORS, _the_relationship)
RESUME = Command("resume", COORDINATORS, _the_relationship)
END = Command("end", EVERYONE_INSIDE, _the_relationship)
HOLD_CHECK_IN = Command("hold_check_in", PARTICIPANTS, _check_in)
RAISE_CONCERN = Command("raise_concern", PARTICIPANTS, _concern, creates=True)
RESOLVE_CONCERN = Command("resolve_concern", COORDINATORS, _concern, subject=_concern_to_resolve)


class MentorshipLedger(History, Application[UUID]):
    """Runs the commands of mentoring programs and answers questions about their history."""

    name = "MentorshipLedger"
    snapshotting_intervals = {MentorshipRelationship: 100}

    def __init__(self, env: dict[str, str] | None = None, clock: Clock = utc_now) -> None:
        self.clock = clock
        super().__init__(env)
        # Relationships stay in memory between commands (see CommandRunner); "" or 0 keeps none.
        held = RecentRelationships(int(self.env.get("AGGREGATE_CACHE_MAXSIZE", "1000") or 0))
        self.runner = CommandRunner(self, held)
        # Representations at a version never change (until an erasure): the recent ones are kept.
        self.representations: dict[tuple[UUID, int | None], tuple[int, dict[str, Any]]] = {}
        self._saving = threading.local()  # the aggregates this thread (greenlet) is saving: see take_snapshot
        interval = int(self.env.get("SNAPSHOT_INTERVAL") or 100)
        self.snapshotting_intervals = {MentorshipRelationship: interval} if interval > 0 else {}
        self.mapper.vault.settle(has_events=bool(self.recorder.max_notification_id()))

    def construct_mapper(self) -> Any:
        """People stored as subjects and texts encrypted, so that a participant can be erased (ADR 009)."""
        return resolve_topic(self.env.get("MAPPER_TOPIC") or MAPPER)(self)

    @property
    def vault(self) -> Any:
        """Subjects, keys and erasures (``persistence.privacy.Vault``)."""
        return self.mapper.vault

    def hold_key(self, principal: Principal, key: str, fingerprint: str, command: str) -> bool:
        """``CommandRunner.hold_key``: an Idempotency-Key held for a request that writes no event of its own."""
        return self.runner.hold_key(principal, key, fingerprint, command)

    def stored_key(self, key: str) -> str:
        """An Idempotency-Key as events and idempotency records keep it (a keyed digest under the scheme)."""
        return self.vault.stored_key(key)

    def refresh(self, generation: int | None = None, position: int | None = None,
                version: tuple[UUID, int | None] | None = None) -> None:
        """Start of a request: if a participant was erased since (by any process), forget what was read.
        ``generation``: the vault's erasure generation, if the request read it already (with its token);
        ``position``: the store's position read then too; ``version``: (relationship id, its newest
        version), for a request about one relationship (see ``CommandRunner.current``)."""
        if self.vault.refresh(generation):
            self.runner.held.clear()
            self.representations.clear()
        self.runner.note_position(position, version)

    def noted_position(self) -> int | None:
        """The store's position as this request read it with its token (None when it did not)."""
        return self.runner.noted_position()

    def construct_snapshot_store(self) -> Any:
        """Snapshots signed with a key the database does not hold; unsigned or altered ones are never used."""
        return resolve_topic(self.env.get("SNAPSHOT_STORE_TOPIC") or SNAPSHOT_STORE)(self)

    @property
    def signing_key(self) -> bytes:
        """The key snapshots are signed with; the audit trail's entries are sealed with it too."""
        return self.snapshots.signing_key

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        """The library's save, with the aggregates being saved at hand for the snapshot it may take."""
        self._saving.objs = objs
        try:
            return super().save(*objs, **kwargs)
        finally:
            self._saving.objs = ()

    def take_snapshot(self, aggregate_id: UUID, version: int | None = None, **kwargs: Any) -> None:
        """Take a snapshot, then forget the older ones of the aggregate: storage grows with events only.

        On a save that reaches the interval the snapshot is of the aggregate just saved, not read back from
        the store (up to 100 events: 10-15 ms, where the command took 1.8). An erasure records its event in
        each relationship, then deletes their snapshots: one written after that delete would name the erased
        person, so a snapshot is deleted again when an erasure has landed after the version it holds."""
        saved = next((obj for obj in getattr(self._saving, "objs", ())
                      if isinstance(obj, MentorshipRelationship) and obj.id == aggregate_id), None)
        if saved is not None and saved.version == version:
            self.snapshots.put([type(saved).Snapshot.take(saved)])
        else:
            super().take_snapshot(aggregate_id, version, **kwargs)
        self.snapshots.keep_only_newest(aggregate_id)
        if version is not None and any(isinstance(event, MentorshipRelationship.ParticipantErased)
                                       for event in self.events.get(aggregate_id, gt=version)):
            self.snapshots.forget(aggregate_id)

    def construct_repository(self) -> Repository[UUID]:
        """The library's repository, without its cache: the runner holds relationships itself."""
        return Repository(event_store=self.events, snapshot_store=self.snapshots)

    # -- relationships -------------------------------------------------------------------

    @START
    def start_relationship(self, _: None, by: Act, *, program_id: str, mentor_id: str, mentee_id: str,
                           goals: list[str]) -> MentorshipRelationship:
        """A coordinator pairs a mentor and a mentee in a program."""
        for field, participant in (("mentor_id", mentor_id), ("mentee_id", mentee_id)):
            refusal = self.vault.erasure_refusal(participant)
            if refusal is not None:
                raise errors.ErasedParticipantError(refusal, field=field)
        return MentorshipRelationship.start(relationship_id=uuid4(), program_id=program_id, mentor_id=mentor_id,
                                            mentee_id=mentee_id, goals=goals, by=by)

    @GIVE_FEEDBACK
    def give_feedback(self, rel: MentorshipRelationship, by: Act, *, content: str, kind: str, skills: list[str],
                      action_items: list[dict[str, Any]]) -> None:
        """The mentor or the mentee gives feedback to the other, with action items they will own."""
        rel.give_feedback(feedback_id=uuid4(), content=content, kind=kind, skills=skills,
                          action_items=[{**item, "action_id": uuid4()} for item in action_items], by=by)

    @RECEIVE_FEEDBACK
    def receive_feedback(self, rel: MentorshipRelationship, by: Act, feedback_id: UUID, *,
                         reflection: str | None = None, usefulness: int | None = None) -> None:
        """The recipient acknowledges feedback, reflecting on it and rating its usefulness."""
        rel.receive_feedback(feedback_id=feedback_id, reflection=reflection, usefulness=usefulness, by=by)

    @COMPLETE_ACTION
    def complete_action(self, rel: MentorshipRelationship, by: Act, action_id: UUID, *,
                        outcome: str | None = None) -> None:
        """The owner of an action item (or a coordinator) records it as done."""
        rel.complete_action(action_id=action_id, outcome=outcome, by=by)

    @PAUSE
    def pause_relationship(self, rel: MentorshipRelationship, by: Act, *, reason: str | None = None) -> None:
        """A coordinator puts an active relationship on hold."""
        rel.pause(reason=reason, by=by)

    @RESUME
    def resume_relationship(self, rel: MentorshipRelationship, by: Act, *, reason: str | None = None) -> None:
        """A coordinator takes a paused relationship up again."""
        rel.resume(reason=reason, by=by)

    @END
    def end_relationship(self, rel: MentorshipRelationship, by: Act, *, reason: str | None = None) -> None:
        """A coordinator or either participant ends a relationship for good."""
        rel.end(reason=reason, by=by)

    @HOLD_CHECK_IN
    def hold_check_in(self, rel: MentorshipRelationship, by: Act, *, held_on: date, minutes: int,
                      note: str | None = None) -> None:
        """Either participant records that they met: the day, how long, an optional note."""
        rel.hold_check_in(check_in_id=uuid4(), held_on=held_on, minutes=minutes, note=note, by=by)

    # -- concerns --------------------------------------------------------------------------

    @RAISE_CONCERN
    def raise_concern(self, rel: MentorshipRelationship, by: Act, *, content: str) -> Concern:
        """The mentor or the mentee tells the coordinators something the other must not see."""
        return Concern.raise_concern(concern_id=uuid4(), relationship_id=rel.id, content=content, by=by)

    @RESOLVE_CONCERN
    def resolve_concern(self, concern: Concern, by: Act, concern_id: UUID, *, note: str | None = None) -> None:
        """A coordinator resolves a concern, with an optional note."""
        concern.resolve(note=note, by=by)

    def concern_of(self, rel: MentorshipRelationship, principal_id: str, overseer: bool, concern_id: UUID) -> Concern:
        """A concern about this relationship that the caller may see; to anyone else it does not exist."""
        try:
            concern = self.repository.get(concern_id, projector_func=project)
        except AggregateNotFoundError:
            concern = None
        if (not isinstance(concern, Concern) or concern.relationship_id != rel.id
                or not concern.visible_to(principal_id, overseer)):
            raise errors.ConcernNotFoundError("No such concern in this relationship.")
        return concern

    # -- access ------------------------------------------------------------------------------

    def check_may(self, principal: Principal, command: Callable[..., CommandResult], *ids: UUID) -> None:
        """Raise NotFound/NotPermitted unless the caller may attempt ``command`` here, before any body is read."""
        self.runner.check(command.spec, principal, ids)  # type: ignore[attr-defined]

    def forget_checked(self) -> None:
        """End of a request: drop what ``check_may`` kept for it."""
        self.runner.forget_checked()

    def position(self) -> int:
        """The position of the newest event in the store (0 when empty)."""
        return self.recorder.max_notification_id() or 0

