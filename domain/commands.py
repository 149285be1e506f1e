"""Commands: what each one is (a ``Command`` spec) and how every one is run (``CommandRunner``).

A spec holds a command's stable name (stored with an Idempotency-Key, so never
renamed), the roles that may attempt it, how it reaches the thing it acts on,
and how it answers. The runner applies the same machinery to every command:
visibility and role, idempotent replay, If-Match, deciding on the
relationship held in memory, saving with the accepted command, retrying on
the fresh state when another write won.
"""

from __future__ import annotations

import functools
import logging
import random
import threading
import time
import weakref
from collections.abc import Callable
from copy import deepcopy
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, RecordConflictError

from domain import errors
from domain.concern import Concern
from domain.events import Act
from domain.idempotency import NOWHERE, AcceptedCommand, accepted_command_id, disagreement
from domain.principal import CommandContext, Principal
from domain.relationship import MENTEE, MENTOR, MentorshipRelationship

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from domain.ledger import MentorshipLedger

NO_CONTEXT = CommandContext()  # no Idempotency-Key, no If-Match


@dataclass(frozen=True)
class Outcome:
    """What a command's answer is made of: the ledger, the aggregate before, the event recorded."""

    ledger: MentorshipLedger
    before: Aggregate | None
    event: Any


@dataclass(frozen=True)
class CommandResult:
    """What a command answers: the body, the aggregate's new version, its store position."""

    body: dict[str, Any]
    aggregate_id: UUID
    version: int
    position: int | None
    replayed: bool = False

    @property
    def relationship_id(self) -> UUID:
        return self.body.get("relationship_id", self.aggregate_id)


class Replayed(Exception):  # noqa: N818 - not an error: it carries the first answer to a repeated key
    """A copy of the command under way was accepted first: answer as it was answered."""

    def __init__(self, result: CommandResult) -> None:
        super().__init__("replayed")
        self.result = result


Subject = Callable[["MentorshipLedger", MentorshipRelationship, Act, UUID], "Aggregate | None"]


@dataclass(frozen=True)
class Command:
    """A command: its stable name, who may attempt it, what it acts on, how it answers.

    ``roles`` are roles *inside the relationship* (mentor, mentee) or the
    principal's own (coordinator). ``subject``, for commands on something
    inside a relationship (a feedback, an action, a concern), checks the
    caller may act on it and returns the aggregate to act on when it is not
    the relationship. ``creates``: the command makes a new aggregate.
    """

    name: str
    roles: frozenset[str]
    answer: Callable[[Outcome], dict[str, Any]]
    subject: Subject | None = None
    creates: bool = False

    def __call__(self, decide: Callable[..., Any]) -> Callable[..., CommandResult]:
        """Make ``decide(ledger, target, by, *subject_ids, **arguments)`` a use case of the ledger."""
        spec = self

        @functools.wraps(decide)
        def use_case(ledger: MentorshipLedger, principal: Principal, *ids: UUID,
                     context: CommandContext = NO_CONTEXT, **arguments: Any) -> CommandResult:
            return ledger.runner.run(spec, principal, ids, replace(context, asked=arguments),
                                     lambda target, by: decide(ledger, target, by, *ids[1:], **arguments))

        use_case.spec = spec  # type: ignore[attr-defined]
        return use_case


class CommandRunner:
    """Runs commands for a ledger; holds its relationships in memory between commands."""

    max_attempts = 20

    def __init__(self, ledger: MentorshipLedger, held: Any) -> None:
        self.ledger = ledger
        self.held = held
        self._checked = threading.local()
        # One command at a time per relationship in this process: writers racing on one relationship wait
        # their turn here instead of losing the race on the store and retrying (gevent's lock under gevent).
        self._turns: weakref.WeakValueDictionary[UUID, threading.Lock] = weakref.WeakValueDictionary()
        self._turns_lock = threading.Lock()
        # The store's position when each held relationship was last known to be up to date; a request that
        # read the store's position (with its token) and finds it no further needs not ask about it again.
        self._fresh_at: dict[UUID, int] = {}
        self._request = threading.local()

    def note_position(self, position: int | None, version: tuple[UUID, int | None] | None = None) -> None:
        """The store's position, read at the start of this request (None: unknown, ask the store), and
        ``version``: (relationship id, its newest version in the store) read then too, when the request is
        about one relationship (its held copy is then known to be current, or known to be behind)."""
        self._request.position = position
        self._request.version = version

    def noted_position(self) -> int | None:
        """The store's position read at the start of this request (None: not read, or distrusted since)."""
        return getattr(self._request, "position", None)

    def distrust_position(self) -> None:
        """Something was written since this request read the store's position (a lost race): ask the store."""
        self._request.position = None
        self._request.version = None

    def _noted_version(self, relationship_id: UUID) -> int | None:
        noted = getattr(self._request, "version", None)
        return noted[1] if noted is not None and noted[0] == relationship_id else None

    def _turn(self, relationship_id: UUID) -> threading.Lock:
        with self._turns_lock:
            lock = self._turns.get(relationship_id)
            if lock is None:
                lock = self._turns[relationship_id] = threading.Lock()
            return lock

    # -- access -------------------------------------------------------------------

    def check(self, spec: Command, principal: Principal, ids: tuple[UUID, ...]) -> None:
        """Raise NotFound/NotPermitted unless the caller may attempt this command here (before any body)."""
        self._checked.relationship = self._admitted(spec, principal, ids)

    def _admitted(self, spec: Command, principal: Principal, ids: tuple[UUID, ...]) -> MentorshipRelationship | None:
        """The relationship the command is about, once the caller is admitted; refusals confirmed on the store."""
        if not ids:
            self.actor(spec, principal, None)
            return None
        relationship = self._take_checked(ids[0]) or self.current(ids[0], fresh=False)
        try:
            self._admit(spec, principal, relationship, ids)
        except errors.LedgerError:
            self.distrust_position()  # a refusal stands only on the stored state
            latest = self.current(ids[0], fresh=True)
            if latest is relationship:
                raise
            self._admit(spec, principal, latest, ids)
            relationship = latest
        return relationship

    def _admit(self, spec: Command, principal: Principal, relationship: MentorshipRelationship,
               ids: tuple[UUID, ...]) -> None:
        require_visible(principal, relationship)
        try:
            by = self.actor(spec, principal, relationship)
        except errors.NotPermittedError:
            # What the command acts on, if the caller may not see it, is 404 before the role's 403 (a
            # participant resolving a concern the other raised, or one that does not exist).
            if spec.subject is not None and len(ids) > 1:
                spec.subject(self.ledger, relationship, self._act(principal, relationship), ids[1])
            raise
        if spec.subject is not None and len(ids) > 1:
            spec.subject(self.ledger, relationship, by, ids[1])

    def actor(self, spec: Command, principal: Principal, relationship: MentorshipRelationship | None,
              context: CommandContext = NO_CONTEXT) -> Act:
        """The principal acting in its role here; refuse roles the command does not admit."""
        by = self._act(principal, relationship, context)
        if by.role not in spec.roles:
            article = "An" if principal.role[:1] in "aeiou" else "A"
            raise errors.NotPermittedError(f"{article} {principal.role} may not {spec.name.replace('_', ' ')} here.")
        return by

    def _act(self, principal: Principal, relationship: MentorshipRelationship | None,
             context: CommandContext = NO_CONTEXT) -> Act:
        role = relationship.role_of(principal.id) if relationship and principal.is_participant else principal.role
        return Act(principal.id, role, self.ledger.clock(), context.key)

    # -- running ------------------------------------------------------------------

    def run(self, spec: Command, principal: Principal, ids: tuple[UUID, ...], context: CommandContext,
            decide: Callable[[Any, Act], Any]) -> CommandResult:
        """Decide and save, retrying on the fresh state if another write won; replay a repeated key.

        The first attempt decides on the relationship held in memory, without
        reading the store (unless the version read with the request's token shows
        it behind: then what is new is read first); if another process wrote
        meanwhile, saving fails on the version and the next attempt reads what is new. A refusal on the
        held state is confirmed on the stored state before it stands.
        """
        relationship = self._admitted(spec, principal, ids)
        replay = self.replay(spec, principal, context, ids)
        if replay is not None:
            return replay
        if not ids:
            return self._decide_and_save(spec, principal, ids, relationship, context, decide)
        with self._turn(ids[0]):
            if relationship is not None:  # another command here may have changed it while this one waited
                relationship = self.current(ids[0], fresh=False)
            return self._decide_and_save(spec, principal, ids, relationship, context, decide)

    def _decide_and_save(self, spec: Command, principal: Principal, ids: tuple[UUID, ...],
                         relationship: MentorshipRelationship | None, context: CommandContext,
                         decide: Callable[[Any, Act], Any]) -> CommandResult:
        for attempt in range(self.max_attempts):
            if attempt:
                self.distrust_position()  # another write won: ask the store
                relationship = self.current(ids[0], fresh=True) if ids else None
                time.sleep(random.uniform(0, 0.002 * attempt))  # nosec B311 - jitter, nothing secret
            try:
                result = self._attempt(spec, principal, ids, relationship, context, decide)
            except Replayed as replayed:
                return replayed.result
            if result is not None:
                return result
        raise errors.ConcurrentCommandsError("The relationship kept changing; try again.")

    def _attempt(self, spec: Command, principal: Principal, ids: tuple[UUID, ...],
                 relationship: MentorshipRelationship | None, context: CommandContext,
                 decide: Callable[[Any, Act], Any]) -> CommandResult | None:
        """One try: None when another write won the race (try again on the fresh state)."""
        by = self.actor(spec, principal, relationship, context)
        before = self._target(spec, relationship, by, ids)
        target = deepcopy(before)
        try:
            created = decide(target, by)
        except (errors.RuleBrokenError, errors.NotFoundError, errors.NotPermittedError) as refusal:
            if self._stale(spec, principal, ids, relationship, context):
                return None
            if isinstance(refusal, errors.RuleBrokenError):
                expect_version(context, before)
            raise
        expect_version(context, before)
        aggregate = created if spec.creates else target
        event = aggregate.pending_events[-1]
        try:
            position = self._save(principal, context, spec, aggregate)
        except RecordConflictError:
            if self._stale(spec, principal, ids, None, context):
                return None
            if context.expected_version is not None:
                raise errors.VersionMismatchError("The relationship changed meanwhile.") from None
            return None
        if isinstance(aggregate, MentorshipRelationship):
            self.saved(aggregate, position)
        body = spec.answer(Outcome(self.ledger, None if spec.creates else before, event))
        return CommandResult(body, aggregate.id, aggregate.version, position)

    def _stale(self, spec: Command, principal: Principal, ids: tuple[UUID, ...],
               relationship: MentorshipRelationship | None, context: CommandContext) -> bool:
        """Was a refusal (or a lost race) caused by a stale state? True: decide again on the fresh one.

        A copy of this very command, sent with the same key, may have been
        accepted meanwhile: then its answer is the answer (``Replayed``).
        """
        replay = self.replay(spec, principal, context, ids)
        if replay is not None:
            raise Replayed(replay)
        if not ids or relationship is None:
            return False
        self.distrust_position()
        return self.current(ids[0], fresh=True) is not relationship

    def _target(self, spec: Command, relationship: MentorshipRelationship | None, by: Act,
                ids: tuple[UUID, ...]) -> Aggregate | None:
        if relationship is None or spec.subject is None or len(ids) < 2:
            return relationship
        return spec.subject(self.ledger, relationship, by, ids[1]) or relationship

    def _save(self, principal: Principal, context: CommandContext, spec: Command, aggregate: Aggregate) -> int | None:
        accepted = None
        if context.key is not None:
            accepted = AcceptedCommand.accept(
                principal_id=principal.id, role=principal.role, key=context.key, fingerprint=context.fingerprint,
                command=spec.name,
                relationship_id=aggregate.id, relationship_version=aggregate.version, subject_id=None,
                at=self.ledger.clock())
        recordings = self.ledger.save(aggregate, accepted)
        return max((r.notification.id for r in recordings), default=None)

    # -- idempotent replay ------------------------------------------------------------

    def replay(self, spec: Command, principal: Principal, context: CommandContext,
               ids: tuple[UUID, ...] = ()) -> CommandResult | None:
        """The first answer to this caller's key, if it was used before; refuse another use of it (``ids``: what
        this request's path names, the relationship first)."""
        if context.key is None:
            return None
        accepted = self._accepted_under(principal, context.key, spec.name, context.fingerprint, ids, context.asked)
        if accepted is None:
            return None
        target_id, version = accepted.relationship_id, accepted.relationship_version
        stored_key = self.ledger.stored_key(context.key)
        if accepted.key != stored_key or accepted.principal_id != principal.id or disagreement(
                self.ledger.events, target_id, version, stored_key, principal.id) is not None:
            log.error("idempotency record %s disagrees with the events: not replayed", accepted.id)
            raise errors.RecordInconsistentError(
                "The stored record of this request disagrees with the events; it is not replayed. "
                "GET /v1/audit/verify names it.")
        event = next(iter(self.ledger.events.get(target_id, gt=version - 1, lte=version)))
        before = None if spec.creates else self.ledger.repository.get(target_id, version=version - 1,
                                                                       projector_func=project)
        body = spec.answer(Outcome(self.ledger, before, event))
        return CommandResult(body, target_id, version, self.ledger.position(), replayed=True)

    def hold_key(self, principal: Principal, key: str, fingerprint: str, command: str) -> bool:
        """Hold this caller's key for a request that writes no event of its own (an erasure), before it runs:
        True if it was held for this same request before, False if new; 422 when it was used for anything else.
        The record points nowhere (nothing to replay: such a request answers the same when asked again); its
        fingerprint is a keyed digest (an erasure's path names the person). Two requests with one key at once:
        the record's id is the key's, so one insert wins and the other is compared with it."""
        if self._accepted_under(principal, key, command, fingerprint) is not None:
            return True
        try:
            self.ledger.save(AcceptedCommand.accept(
                principal_id=principal.id, role=principal.role, key=key,
                fingerprint=self.ledger.stored_key(fingerprint), command=command, relationship_id=NOWHERE,
                relationship_version=0, subject_id=None, at=self.ledger.clock()))
        except IntegrityError:
            if self._accepted_under(principal, key, command, fingerprint) is not None:
                return True
            raise
        return False

    def _accepted_under(self, principal: Principal, key: str, command: str, fingerprint: str,
                        ids: tuple[UUID, ...] = (), asked: Any = None) -> AcceptedCommand | None:
        """The record of this caller's key, if it was used; 422 if for another request than (command, fingerprint)."""
        try:
            accepted = self.ledger.repository.get(accepted_command_id(principal.id, principal.role, key),
                                                  projector_func=project)
        except AggregateNotFoundError:
            return None
        same = accepted.fingerprint in (fingerprint, self.ledger.stored_key(fingerprint))  # plain before 0.3.13
        if accepted.command != command or not (same or self._erased_since(accepted, ids, asked or {})):
            raise errors.IdempotencyKeyReusedError("This Idempotency-Key was already used for a different request.")
        return accepted

    def _erased_since(self, accepted: AcceptedCommand, ids: tuple[UUID, ...], asked: dict[str, Any]) -> bool:
        """Whether this record's request went where this one goes (the relationship and the item ``ids`` name)
        and a participant of that relationship was erased since. Its body is then no longer compared with this
        one's (refusing all but the right one would confirm guesses of the erased id and texts): the first,
        redacted answer is the answer to either. A request elsewhere under the key is refused as before; so is
        a start (its path names no relationship) asking for another program or another participant than one
        no erasure touched."""
        if accepted.relationship_id == NOWHERE:
            return False
        version = accepted.relationship_version
        event = next(iter(self.ledger.events.get(accepted.relationship_id, gt=version - 1, lte=version)), None)
        if event is None:
            return False
        relationship_id = event.relationship_id
        if ids and ids[0] != relationship_id:
            return False
        if len(ids) > 1 and ids[1] not in (getattr(event, "feedback_id", None), getattr(event, "action_id", None),
                                           event.originator_id):
            return False
        relationship = self.current(relationship_id, fresh=True)
        erased = relationship.erasures()
        if not erased:
            return False
        if not ids:
            if asked.get("program_id") != relationship.program_id:
                return False
            return all(asked.get(f"{role}_id") == getattr(relationship, f"{role}_id")  # ids are exact (NFC)
                       for role in (MENTOR, MENTEE) if role not in erased)
        return True

    # -- relationships held in memory ------------------------------------------------------

    def current(self, relationship_id: UUID, *, fresh: bool = True) -> MentorshipRelationship:
        """The relationship as held in memory, brought up to date from the store when ``fresh``.

        What this returns is shared and must not be changed: commands change a copy.
        """
        held = self.held.get(relationship_id)
        known = getattr(self._request, "position", None)
        stored = self._noted_version(relationship_id)  # its newest version when this request began, if read
        if held is None:
            relationship = self._reconstruct(relationship_id)
        elif stored is not None and held.version >= stored:
            return held  # nothing was written to it between the last event held and the start of this request
        elif fresh or stored is not None:  # asked to be current, or known to be behind (do not decide on it)
            if known is not None and self._fresh_at.get(relationship_id, -1) >= known:
                return held  # nothing was written anywhere since it was last brought up to date
            newer = list(self.ledger.events.get(relationship_id, gt=held.version))
            relationship = project(deepcopy(held), newer) if newer else held
        else:
            return held
        self.held.keep(relationship)
        if known is not None and self.held.get(relationship_id) is relationship:
            self._fresh_at[relationship_id] = known
        return relationship

    def saved(self, relationship: MentorshipRelationship, position: int | None) -> None:
        """A relationship this process saved, up to date as of the store position of its new events."""
        self.held.keep(relationship)
        if position is not None and self.held.get(relationship.id) is relationship:
            if len(self._fresh_at) > 100_000:
                self._fresh_at.clear()
            self._fresh_at[relationship.id] = position

    def _reconstruct(self, relationship_id: UUID) -> MentorshipRelationship:
        try:
            relationship = self.ledger.repository.get(relationship_id, projector_func=project)
        except AggregateNotFoundError:
            raise errors.RelationshipNotFoundError("No such relationship.") from None
        if not isinstance(relationship, MentorshipRelationship):
            raise errors.RelationshipNotFoundError("No such relationship.")
        return relationship

    def _take_checked(self, relationship_id: UUID) -> MentorshipRelationship | None:
        """The relationship ``check`` admitted for this same request on this thread, if any.

        Saves loading it twice per request; should another write land in between,
        saving fails on the version and the command is retried on a fresh load.
        """
        relationship = getattr(self._checked, "relationship", None)
        self._checked.relationship = None
        return relationship if relationship is not None and relationship.id == relationship_id else None

    def keep_checked(self, relationship: MentorshipRelationship) -> None:
        """Keep a relationship this request has just admitted the caller to (see ``_take_checked``)."""
        self._checked.relationship = relationship

    def take_checked(self, relationship_id: UUID) -> MentorshipRelationship | None:
        return self._take_checked(relationship_id)

    def peek_checked(self, relationship_id: UUID) -> MentorshipRelationship | None:
        """What ``take_checked`` would give, left kept."""
        relationship = getattr(self._checked, "relationship", None)
        return relationship if relationship is not None and relationship.id == relationship_id else None

    def forget_checked(self) -> None:
        """End of a request: drop what ``check`` kept for it, and the position it read."""
        self._checked.relationship = None
        self._request.position = None
        self._request.version = None


def expect_version(context: CommandContext, aggregate: Aggregate | None) -> None:
    """412 unless the caller's If-Match names the version the command was decided on (a relationship being
    started has none: no tag matches it, RFC 9110)."""
    if context.expected_version is None or (aggregate is not None and context.expected_version == aggregate.version):
        return
    if aggregate is None:
        raise errors.VersionMismatchError("A new relationship has no version to match: send no If-Match (or *) "
                                          "to start one.")
    what = "concern" if isinstance(aggregate, Concern) else "relationship"
    raise errors.VersionMismatchError(f"The {what} is at version {aggregate.version}, "
                                      f"not {context.expected_version}.")


def require_visible(principal: Principal, relationship: MentorshipRelationship) -> None:
    """A participant sees only the relationships they are in; to anyone else they do not exist."""
    if principal.is_participant and relationship.role_of(principal.id) is None:
        raise errors.RelationshipNotFoundError("No such relationship.")


def project(aggregate: Any, events: Any) -> Any:
    """Apply events to an aggregate (or create it from its first event).

    The library's default projector checks each event against a runtime
    Protocol, which costs more than applying it; every event here is known.
    """
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate
