"""The relationship-health view: counters per relationship, scored at read time."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from projections import health_score as hs
from projections.base import Item, View
from projections.health_batch import HealthBatch, epoch
from projections.store import Cursor, Dialect

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
    }
    INDEXES = (
        ("health_by_program", "health", "program_id, relationship_id"),
        ("health_feedback_by_relationship", "health_feedback", "relationship_id"),
        ("health_actions_open", "health_actions", "relationship_id, completed, due_on"),
    )

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
                    after: tuple[int, str] | None, limit: int) -> list[tuple[str, int, str]]:
        """(relationship_id, score, status) at ``now``, lowest score first, keyset-paged."""
        sql, params = scored_sql(self.store.dialect, self.table("health"), self.table("health_actions"),
                                 now, program_id)
        conditions, extra = [], []
        if status is not None:
            conditions.append("status = ?")
            extra.append(status)
        if after is not None:
            conditions.append("(score > ? OR (score = ? AND relationship_id > ?))")
            extra += [after[0], after[0], after[1]]
        where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        cursor.execute(f"SELECT relationship_id, score, status FROM ({sql}) AS ranked {where} "
                       "ORDER BY score, relationship_id LIMIT ?", [*params, *extra, limit])
        return [(rid, int(score), state) for rid, score, state in cursor.fetchall()]


def _figures(row: dict[str, Any], hours: list[float], due: list[str | None]) -> hs.HealthFigures:
    return hs.HealthFigures(
        relationship_id=row["relationship_id"], program_id=row["program_id"], lifecycle=row["lifecycle"],
        started_at=from_epoch(row["started_epoch"]), by_mentor=row["by_mentor"], by_mentee=row["by_mentee"],
        acknowledged=row["acknowledged"], acknowledgement_hours=tuple(hours),
        actions_total=row["actions_total"], actions_completed=row["actions_completed"],
        open_due_dates=tuple(due), last_feedback_at=from_epoch(row["last_feedback_epoch"]),
    )


def scored_sql(d: Dialect, health: str, actions: str, now: datetime,
               program_id: str | None) -> tuple[str, list[Any]]:
    """The scoring formula of health_score, in SQL, so lists can be ordered by it in the database.

    Tests check that it agrees with the Python formula on a table of cases.
    """

    def floor(expr: str) -> str:
        return f"CAST({expr} AS INTEGER)" if d.name == "sqlite" else f"FLOOR({expr})"

    def clamp(expr: str, low: str = "0", high: str = "1") -> str:
        return f"{d.greatest}({low}, {d.least}({high}, {expr}))"

    larger = f"{d.greatest}(by_mentor, by_mentee)"
    total = " + ".join([
        f"{hs.WEIGHTS['balance']}.0 * CASE WHEN {larger} = 0 THEN 0 "
        f"ELSE 1.0 * {d.least}(by_mentor, by_mentee) / {larger} END",
        f"{hs.WEIGHTS['closure']}.0 * CASE WHEN by_mentor + by_mentee = 0 THEN 0 "
        "ELSE 1.0 * acknowledged / (by_mentor + by_mentee) END",
        f"{hs.WEIGHTS['follow_through']}.0 * CASE WHEN actions_total = 0 THEN 0.5 "
        "ELSE 1.0 * actions_completed / actions_total END",
        f"{hs.WEIGHTS['cadence']}.0 * " + clamp(
            f"1 - (quiet - {hs.CADENCE_GRACE_DAYS}) / {float(hs.CADENCE_ZERO_DAYS - hs.CADENCE_GRACE_DAYS)}"),
        f"{hs.WEIGHTS['responsiveness']}.0 * CASE WHEN median_hours IS NULL THEN 0 ELSE " + clamp(
            f"1 - (median_hours - {hs.RESPONSE_GRACE_HOURS}) / "
            f"{float(hs.RESPONSE_ZERO_HOURS - hs.RESPONSE_GRACE_HOURS)}") + " END",
    ])
    penalty = f"{d.least}({hs.OVERDUE_PENALTY_CAP}, {hs.OVERDUE_PENALTY} * late)"
    bands = " ".join(f"WHEN score >= {low} THEN '{name}'" for low, name in hs.BANDS)
    now_epoch = epoch(now)
    program_clause = "WHERE h.program_id = ?" if program_id is not None else ""
    open_late = "completed = 0 AND due_on IS NOT NULL AND due_on < ?"
    if program_id is None and d.name == "postgresql":
        # Every relationship on PostgreSQL: count overdue actions in one pass (SQLite is faster by index).
        late = "COALESCE(overdue.late, 0)"
        overdue_join = (f"LEFT JOIN (SELECT relationship_id, COUNT(*) AS late FROM {actions} WHERE {open_late} "
                        "GROUP BY relationship_id) AS overdue ON overdue.relationship_id = h.relationship_id")
    else:
        # One program (or SQLite): look up each relationship's overdue actions by index.
        late = (f"(SELECT COUNT(*) FROM {actions} a WHERE a.relationship_id = h.relationship_id "
                f"AND a.{open_late.replace(' AND ', ' AND a.')})")
        overdue_join = ""
    sql = f"""
        SELECT relationship_id, score,
            CASE WHEN lifecycle IN ('ended', 'paused') THEN lifecycle
                 WHEN given < {hs.TOO_EARLY_FEEDBACK} AND age < {hs.TOO_EARLY_DAYS} THEN 'too_early'
                 WHEN quiet > {hs.DORMANT_DAYS} THEN 'dormant'
                 {bands} ELSE 'at_risk' END AS status
        FROM (
            SELECT relationship_id, lifecycle, by_mentor + by_mentee AS given, quiet, age,
                   {floor(clamp(f"({total}) - {penalty}", "0", "100") + " + 0.5")} AS score
            FROM (
                SELECT h.*,
                    {floor(d.greatest + "(0, ? - COALESCE(h.last_feedback_epoch, h.started_epoch)) / " + str(hs.DAY))} AS quiet,
                    {floor(d.greatest + "(0, ? - h.started_epoch) / " + str(hs.DAY))} AS age,
                    {late} AS late
                FROM {health} h {overdue_join}
                {program_clause}
            ) AS base
        ) AS scored"""
    params: list[Any] = [now_epoch, now_epoch, now.astimezone(timezone.utc).date().isoformat()]
    if program_id is not None:
        params.append(program_id)
    return sql, params

