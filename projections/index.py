"""The relationship index: list and filter relationships by program, participant and status."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from projections.base import Item, View
from projections.canonical import stamp
from projections.store import Cursor

COLUMNS = ("relationship_id", "program_id", "mentor_id", "mentee_id", "status", "version", "started_at",
           "updated_at")
LIFECYCLE = {"RelationshipPaused": "paused", "RelationshipResumed": "active", "RelationshipEnded": "ended"}


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
    """One row per relationship: who, which program, status, version."""

    name = "relationship_index"
    TABLES = {
        "relationships": (
            "relationship_id TEXT PRIMARY KEY, program_id TEXT NOT NULL, mentor_id TEXT NOT NULL, "
            "mentee_id TEXT NOT NULL, status TEXT NOT NULL, version INTEGER NOT NULL, "
            "started_at TEXT NOT NULL, updated_at TEXT NOT NULL"
        ),
    }
    INDEXES = (
        ("relationships_by_start", "relationships", "started_at, relationship_id"),
        ("relationships_by_program", "relationships", "program_id, started_at, relationship_id"),
        ("relationships_by_mentor", "relationships", "mentor_id, started_at, relationship_id"),
        ("relationships_by_mentee", "relationships", "mentee_id, started_at, relationship_id"),
    )
    QUERY_INDEXES = frozenset(name for name, _, _ in INDEXES)

    def apply(self, cursor: Cursor, items: Sequence[Item]) -> None:
        table = self.table("relationships")
        for item in items:
            event, rid, at = item.event, str(item.event.originator_id), stamp(item.event.timestamp)
            if event.originator_version == 1:
                cursor.execute(f"INSERT INTO {table} VALUES (?, ?, ?, ?, 'active', 1, ?, ?)",
                               (rid, event.program_id, event.mentor_id, event.mentee_id, at, at))
                continue
            status = LIFECYCLE.get(type(event).__name__)
            if status is None:
                cursor.execute(f"UPDATE {table} SET version = ?, updated_at = ? WHERE relationship_id = ?",
                               (event.originator_version, at, rid))
            else:
                cursor.execute(f"UPDATE {table} SET version = ?, updated_at = ?, status = ? WHERE relationship_id = ?",
                               (event.originator_version, at, status, rid))

    def page(self, cursor: Cursor, selection: IndexFilter, after: tuple[str, str] | None,
             limit: int) -> list[dict[str, Any]]:
        where, params = selection.where()
        if after is not None:
            where += " AND (started_at > ? OR (started_at = ? AND relationship_id > ?))"
            params += [after[0], after[0], after[1]]
        cursor.execute(f"SELECT {', '.join(COLUMNS)} FROM {self.table('relationships')} WHERE {where} "
                       "ORDER BY started_at, relationship_id LIMIT ?", [*params, limit])
        return [dict(zip(COLUMNS, row, strict=True)) for row in cursor.fetchall()]
