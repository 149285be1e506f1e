"""Accepted commands, remembered by their caller's Idempotency-Key.

An ``AcceptedCommand`` is written in the same transaction as the events of the
command it stands for, under an id derived from (caller, role, key): one
principal id acting in two roles (a coordinator who is also a participant)
has two separate sets of keys. A second
command with the same key therefore either finds the first one (and answers
as it did) or collides with it in the store; nothing outside the event store
can disagree with what was written.
"""

from __future__ import annotations

from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

KEY_NAMESPACE = uuid5(NAMESPACE_URL, "urn:mentorship-ledger:idempotency-key")
# An erasure sent with a key is remembered too, pointing nowhere (it writes no event of its own everywhere,
# and asking again answers the same anyway): only so that the key is not used for another request (422).
ERASURE = "erase_participant"
NOWHERE = UUID(int=0)


def accepted_command_id(principal_id: str, role: str, key: str) -> UUID:
    """The id under which a caller's command, sent in this role with this key, is remembered.

    (Release 0.1.0 derived it from the principal id and key alone; a retry of a command first sent
    before the upgrade is not recognised as one.)
    """
    return uuid5(KEY_NAMESPACE, f"{len(role)}:{role}:{len(principal_id)}:{principal_id}:{key}")


class AcceptedCommand(Aggregate):
    """A command a caller sent with an Idempotency-Key, and where its answer lies."""

    class CommandAccepted(Aggregate.Created):
        PEOPLE = ("principal_id",)  # stored as a subject (persistence.privacy)
        # Stored as keyed digests: a client's key may hold anything; the fingerprint is a digest of the request,
        # whose body may name people and hold their texts (a plain digest let whoever holds the database test
        # guesses of an erased person's id). Records written before 0.3.13 keep a plain one.
        KEYS = ("key", "fingerprint")

        principal_id: str
        key: str
        fingerprint: str
        command: str
        relationship_id: UUID
        relationship_version: int
        subject_id: UUID | None

        def apply(self, aggregate: AcceptedCommand) -> None:
            aggregate.principal_id = self.principal_id
            aggregate.key = self.key
            aggregate.fingerprint = self.fingerprint
            aggregate.command = self.command
            aggregate.relationship_id = self.relationship_id
            aggregate.relationship_version = self.relationship_version
            aggregate.subject_id = self.subject_id

    @classmethod
    def accept(
        cls,
        *,
        principal_id: str,
        role: str,
        key: str,
        fingerprint: str,
        command: str,
        relationship_id: UUID,
        relationship_version: int,
        subject_id: UUID | None,
        at,
    ) -> AcceptedCommand:
        """Remember that this caller's command under this key was accepted."""
        return cls._create(
            cls.CommandAccepted,
            id=accepted_command_id(principal_id, role, key),
            timestamp=at,
            principal_id=principal_id,
            key=key,
            fingerprint=fingerprint,
            command=command,
            relationship_id=relationship_id,
            relationship_version=relationship_version,
            subject_id=subject_id,
        )


def disagreement(events: Any, target_id: UUID, version: int, key: str, principal_id: str) -> str | None:
    """Why an accepted command's pointer cannot be trusted, or None: the event at (target, version) must be
    the one this principal's command with this key wrote. A record is derived state, outside the audit chain;
    it is believed only when its event agrees."""
    event = next(iter(events.get(target_id, gt=version - 1, lte=version)), None)
    if event is None:
        return f"points at {target_id}@{version}, which does not exist"
    if getattr(event, "command_id", None) != key or getattr(event, "actor", None) != principal_id:
        return f"points at {target_id}@{version}, which another command wrote"
    return None
