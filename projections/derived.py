"""Derived state checked against the events it was derived from, for ``/v1/audit/verify``.

The audit chain proves the events and the trail. Three other kinds of stored state decide what is served or
who may see it, and each is checked here:

- **snapshots**: each must carry a valid signature (``persistence.signing``); an unsigned or altered one is
  never used, and is reported;
- **idempotency records** (``AcceptedCommand``): the event each points to must be the one its caller's
  command wrote (same Idempotency-Key, same actor); a replayed answer is checked the same way before it is
  served;
- **relationship index rows**: program, mentor and mentee must be those of the relationship's
  ``RelationshipStarted`` event; a participant's list is also confirmed against the relationship itself.

Each disagreement is one problem: what, which id and version, and why.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic

from domain.idempotency import NOWHERE, AcceptedCommand, disagreement
from domain.ledger import MentorshipLedger
from domain.relationship import MentorshipRelationship
from persistence.signing import UntrustedSnapshotError
from persistence.stores import stored_rows
from projections.base import Item

ACCEPTED_TOPIC = get_topic(AcceptedCommand.CommandAccepted)
LIMIT = 100  # problems listed at most (the count is exact)


class StartedEvents:
    """Wraps the verification's walk over the events, keeping each relationship's participants as it passes."""

    def __init__(self, items: Iterator[Item]) -> None:
        self.items = items
        self.started: dict[str, tuple[str, str, str]] = {}

    def __iter__(self) -> Iterator[Item]:
        for item in self.items:
            event = item.event
            if isinstance(event, MentorshipRelationship.RelationshipStarted):
                self.started[str(event.originator_id)] = (event.program_id, event.mentor_id, event.mentee_id)
            yield item


class RelationshipsStarted:
    """For the fast walk: decodes only the RelationshipStarted events it is shown, keeping their participants."""

    topic = get_topic(MentorshipRelationship.RelationshipStarted)

    def __init__(self, ledger: MentorshipLedger) -> None:
        self.ledger = ledger
        self.found: dict[str, tuple[str, str, str]] = {}

    def keep(self, record: tuple[int, str, bytes, Any]) -> None:
        """Participants of a RelationshipStarted event given as (position, topic, state, relationship id)."""
        _, _, state, originator_id = record
        try:
            data = self.ledger.mapper.transcoder.decode(state)
            self.found[str(UUID(str(originator_id)))] = (data["program_id"], data["mentor_id"], data["mentee_id"])
        except Exception:  # noqa: BLE001 - its seal verified, so this would be a bug; the index check reports it
            return


def check_snapshots(ledger: MentorshipLedger) -> tuple[int, list[dict[str, Any]]]:
    checked, problems = 0, []
    mapper = ledger.snapshots.mapper
    for stored in stored_rows(ledger.snapshots.recorder):
        checked += 1
        try:
            mapper.check(stored)
        except UntrustedSnapshotError as error:
            problems.append({"kind": "snapshot", "id": str(stored.originator_id),
                             "version": stored.originator_version, "problem": f"{error}; not used"})
    return checked, problems


def check_accepted_commands(ledger: MentorshipLedger, up_to: int, since: int = 0
                            ) -> tuple[int, list[dict[str, Any]]]:
    checked, problems, after = 0, [], since
    while True:
        batch = ledger.recorder.select_notifications(start=after, limit=1000, topics=[ACCEPTED_TOPIC],
                                                     inclusive_of_start=False, stop=up_to)
        for notification in batch:
            checked += 1
            problem = accepted_command_problem(ledger, notification)
            if problem is not None:
                problems.append({"kind": "idempotency record", "id": str(notification.originator_id),
                                 "version": notification.originator_version, "problem": problem})
        if len(batch) < 1000:
            return checked, problems
        after = batch[-1].id


def accepted_command_problem(ledger: MentorshipLedger, stored: Any) -> str | None:
    try:
        accepted = ledger.mapper.to_domain_event(stored)
    except Exception:  # noqa: BLE001 - bytes that no longer decode were altered
        return "does not decode"
    if accepted.relationship_id == NOWHERE:
        return None  # a key held for a request writing no event (an erasure): it answers nothing, only refuses
    return disagreement(ledger.events, accepted.relationship_id, accepted.relationship_version, accepted.key,
                        accepted.principal_id)


def check_index(ledger: MentorshipLedger, rows: Iterator[tuple[str, str, str, str]],
                started: dict[str, tuple[str, str, str]]) -> tuple[int, list[dict[str, Any]]]:
    checked, problems = 0, []
    for relationship_id, program_id, mentor_id, mentee_id in rows:
        checked += 1
        expected = started.get(str(relationship_id))
        if expected is None:
            problems.append({"kind": "relationship index row", "id": str(relationship_id), "version": None,
                             "problem": "no such relationship in the events"})
        elif expected != (program_id, mentor_id, mentee_id):
            problems.append({"kind": "relationship index row", "id": str(relationship_id), "version": None,
                             "problem": "program or participants differ from the events"})
    return checked, problems
