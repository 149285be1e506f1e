"""A participant's rights over their personal data: to see all of it (export) and to have it erased.

Erasure is crypto-shredding (``persistence.privacy``, ADR 009): each relationship of the person gets a
``ParticipantErased`` event (who erased, when, why — naming them by their placeholder), then their id's
subject row, the keys of their relationships, their tokens and the snapshots that named them are deleted,
and on SQLite the file is rebuilt so no deleted byte lingers. Events, the audit chain and the views are not
touched: they hold subjects and ciphertext, which now read as a placeholder and as redacted text.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from copy import deepcopy
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import RecordConflictError

from domain import errors
from domain.events import Act
from domain.identifiers import names_person, shows_other_than_it_reads
from domain.ledger import MentorshipLedger
from domain.personal import ERASED, PLACEHOLDER
from domain.principal import COORDINATOR, Principal
from domain.relationship import MentorshipRelationship
from persistence.stores import compact_sqlite, delete_snapshots_of
from persistence.tokens import TokenStore
from projections.audit import AuditFilter
from projections.index import IndexFilter
from projections.queries import LedgerQueries

log = logging.getLogger(__name__)
EXPORT_VERSION = 1
# How long an erasure waits for a relationship whose key was made with the person but whose first event is
# not stored yet (a start committing at this very moment); a start that failed after making its key never is.
UNBORN_WAIT = 2.0


class Privacy:
    """Export and erasure, for one ledger, its views and its tokens."""

    PENDING_AGAIN = 60.0  # seconds between a process's looks at erasures begun and not finished

    def __init__(self, ledger: MentorshipLedger, queries: LedgerQueries, tokens: TokenStore) -> None:
        self.ledger = ledger
        self.queries = queries
        self.projections = queries.projections
        self.tokens = tokens
        self._one_at_a_time = threading.Lock()  # erasures in this process, one after the other

    # -- export ---------------------------------------------------------------------------

    def export(self, principal: Principal, participant_id: str) -> dict[str, Any]:
        """Everything held about a person, as one document: the person themself, or a coordinator."""
        self.check_export_reader(principal, participant_id)
        vault = self.ledger.vault
        if self.erased(participant_id) is not None:
            raise errors.ParticipantErasedError("This participant's personal data was erased.")
        if ERASED.match(participant_id):
            raise errors.NotFoundError("No such participant.")
        if participant_id in vault.noted():  # asked for: nothing more is shown of them (as growth, queries.py)
            raise errors.ParticipantErasedError("This participant's personal data is being erased.")
        stored = self.queries.stored_as(participant_id)
        tokens = self.tokens.of(participant_id)
        relationships = self._relationships(participant_id, stored)
        if not relationships and not tokens and vault.subject_of(participant_id) is None:
            raise errors.NotFoundError("No such participant.")
        growth = self.projections.view("skills_growth")
        with growth.store.transaction(write=False) as cursor:
            skills = growth.skills_of(cursor, stored)
        audit = self.queries._named(list(self.projections.view("audit_trail").stream(AuditFilter(actor=stored))))
        return {
            "participant_id": participant_id,
            "exported_at": self.ledger.clock(),
            "format_version": EXPORT_VERSION,
            "relationships": relationships,
            "skills_growth": skills,
            "audit_entries": audit,
            "tokens": [{"prefix": t.prefix, "role": t.role, "created_at": _moment(t.created_at),
                        "revoked_at": _moment(t.revoked_at)} for t in tokens],
        }

    def _relationships(self, participant_id: str, stored: str) -> list[dict[str, Any]]:
        index = self.projections.view("relationship_index")
        found, after = [], None
        while True:
            with index.store.transaction(write=False) as cursor:
                rows = index.page(cursor, IndexFilter(participant_id=stored), after, 500)
            for row in rows:
                found.append(self._relationship(participant_id, UUID(row["relationship_id"])))
            if len(rows) < 500:
                return found
            after = (rows[-1]["started_at"], rows[-1]["relationship_id"])

    def _relationship(self, participant_id: str, relationship_id: UUID) -> dict[str, Any]:
        current = self.ledger.runner.current(relationship_id, fresh=True)
        state = self.ledger.representation(relationship_id, current.version)
        feedback, actions = state["feedback"], state["actions"]
        given = {f["feedback_id"] for f in feedback if f["giver_id"] == participant_id}
        index = self.projections.view("relationship_index")
        with index.store.transaction(write=False) as cursor:
            raised = index.concerns(cursor, str(relationship_id), self.queries.stored_as(participant_id), None, 1000)
        return {
            "relationship_id": str(relationship_id), "program_id": state["program_id"],
            "role": current.role_of(participant_id), "status": state["status"], "started_at": state["started_at"],
            "mentor_id": state["mentor_id"], "mentee_id": state["mentee_id"], "goals": state["goals"],
            "feedback_given": [f for f in feedback if f["feedback_id"] in given],
            "feedback_received": [f for f in feedback if f["recipient_id"] == participant_id],
            "actions_owned": [a for a in actions if a["owner_id"] == participant_id],
            "actions_given": [a for a in actions if a["feedback_id"] in given],
            "check_ins": state["check_ins"],
            "concerns_raised": [self.ledger.concern_answer(UUID(row["concern_id"])) for row in raised],
        }

    # -- erasure ---------------------------------------------------------------------------------

    @staticmethod
    def check_export_reader(principal: Principal, participant_id: str) -> None:
        """404 for anyone but the person themself or a coordinator."""
        if principal.id != participant_id and principal.role != COORDINATOR:
            raise errors.NotFoundError("No such participant.")

    def check_erasable(self, principal: Principal, participant_id: str) -> None:
        """404 for an id the service knows nothing of (and never erased), then 403 for anyone but a coordinator:
        before the body is read."""
        vault = self.ledger.vault
        known = (self.erased(participant_id) is not None or (not ERASED.match(participant_id) and (
            vault.subject_of(participant_id) is not None or bool(self.tokens.of(participant_id))
            or vault.being_erased(participant_id))))
        if not known:
            raise errors.NotFoundError("No such participant.")
        if principal.role != COORDINATOR:
            raise errors.NotPermittedError("Only a coordinator erases a participant.")

    def erase(self, principal: Principal, participant_id: str, reason: str | None = None,
              accepted: Callable[[], None] | None = None) -> dict[str, Any]:
        """Erase a person's personal data (a coordinator); asking again answers as the first time. ``accepted``
        is called once nothing can refuse the request, before anything is erased (an Idempotency-Key held)."""
        if principal.role != COORDINATOR:
            raise errors.NotPermittedError("Only a coordinator erases a participant.")
        accepted = accepted or (lambda: None)
        vault = self.ledger.vault
        done = self.erased(participant_id)
        if done is not None:
            accepted()
            return _answer(participant_id, done)
        if ERASED.match(participant_id):
            raise errors.NotFoundError("No such participant.")
        if not vault.private:
            raise errors.StoreNotMigratedError(
                "This store was written before the privacy scheme: migrate it first "
                "(flask --app wsgi privacy migrate --to <new DATABASE_URL>, see the README).")
        subject = vault.subject_of(participant_id)
        if subject is None and not self.tokens.of(participant_id) and not vault.being_erased(participant_id):
            raise errors.NotFoundError("No such participant.")
        if reason and shows_other_than_it_reads(reason):
            raise errors.InvalidCommandError("The reason is kept in the record: it may not hold direction controls "
                                             "(U+202A-U+202E, U+2066-U+2069), which make it show other than it reads.",
                                             field="reason")
        if reason and names_person(reason, participant_id):
            raise errors.InvalidCommandError("The reason is kept in the record: it may not name the person.",
                                             field="reason")
        accepted()
        with self._one_at_a_time:
            done = self.erased(participant_id)  # (by another request of this process while this one waited)
            if done is not None:
                return _answer(participant_id, done)
            return self._erase(vault.subject_for(principal.id), participant_id,
                               subject or "~" + secrets.token_hex(16), reason)

    def finish_pending_soon(self) -> None:
        """``finish_pending`` on a thread of its own (a greenlet under gevent), if there is anything to finish:
        a process starts serving at once, however long the erasures take. What it leaves (the store failed
        meanwhile, another process was at them) it looks at again every ``PENDING_AGAIN`` seconds, for as long
        as the ledger is open: an erasure begun is finished without anyone asking again."""
        vault = self.ledger.vault
        if not vault.private or not vault.pending():
            return
        threading.Thread(target=self._finish_pending_until_done, name="pending-erasures", daemon=True).start()

    def _finish_pending_until_done(self) -> None:
        vault = self.ledger.vault
        while not self.ledger.closing.is_set():
            try:
                finished = self.finish_pending()
                if finished:
                    log.info("finished %d interrupted erasures", finished)
                if not vault.pending():
                    return
            except Exception:  # noqa: BLE001 - left pending: looked at again, and the next start or asking again finishes it
                log.warning("interrupted erasures could not be finished; trying again in %.0f s", self.PENDING_AGAIN,
                            exc_info=True)
            if self.ledger.closing.wait(self.PENDING_AGAIN):
                return

    def finish_pending(self) -> int:
        """Finish the erasures begun and not finished (the process running one stopped midway: it is recorded
        in some of the person's relationships and not yet in the vault), as the coordinator who asked for each;
        how many were finished. One process at a time: while another holds the lock, nothing (it does them)."""
        vault = self.ledger.vault
        if not vault.private or not vault.pending():
            return 0
        finished = 0
        with vault.store.exclusive_if_free("pending erasures") as held, self._one_at_a_time:
            if not held:
                return 0
            for participant_id, subject, by_subject, reason in vault.pending():
                try:
                    if self.erased(participant_id) is not None:  # finished, and noted again by a late asker
                        vault.unpend(participant_id)
                        continue
                    self._erase(by_subject, participant_id, subject, reason)
                    finished += 1
                except Exception:  # noqa: BLE001 - this one stays noted (the next start, or asking again); the others go on
                    log.warning("an interrupted erasure could not be finished", exc_info=True)
        return finished

    def _erase(self, by_subject: str, participant_id: str, subject: str, reason: str | None) -> dict[str, Any]:
        """Erase ``participant_id`` (stored as ``subject``), asked by the coordinator whose subject is ``by_subject``
        (in this process, one erasure at a time)."""
        # An erasure runs long (a relationship at a time): the store's position read with its token ages while
        # it does, so each relationship is read as stored, not as held as of that position.
        self.ledger.runner.distrust_position()
        vault = self.ledger.vault
        # First, durably: the erasure is noted as begun (if this process stops midway, the next one to start
        # finishes it) and the person's tokens are gone (from now on, not only once every relationship is done).
        # Asked again while noted, the first request is carried out (its subject, coordinator and reason).
        with vault.store.transaction(write=True) as cursor:
            if not vault.store.postgres:
                cursor.execute("PRAGMA secure_delete = ON")
            cursor.execute(f"DELETE FROM {self.tokens.table} WHERE principal_id = ?", (participant_id,))
            noted = vault.pend(participant_id, subject, by=by_subject, reason=reason, cursor=cursor)
        if noted is None:  # erased already (by another process meanwhile)
            return _answer(participant_id, vault.erasure(participant_id))
        self.ledger.refresh()  # as every other process will at its next request: the person is hidden now
        subject, by_subject, reason = noted
        # The coordinator as events name actors: their id, or their placeholder if they were erased since.
        by = vault.name(by_subject)
        placeholder = PLACEHOLDER + subject[1:]
        first = vault.scopes_of(subject)
        erased, unborn = self._record_each(map(UUID, first), participant_id, placeholder, reason, by)
        delete_snapshots_of(self.ledger.snapshots.recorder, erased)
        with vault.store.transaction(write=True) as cursor:
            if not vault.store.postgres:
                cursor.execute("PRAGMA secure_delete = ON")
            cursor.execute(f"DELETE FROM {self.tokens.table} WHERE principal_id = ?", (participant_id,))
            every = vault.forget(participant_id, subject, by=by_subject, reason=reason, relationships=len(erased),
                                 cursor=cursor)
        # A relationship started with them while this ran (its key is gone with the others), or one whose start
        # had made its key but not stored its first event yet when it was looked at: record it too, once stored.
        late, unborn = self._record_each([*unborn, *map(UUID, sorted(set(every) - set(first)))], participant_id,
                                         placeholder, reason, by)
        deadline = time.monotonic() + UNBORN_WAIT
        while unborn and time.monotonic() < deadline:
            time.sleep(0.02)
            stored, unborn = self._record_each(unborn, participant_id, placeholder, reason, by)
            late += stored
        if late:
            delete_snapshots_of(self.ledger.snapshots.recorder, late)
            vault.count_relationships(participant_id, len(erased) + len(late))
        if not compact_sqlite(self.ledger):
            log.warning("erasure: the SQLite write-ahead log could not be emptied (a reader held it); "
                        "it is emptied at the next checkpoint")
        self.ledger.refresh()
        done = vault.erasure(participant_id)
        log.info("erased a participant: %s, %d relationships", done["placeholder"], done["relationships"])
        return _answer(participant_id, done)

    def erased(self, participant_id: str) -> dict[str, Any] | None:
        """The record of this person's erasure, found by their id or by the placeholder that replaced it."""
        if ERASED.match(participant_id):
            return self.ledger.vault.erasure_by_placeholder(participant_id)
        return self.ledger.vault.erasure(participant_id)

    def _record_each(self, relationship_ids: Any, participant_id: str, placeholder: str, reason: str | None,
                     by: str) -> tuple[list[UUID], list[UUID]]:
        """Record the erasure in each relationship: (those it is recorded in, those not stored yet)."""
        recorded, unborn = [], []
        for rid in relationship_ids:
            outcome = self._record_in(rid, participant_id, placeholder, reason, by)
            if outcome is None:
                unborn.append(rid)
            elif outcome:
                recorded.append(rid)
        return recorded, unborn

    def _record_in(self, relationship_id: UUID, participant_id: str, placeholder: str, reason: str | None,
                   by: str) -> bool | None:
        """Record the erasure (by the coordinator ``by``) in one relationship, retrying if another write wins;
        False if it is not theirs, None if its first event is not stored (yet: a start committing now; or
        never: a start that failed)."""
        for _ in range(20):
            try:
                relationship = self.ledger.runner.current(relationship_id, fresh=True)
            except errors.NotFoundError:
                return None
            role = relationship.role_of(participant_id) or relationship.role_of(placeholder)
            if role is None or not isinstance(relationship, MentorshipRelationship):
                return False
            changed = deepcopy(relationship)
            # Stamped when recorded, not when the erasure began: never before the relationship's newest event.
            now = Act(by, COORDINATOR, self.ledger.clock())
            if not changed.erase_participant(role=role, placeholder=placeholder, reason=reason, by=now):
                return True
            try:
                self.ledger.save(changed)
            except RecordConflictError:  # another write won: read as stored again (see _erase)
                continue
            return True
        raise errors.ConcurrentCommandsError("The relationship kept changing; try the erasure again.")


def _moment(stamp: str | None) -> datetime | None:
    return None if stamp is None else datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def _answer(participant_id: str, done: dict[str, Any]) -> dict[str, Any]:
    erased_at = done["erased_at"]
    return {"participant_id": participant_id,
            "erased_at": datetime.fromisoformat(erased_at.replace("Z", "+00:00")) if isinstance(erased_at, str)
            else erased_at,
            "relationships": done["relationships"]}
