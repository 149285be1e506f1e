"""The relationship-health view: counters per relationship, scored at read time."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from projections import health_rank as hr
from projections import health_score as hs
from projections.base import Item, View
from projections.health_batch import HealthBatch, epoch
from projections.store import Cursor

HEALTH_COLUMNS = ("relationship_id", "program_id", "lifecycle", "started_epoch", "by_mentor", "by_mentee",
                  "acknowledged", "median_hours", "actions_total", "actions_completed", "last_feedback_epoch")


def from_epoch(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, timezone.utc)


class HealthView(View):
    """Per relationship: feedback both ways, acknowledgements, actions, last feedback."""

    name = "relationship_health"
    TABLES = {
        "health": (
            "relationship_id TEXT PRIMARY KEY, program_id TEXT NOT NULL, lifecycle TEXT NOT NULL, "
            "started_epoch {DOUBLE} NOT NULL, by_mentor INTEGER NOT NULL, by_mentee INTEGER NOT NULL, "
            "acknowledged INTEGER NOT NULL, median_hours {DOUBLE}, actions_total INTEGER NOT NULL, "
            "actions_completed INTEGER NOT NULL, last_feedback_epoch {DOUBLE}"
        ),
        "health_feedback": (
            "feedback_id TEXT PRIMARY KEY, relationship_id TEXT NOT NULL, given_epoch {DOUBLE} NOT NULL, "
            "ack_hours {DOUBLE}"
        ),
        "health_actions": (
            "action_id TEXT PRIMARY KEY, relationship_id TEXT NOT NULL, due_on TEXT, completed INTEGER NOT NULL"
        ),
        "health_rank": hr.RANK_TABLE,
    }
    INDEXES = (
        ("health_by_program", "health", "program_id, relationship_id"),
        ("health_feedback_by_relationship", "health_feedback", "relationship_id"),
        ("health_actions_open", "health_actions", "relationship_id, completed, due_on"),
        *hr.RANK_INDEXES,
    )

    @property
    def tables(self) -> dict[str, str]:
        return {logical: self.table(logical) for logical in self.TABLES}

    QUERY_INDEXES = frozenset({"health_by_program", *hr.RANK_QUERY_INDEXES})

    def create_tables(self, cursor: Cursor, *, query_indexes: bool = True) -> None:
        super().create_tables(cursor, query_indexes=query_indexes)
        hr.backfill(cursor, self.tables)

    def apply(self, cursor: Cursor, items: Sequence[Item]) -> None:
        """A batch of events as a few statements: rows added, then counters changed once per relationship."""
        batch = HealthBatch()
        for item in items:
            handler = getattr(batch, type(item.event).__name__, None)
            if handler is not None:
                handler(item.event, str(item.event.originator_id))
        health, feedback, actions = self.table("health"), self.table("health_feedback"), self.table("health_actions")
        cursor.executemany(f"INSERT INTO {health} ({', '.join(HEALTH_COLUMNS)}) "
                           "VALUES (?, ?, 'active', ?, 0, 0, 0, NULL, 0, 0, NULL)", batch.started)
        cursor.executemany(f"INSERT INTO {feedback} VALUES (?, ?, ?, NULL)", batch.feedback)
        cursor.executemany(f"INSERT INTO {actions} VALUES (?, ?, ?, 0)", batch.actions)
        cursor.executemany(f"UPDATE {feedback} SET ack_hours = (? - given_epoch) / 3600.0 WHERE feedback_id = ?",
                           batch.acknowledgements)
        cursor.executemany(f"UPDATE {actions} SET completed = 1 WHERE action_id = ?", batch.completions)
        cursor.executemany(
            f"UPDATE {health} SET by_mentor = by_mentor + ?, by_mentee = by_mentee + ?, "
            "acknowledged = acknowledged + ?, actions_total = actions_total + ?, "
            "actions_completed = actions_completed + ?, last_feedback_epoch = COALESCE(?, last_feedback_epoch) "
            "WHERE relationship_id = ?", [(*counts, rid) for rid, counts in batch.counts.items()])
        cursor.executemany(f"UPDATE {health} SET lifecycle = ? WHERE relationship_id = ?",
                           [(lifecycle, rid) for rid, lifecycle in batch.lifecycle.items()])
        rank = self.table("health_rank")
        cursor.executemany(f"INSERT INTO {rank} (relationship_id, program_id, next_change, ranked_at) "
                           "VALUES (?, ?, 0, 0)", [(rid, program_id) for rid, program_id, _ in batch.started])
        changed = batch.counts.keys() | batch.lifecycle.keys()
        cursor.executemany(f"UPDATE {rank} SET next_change = 0 WHERE relationship_id = ?",
                           [(rid,) for rid in sorted(changed)])
        self._update_medians(cursor, sorted(batch.acknowledged))

    def _update_medians(self, cursor: Cursor, relationship_ids: list[str]) -> None:
        """Median acknowledgement time of each relationship acknowledged in this batch: one read for all."""
        hours = self._acknowledgement_hours(cursor, relationship_ids)
        cursor.executemany(f"UPDATE {self.table('health')} SET median_hours = ? WHERE relationship_id = ?",
                           [(round(statistics.median(hours[rid]), 2), rid) for rid in relationship_ids if rid in hours])

    def _acknowledgement_hours(self, cursor: Cursor, relationship_ids: Sequence[str]) -> dict[str, list[float]]:
        return self._grouped(cursor, f"SELECT relationship_id, ack_hours FROM {self.table('health_feedback')} "
                             "WHERE relationship_id IN ({ids}) AND ack_hours IS NOT NULL", relationship_ids)

    @staticmethod
    def _grouped(cursor: Cursor, sql: str, relationship_ids: Sequence[str]) -> dict[str, list[Any]]:
        """(relationship_id, value) rows of a query over these relationships, values grouped by relationship."""
        grouped: dict[str, list[Any]] = {}
        if not relationship_ids:
            return grouped
        cursor.execute(sql.format(ids=", ".join("?" for _ in relationship_ids)), list(relationship_ids))
        for rid, value in cursor.fetchall():
            grouped.setdefault(rid, []).append(value)
        return grouped

    # -- queries ------------------------------------------------------------------

    def figures(self, cursor: Cursor, relationship_ids: Sequence[str]) -> dict[str, hs.HealthFigures]:
        """The figures of these relationships, as the pure scoring functions take them."""
        if not relationship_ids:
            return {}
        marks = ", ".join("?" for _ in relationship_ids)
        cursor.execute(f"SELECT {', '.join(HEALTH_COLUMNS)} FROM {self.table('health')} "
                       f"WHERE relationship_id IN ({marks})", list(relationship_ids))
        rows = {row[0]: dict(zip(HEALTH_COLUMNS, row, strict=True)) for row in cursor.fetchall()}
        hours = self._acknowledgement_hours(cursor, relationship_ids)
        due = self._grouped(cursor, f"SELECT relationship_id, due_on FROM {self.table('health_actions')} "
                            "WHERE relationship_id IN ({ids}) AND completed = 0", relationship_ids)
        return {rid: _figures(row, hours.get(rid, []), due.get(rid, [])) for rid, row in rows.items()}

    def worst_first(self, cursor: Cursor, now: datetime, *, program_id: str | None, status: str | None,
                    after: tuple[int, str] | None, limit: int) -> list[hr.Ranked]:
        """(relationship_id, score, status) at ``now``, lowest score first, keyset-paged."""
        return hr.worst_first(cursor, self.store.dialect, self.tables, now, program_id=program_id, status=status,
                              after=after, limit=limit)

    def has_stale_ranks(self, cursor: Cursor, now: datetime) -> bool:
        cursor.execute(f"SELECT 1 FROM {self.table('health_rank')} WHERE next_change <= ? LIMIT 1", (epoch(now),))
        return cursor.fetchone() is not None

    def rerank(self, cursor: Cursor, now: datetime) -> int:
        """Score every relationship whose ranking is stale at ``now`` (see projections.health_rank)."""
        return hr.rerank(cursor, self.store.dialect, self.tables, now)


def _figures(row: dict[str, Any], hours: list[float], due: list[str | None]) -> hs.HealthFigures:
    return hs.HealthFigures(
        relationship_id=row["relationship_id"], program_id=row["program_id"], lifecycle=row["lifecycle"],
        started_at=from_epoch(row["started_epoch"]), by_mentor=row["by_mentor"], by_mentee=row["by_mentee"],
        acknowledged=row["acknowledged"], acknowledgement_hours=tuple(hours),
        actions_total=row["actions_total"], actions_completed=row["actions_completed"],
        open_due_dates=tuple(due), last_feedback_at=from_epoch(row["last_feedback_epoch"]),
    )
