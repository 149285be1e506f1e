"""The relationship index: list and filter relationships by program, participant and status; their concerns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import singledispatchmethod
from typing import Any

from domain.concern import Concern as C
from domain.registry import LEDGER_EVENTS
from domain.relationship import MentorshipRelationship as R
from projections.base import Item, View, handled_by, keyset_along, keyset_page
from projections.canonical import stamp
from projections.store import Cursor

COLUMNS = ("relationship_id", "program_id", "mentor_id", "mentee_id", "status", "version", "started_at",
           "updated_at")
CONCERN_COLUMNS = ("concern_id", "relationship_id", "raised_by", "raised_at", "status")
LIFECYCLE = {R.RelationshipPaused: "paused", R.RelationshipResumed: "active", R.RelationshipEnded: "ended"}


@dataclass(frozen=True)
class IndexFilter:
    """Which relationships to list; ``visible_to`` restricts a participant to their own."""

    program_id: str | None = None
    participant_id: str | None = None
    status: str | None = None
    visible_to: str | None = None

    def where(self) -> tuple[str, list[Any]]:
        clauses, params = ["TRUE"], []
        if self.program_id is not None:
            clauses.append("program_id = ?")
            params.append(self.program_id)
        if self.status is not None:
            clauses.append("status = ?")
            params.append(self.status)
        for participant in (self.participant_id, self.visible_to):
            if participant is not None:
                clauses.append("(mentor_id = ? OR mentee_id = ?)")
                params += [participant, participant]
        return " AND ".join(clauses), params


class RelationshipIndexView(View):
    """One row per relationship (who, which program, status, version) and one per concern raised."""

    name = "relationship_index"
    VERSION = 2  # 2: concerns
    TABLES = {
        "relationships": (
            "relationship_id TEXT PRIMARY KEY, program_id TEXT NOT NULL, mentor_id TEXT NOT NULL, "
            "mentee_id TEXT NOT NULL, status TEXT NOT NULL, version INTEGER NOT NULL, "
            "started_at TEXT NOT NULL, updated_at TEXT NOT NULL"
        ),
        "concerns": (
            "concern_id TEXT PRIMARY KEY, relationship_id TEXT NOT NULL, raised_by TEXT NOT NULL, "
            "raised_at TEXT NOT NULL, status TEXT NOT NULL"
        ),
    }
    INDEXES = (
        ("relationships_by_start", "relationships", "started_at, relationship_id"),
        ("relationships_by_program", "relationships", "program_id, started_at, relationship_id"),
        ("relationships_by_mentor", "relationships", "mentor_id, started_at, relationship_id"),
        ("relationships_by_mentee", "relationships", "mentee_id, started_at, relationship_id"),
        ("concerns_by_relationship", "concerns", "relationship_id, raised_at, concern_id"),
    )
    QUERY_INDEXES = frozenset(name for name, _, _ in INDEXES)

    @classmethod
    def handled(cls) -> set[type]:
        return handled_by(cls.__dict__["on"].dispatcher, LEDGER_EVENTS)

    def apply(self, cursor: Cursor, items: Sequence[Item]) -> None:
        for item in items:
            self.on(item.event, cursor)

    @singledispatchmethod
    def on(self, event: Any, cursor: Cursor) -> None:
        raise TypeError(f"the relationship index does not know {type(event).__name__}")

    @on.register
    def _started(self, event: R.RelationshipStarted, cursor: Cursor) -> None:
        at = stamp(event.timestamp)
        cursor.execute(f"INSERT INTO {self.table('relationships')} VALUES (?, ?, ?, ?, 'active', 1, ?, ?)",
                       (str(event.originator_id), event.program_id, event.mentor_id, event.mentee_id, at, at))

    @on.register
    def _changed(self, event: R.Event, cursor: Cursor) -> None:
        """Every later event moves the version on; lifecycle events change the status too."""
        status = LIFECYCLE.get(type(event))
        sets, params = "version = ?, updated_at = ?", [event.originator_version, stamp(event.timestamp)]
        if status is not None:
            sets, params = sets + ", status = ?", [*params, status]
        cursor.execute(f"UPDATE {self.table('relationships')} SET {sets} WHERE relationship_id = ?",
                       (*params, str(event.originator_id)))

    @on.register
    def _raised(self, event: C.ConcernRaised, cursor: Cursor) -> None:
        cursor.execute(f"INSERT INTO {self.table('concerns')} VALUES (?, ?, ?, ?, 'open')",
                       (str(event.originator_id), str(event.relationship_id), event.actor, stamp(event.timestamp)))

    @on.register
    def _resolved(self, event: C.ConcernResolved, cursor: Cursor) -> None:
        cursor.execute(f"UPDATE {self.table('concerns')} SET status = 'resolved' WHERE concern_id = ?",
                       (str(event.originator_id),))

    # -- queries ----------------------------------------------------------------

    def page(self, cursor: Cursor, selection: IndexFilter, after: tuple[str, str] | None,
             limit: int) -> list[dict[str, Any]]:
        where, params = selection.where()
        return keyset_page(cursor, self.table("relationships"), COLUMNS, where, params,
                           ("started_at", "relationship_id"), after, limit)

    def page_along(self, selection: IndexFilter, after: tuple[str, str] | None,
                   limit: int) -> tuple[str, tuple[Any, ...]] | None:
        """``page`` as a subquery to ride along with a request's token (PostgreSQL; None on SQLite);
        ``page_from`` reads its answer."""
        if not self.store.postgres:
            return None
        where, params = selection.where()
        return keyset_along(self.table("relationships"), COLUMNS, where, params, ("started_at", "relationship_id"),
                            after, limit)

    @staticmethod
    def page_from(answer: list[list[Any]] | None) -> list[dict[str, Any]]:
        return [dict(zip(COLUMNS, row, strict=True)) for row in answer or ()]

    def concerns(self, cursor: Cursor, relationship_id: str, raised_by: str | None,
                 after: tuple[str, str] | None, limit: int) -> list[dict[str, Any]]:
        """The concerns about a relationship, oldest first; ``raised_by`` keeps to one raiser's."""
        where, params = "relationship_id = ?", [relationship_id]
        if raised_by is not None:
            where, params = where + " AND raised_by = ?", [*params, raised_by]
        return keyset_page(cursor, self.table("concerns"), CONCERN_COLUMNS, where, params,
                           ("raised_at", "concern_id"), after, limit)
