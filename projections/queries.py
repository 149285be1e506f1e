"""Questions answered from the views, with the permissions of each role.

Participants see only what concerns them: their relationships, their own
growth, the audit entries of their relationships. Auditors and coordinators
see everything.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from datetime import datetime
from typing import Any
from uuid import UUID

from domain import errors
from domain.ledger import MentorshipLedger
from domain.personal import ERASED
from domain.principal import Principal
from persistence.stores import raw_records
from projections.audit import AuditFilter
from projections.audit_verify import Progress, verify_chain, verify_sealed
from projections.derived import (
    LIMIT,
    RelationshipsStarted,
    StartedEvents,
    check_accepted_commands,
    check_index,
    check_snapshots,
)
from projections.feed import LEDGER_TOPICS, ledger_events
from projections.health import figures as hf
from projections.health import score as hs
from projections.health.pages import KeptPage, KeptPages
from projections.index import IndexFilter
from projections.service import Projections, Ride

log = logging.getLogger(__name__)
NOTHING = "~"  # stored by no row: what an id never stored is looked up as
OVERSEERS_ONLY = ("open_concerns",)  # health figures a participant must not see: a concern's mere existence


class LedgerQueries:
    """Read-side use cases over the projections of one ledger."""

    def __init__(self, ledger: MentorshipLedger, projections: Projections) -> None:
        self.ledger = ledger
        self.projections = projections
        self.health_pages = KeptPages()

    # -- relationships -------------------------------------------------------------

    def list_relationships(self, principal: Principal, selection: IndexFilter, after: tuple[str, str] | None,
                           limit: int) -> list[dict[str, Any]]:
        """Relationships by program, participant and status; a participant only sees their own."""
        selection = self._as_stored(principal, selection)
        view = self.projections.view("relationship_index")
        along = self.projections.read_along(view, (principal, selection, after, limit))
        if along is not None:  # read with the request's token (``list_along``)
            rows = view.page_from(along[0])
        else:
            with view.store.statement() as cursor:
                rows = view.page(cursor, selection, after, limit)
        names = self.ledger.vault.names(ref for row in rows for ref in (row["mentor_id"], row["mentee_id"]))
        rows = [{**row, "mentor_id": names.get(row["mentor_id"], row["mentor_id"]),
                 "mentee_id": names.get(row["mentee_id"], row["mentee_id"])} for row in rows]
        if principal.is_participant:  # a row decides access only if the relationship itself agrees
            rows = [row for row in rows if self._theirs(principal, row["relationship_id"])]
        return rows

    def list_along(self, principal: Principal, selection: IndexFilter, after: tuple[str, str] | None,
                   limit: int) -> Ride | None:
        """``list_relationships``'s read of the view for ``principal`` (the one the request's token stood for
        when last seen: used only if it still does), to ride along with the token (PostgreSQL; else None)."""
        selection = self._as_stored(principal, selection)
        return self.projections.ride_along("relationship_index", (principal, selection, after, limit),
                                           lambda view: view.page_along(selection, after, limit))

    def _as_stored(self, principal: Principal, selection: IndexFilter) -> IndexFilter:
        """A selection with participant ids as the view stores them; a participant's own relationships only."""
        visible_to = self.stored_as(principal.id) if principal.is_participant else None
        participant = None if selection.participant_id is None else self.stored_as(selection.participant_id)
        return IndexFilter(selection.program_id, participant, selection.status, visible_to)

    def stored_as(self, participant_id: str) -> str:
        """How a participant id is stored in the views: its subject (a value no row holds, for an id never
        stored), or the id itself in a store written before the privacy scheme."""
        vault = self.ledger.vault
        if participant_id in vault.noted():  # being erased: matched by no filter, as once erased
            return NOTHING
        return vault.subject_of(participant_id) or NOTHING

    def _theirs(self, principal: Principal, relationship_id: Any) -> bool:
        try:
            self.ledger.check_visible(principal, UUID(str(relationship_id)))
        except (errors.NotFoundError, errors.NotPermittedError):
            log.warning("index row of %s lists %s, who is not in it: not shown", relationship_id, principal.id)
            return False
        return True

    # -- health ------------------------------------------------------------------------

    def health(self, principal: Principal, relationship_id: UUID, *, version: int | None = None,
               as_of: datetime | None = None) -> dict[str, Any]:
        """A relationship's health now (from the view) or as it stood at a version or time (from its events)."""
        current = self.ledger.visible(principal, relationship_id)
        if version is None and as_of is None:
            view = self.projections.view("relationship_health")
            along = self.projections.read_along(view, str(relationship_id))
            if along is not None:  # read with the request's token (``health_along``), at the views' position
                figures, position = view.figures_from(along[0]), self.projections.position_of(view)
            else:
                with view.store.statement() as cursor:
                    figures, position = view.figures_of(cursor, str(relationship_id))
            if figures is None:
                raise errors.RelationshipNotFoundError("No such relationship.")
            return _for(principal, hs.assess(figures, self.ledger.clock(), position))
        return _for(principal, self._health_then(relationship_id, current.version, version, as_of))

    def health_along(self, relationship_id: UUID) -> Ride | None:
        """``health``'s read of the view (a relationship's health now), to ride along with the request's token
        (PostgreSQL; None where it cannot). Read before the caller is known: ``health`` uses it only after its
        access check."""
        return self.projections.ride_along("relationship_health", str(relationship_id),
                                           lambda view: view.figures_along(str(relationship_id)))

    def _health_then(self, relationship_id: UUID, current: int, version: int | None,
                     as_of: datetime | None) -> dict[str, Any]:
        events = list(self.ledger.events.get(relationship_id, lte=version))
        if as_of is not None:
            events = [e for e in events if e.timestamp <= as_of]
        if not events or (version is not None and version > current):
            raise errors.VersionNotFoundError("The relationship had no such version.")
        moment = min(as_of, self.ledger.clock()) if as_of is not None else events[-1].timestamp
        return {**hs.assess(hf.fold(events), moment), "open_concerns": None}

    def health_page(self, principal: Principal, *, program_id: str | None, status: str | None,
                    after: tuple[int, str] | None, limit: int, now: datetime | None = None) -> tuple[list, datetime]:
        """Health rows of many relationships, worst first, all scored at the same moment."""
        rows, now, kept = self.health_rows(principal, program_id=program_id, status=status, after=after,
                                           limit=limit, now=now)
        return ([{**row, "as_of": now} for row in rows] if kept else rows), now

    def health_rows(self, principal: Principal, *, program_id: str | None, status: str | None,
                    after: tuple[int, str] | None, limit: int,
                    now: datetime | None = None) -> tuple[list, datetime, KeptPage | None]:
        """``health_page``'s rows and moment, and the kept page they are (then each row's ``as_of`` is when it
        was scored, not the moment answered: the page is right at both; its rows are shared, never change them)."""
        self.require_overseer(principal)
        view = self.projections.view("relationship_health")
        # First pages scored now are kept while nothing can change them (projections.health.pages).
        key = (view.generation, program_id, status, limit) if now is None and after is None else None
        now = now or self.ledger.clock()
        if key:
            kept = self.health_pages.page(key, self.projections.position_of(view), now)
            if kept is not None:
                return kept.rows, now, kept
        # The ranking's sources, the figures and the position from one snapshot: a re-ranking or a batch of
        # events committed meanwhile cannot make a row appear twice or not at all.
        with view.store.transaction(write=False, snapshot=True) as cursor:
            position = view.position(cursor)  # first: a page kept under it can only be as new or newer
            ranked = view.worst_first(cursor, now, program_id=program_id, status=status, after=after, limit=limit)
            figures = view.figures(cursor, [rid for rid, _, _ in ranked])
            until = view.ranking_until(cursor) if key else None
        rows = [hs.assess(figures[rid], now, position) for rid, _, _ in ranked]
        return rows, now, (self.health_pages.put(key, position, now, until, rows) if key else None)

    # -- growth ------------------------------------------------------------------------

    def growth(self, principal: Principal, participant_id: str) -> dict[str, Any]:
        """Skills named in feedback to a participant; theirs to see, and overseers'."""
        self.check_growth_reader(principal, participant_id)
        if not _printable(participant_id):
            raise errors.NotFoundError("No such participant.")
        if self.ledger.vault.erasure(participant_id) is not None:
            raise errors.ParticipantErasedError("This participant's personal data was erased.")
        if participant_id in self.ledger.vault.noted():
            raise errors.ParticipantErasedError("This participant's personal data is being erased.")
        stored = self.stored_as(participant_id)
        if principal.id != participant_id and not self._known(participant_id, stored):  # one's own: may be []
            raise errors.NotFoundError("No such participant.")
        view = self.projections.view("skills_growth")
        with view.store.statement() as cursor:
            skills = view.skills_of(cursor, stored)
        return {"participant_id": participant_id, "skills": skills}

    # -- audit ---------------------------------------------------------------------------

    def audit_page(self, principal: Principal, selection: AuditFilter, after: int, limit: int) -> list[dict[str, Any]]:
        """Audit entries in store order; a participant must name one of their relationships."""
        selection = self._audit_selection(principal, selection)
        view = self.projections.view("audit_trail")
        with view.store.statement() as cursor:
            rows = view.page(cursor, selection, after, limit)
        return self._named(rows)

    def audit_stream(self, principal: Principal, selection: AuditFilter) -> Iterator[dict[str, Any]]:
        """The whole selection, entry by entry (for NDJSON and CSV exports); the caller's access is checked now,
        before the first entry is streamed."""
        return self._named_stream(self.projections.view("audit_trail").stream(self._audit_selection(principal,
                                                                                                      selection)))

    def _named_stream(self, rows: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        batch: list[dict[str, Any]] = []
        for row in rows:
            batch.append(row)
            if len(batch) == 1000:
                yield from self._named(batch)
                batch = []
        yield from self._named(batch)

    def _named(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Audit entries as stored (subjects, marked texts) as a reader sees them: names, texts or redacted."""
        vault = self.ledger.vault
        names = vault.names(row["actor"] for row in rows)
        shown = []
        for row in rows:
            summary, redacted = vault.render(row["summary"], row["relationship_id"])
            entry = {**row, "actor": names.get(row["actor"], row["actor"]), "summary": summary}
            if redacted:
                entry["redacted"] = True
            shown.append(entry)
        return shown

    def audit_head(self, principal: Principal) -> dict[str, Any]:
        """The newest entry's position and hash: keep it elsewhere to prove later that nothing before it changed."""
        self.require_overseer(principal)
        view = self.projections.view("audit_trail")
        with view.store.transaction(write=False) as cursor:
            return view.head(cursor)

    def holds_no_entry(self, position: int) -> bool:
        """Whether the store holds, at ``position``, a record the trail never has an entry for (an idempotency
        record, say): no head /v1/audit/head gave names it. A position holding nothing at all is not said to be
        one (a deleted event leaves nothing either: that is for the walk to report)."""
        found = self.ledger.recorder.select_notifications(start=position, limit=1, stop=position)
        return bool(found) and found[0].topic not in LEDGER_TOPICS

    def verify_audit(self, principal: Principal, anchor: tuple[int, str] | None = None, *,
                     incremental: bool = False, progress: Progress | None = None,
                     processes: int = 1) -> dict[str, Any]:
        """Recompute the chain from the stored events and compare it with the trail, entry by entry; then check
        the derived state. Sealed trails are walked fast (stored bytes hashed, not decoded), in ``processes``
        slices at once; ``incremental`` starts from the checkpoint the last incremental run kept, and moves it
        on when all is well."""
        self.require_overseer(principal)
        view = self.projections.view("audit_trail")
        tracked = view.max_tracking_id() or 0
        key = self.ledger.signing_key
        start, previous = 0, view.store.genesis
        with view.store.transaction(write=False) as cursor:
            if incremental:
                start, previous = view.checkpoint(cursor, key) or (0, view.store.genesis)
            sealed = view.all_sealed(cursor, start)
        if sealed and processes > 1 and tracked - start > 20_000:
            answer, started = verify_in_slices(dict(self.ledger.env), start, previous, tracked, anchor, processes,
                                               progress)
        elif sealed:
            answer, started = walk_sealed(self.ledger, view, start, previous, tracked, anchor, progress)
        else:  # entries without a seal (written without the key): the slow walk, decoding every event
            start, events = 0, StartedEvents(item for item in ledger_events(self.ledger) if item.position <= tracked)
            entries = (entry for entry in view.stream(AuditFilter()) if entry["position"] <= tracked)
            answer = verify_chain(events, entries, anchor, view.store.genesis)
            started = events.started
        last = answer.pop("last", None)
        answer = {**answer, "as_of_position": tracked, "from_position": start}
        if not answer["ok"]:
            return {**answer, "derived": None}
        answer = {**answer, **self._verify_derived(started, tracked, start if incremental else 0)}
        if incremental and answer["ok"] and last is not None and last[0] is not None:
            with view.store.transaction(write=True) as cursor:
                view.keep_checkpoint(cursor, key, *last)
        return answer

    # (the sealed walk, alone or in slices: module functions below, so that other processes can run them)

    def _verify_derived(self, started: dict[str, tuple[str, str, str]], tracked: int, since: int) -> dict[str, Any]:
        """Snapshots, idempotency records and index rows, each checked against the events (projections.derived).

        An incremental run (``since`` > 0) checks the idempotency records written since its checkpoint only;
        snapshots and index rows, which may be edited at any time, are checked by full runs.
        """
        records, record_problems = check_accepted_commands(self.ledger, tracked, since)
        if since:
            snapshots, snapshot_problems, index_rows, index_problems = 0, [], 0, []
        else:
            index = self.projections.view("relationship_index")
            with index.store.transaction(write=False) as cursor:
                cursor.execute(f"SELECT relationship_id, program_id, mentor_id, mentee_id "
                               f"FROM {index.table('relationships')}")
                rows = [tuple(row) for row in cursor.fetchall()]
            snapshots, snapshot_problems = check_snapshots(self.ledger)
            index_rows, index_problems = check_index(self.ledger, iter(rows), started)
        problems = snapshot_problems + record_problems + index_problems
        return {"ok": not problems, "derived": {
            "snapshots_checked": snapshots, "idempotency_records_checked": records,
            "index_rows_checked": index_rows, "problems_found": len(problems), "problems": problems[:LIMIT]}}

    # -- permissions -----------------------------------------------------------------

    @staticmethod
    def require_overseer(principal: Principal) -> None:
        """403 for participants: what only coordinators and auditors see."""
        if principal.is_participant:
            raise errors.NotPermittedError("Only coordinators and auditors see this.")

    def check_audit_reader(self, principal: Principal, relationship_id: str | None) -> None:
        """403 for a participant naming no relationship, 404 for one naming another's (``relationship_id`` as
        given in the query: one that is no id at all is left to validation, 422)."""
        if not principal.is_participant:
            return
        if relationship_id is None:
            raise errors.NotPermittedError("Participants read the audit trail of one of their relationships.")
        try:
            wanted = UUID(relationship_id)
        except ValueError:
            return
        self.ledger.check_visible(principal, wanted)

    def _known(self, participant_id: str, stored: str) -> bool:
        """Whether a participant id is one the service knows: a relationship named it (it has a subject), or,
        for a placeholder, an erasure made it."""
        if ERASED.match(participant_id):
            return self.ledger.vault.erasure_by_placeholder(participant_id) is not None
        return stored != NOTHING

    @staticmethod
    def check_growth_reader(principal: Principal, participant_id: str) -> None:
        """404 for a participant asking about anyone but themself."""
        if principal.is_participant and principal.id != participant_id:
            raise errors.NotFoundError("No such participant.")

    def _audit_selection(self, principal: Principal, selection: AuditFilter) -> AuditFilter:
        """What a caller may read of the trail: participants, one of their relationships, no one else's concerns."""
        if selection.actor is not None:
            selection = replace(selection, actor=self.stored_as(selection.actor))
        if not principal.is_participant:
            return selection
        self.check_audit_reader(principal, selection.relationship_id)
        return replace(selection, reader=self.stored_as(principal.id))

    # -- concerns ---------------------------------------------------------------------

    def concerns(self, principal: Principal, relationship_id: UUID, after: tuple[str, str] | None,
                 limit: int) -> list[dict[str, Any]]:
        """Concerns about a relationship: all of them for overseers, a participant's own for a participant."""
        self.ledger.check_visible(principal, relationship_id)
        view = self.projections.view("relationship_index")
        with view.store.statement() as cursor:
            rows = view.concerns(cursor, str(relationship_id),
                                 self.stored_as(principal.id) if principal.is_participant else None, after, limit)
        return [self.ledger.concern_answer(UUID(row["concern_id"])) for row in rows]


def _for(principal: Principal, health: dict[str, Any]) -> dict[str, Any]:
    """Health as this caller may read it (participants do not learn of concerns)."""
    if principal.is_participant:
        return {k: v for k, v in health.items() if k not in OVERSEERS_ONLY}
    return health


def _printable(participant_id: str) -> bool:
    return 1 <= len(participant_id) <= 128 and all(ch >= " " and ch != "\x7f" for ch in participant_id)


# -- the sealed walk, alone or in slices run by other processes -----------------------------------------------


def walk_sealed(ledger: MentorshipLedger, view: Any, after: int, previous: str, up_to: int,
                anchor: tuple[int, str] | None, progress: Progress | None = None
                ) -> tuple[dict[str, Any], dict[str, tuple[str, str, str]]]:
    """Verify the sealed entries in (after, up_to], chained from ``previous``; and the relationships started."""
    started = RelationshipsStarted(ledger)
    answer = verify_sealed(raw_records(ledger, LEDGER_TOPICS, after=after, up_to=up_to),
                           view.sealed_rows(after=after, up_to=up_to), ledger.signing_key, anchor, previous,
                           started.keep, started.topic, progress)
    return answer, started.found


def verify_slice(env: dict[str, str], after: int, up_to: int, anchor: tuple[int, str] | None
                 ) -> tuple[str | None, dict[str, Any], dict[str, tuple[str, str, str]]]:
    """In another process: one slice of the chain, from the prev_hash its first entry names."""
    ledger = MentorshipLedger(env=env)
    try:
        view = Projections(ledger).view("audit_trail")
        with view.store.transaction(write=False) as cursor:
            previous = view.prev_hash_after(cursor, after)
        if previous is None:
            return None, {"ok": True, "entries_checked": 0, "first_mismatch": None, "problem": None,
                          "last": None}, {}
        answer, started = walk_sealed(ledger, view, after, previous, up_to, anchor)
        return previous, answer, started
    finally:
        ledger.close()


def verify_in_slices(env: dict[str, str], start: int, previous: str, up_to: int, anchor: tuple[int, str] | None,
                     processes: int, progress: Progress | None = None
                     ) -> tuple[dict[str, Any], dict[str, tuple[str, str, str]]]:
    """The sealed walk in ``processes`` slices at once; then each slice must begin where the one before ended."""
    bounds = [start + (up_to - start) * n // processes for n in range(processes + 1)]
    slices = list(zip(bounds, bounds[1:], strict=False))
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=processes, mp_context=context) as pool:
        futures = [pool.submit(verify_slice, env, after, last,
                               anchor if anchor is not None and after < anchor[0] <= last else None)
                   for after, last in slices]
        results = [future.result() for future in futures]
    checked, started, expected, last_position = 0, {}, previous, None
    for (after, _), (first_previous, answer, found) in zip(slices, results, strict=True):
        if answer["entries_checked"] == 0 and answer["ok"]:
            continue
        if first_previous != expected:
            return _failed_at(checked, after + 1, "the chain is broken between two entries"), started
        if not answer["ok"]:
            return {**answer, "entries_checked": checked + answer["entries_checked"]}, started
        checked += answer["entries_checked"]
        started.update(found)
        last_position, expected = answer["last"]
        if progress is not None:
            progress(checked, last_position)
    if anchor is not None and not start < anchor[0] <= up_to:
        return _failed_at(checked, anchor[0], "the anchored head is no longer in the chain"), started
    return {"ok": True, "entries_checked": checked, "first_mismatch": None, "problem": None,
            "last": (last_position, expected)}, started


def _failed_at(checked: int, position: int, problem: str) -> dict[str, Any]:
    return {"ok": False, "entries_checked": checked, "first_mismatch": position, "problem": problem}
