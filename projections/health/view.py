"""The relationship-health view: counters per relationship, written from each event's delta, scored at read time."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from typing import Any

from projections.base import TRACKING_TABLE, Item, View
from projections.health import rank as hr
from projections.health.figures import Delta, HealthFigures, delta
from projections.health.sql import epoch
from projections.store import Cursor

HEALTH_COLUMNS = ("relationship_id", "program_id", "lifecycle", "started_epoch", "by_mentor", "by_mentee",
                  "acknowledged", "median_hours", "actions_total", "actions_completed", "last_feedback_epoch",
                  "check_ins", "last_check_in_epoch", "open_concerns")
DOUBLE_COLUMNS = frozenset({"started_epoch", "median_hours", "last_feedback_epoch", "last_check_in_epoch"})


def from_epoch(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, timezone.utc)


def day_epoch(day: date) -> float:
    return datetime.combine(day, time(), timezone.utc).timestamp()


@dataclass
class Counters:
    """What a batch adds to one relationship's counters (they commute, so each is written once)."""

    by_mentor: int = 0
    by_mentee: int = 0
    acknowledged: int = 0
    actions_total: int = 0
    actions_completed: int = 0
    check_ins: int = 0
    open_concerns: int = 0
    last_feedback: float | None = None
    last_check_in: float | None = None

    def add(self, d: Delta) -> None:
        self.by_mentor += d.by_mentor
        self.by_mentee += d.by_mentee
        self.acknowledged += d.acknowledged is not None
        self.actions_total += len(d.actions)
        self.actions_completed += d.completed is not None
        self.open_concerns += d.concerns
        if d.given is not None:
            self.last_feedback = epoch(d.given[1])
        if d.check_in is not None:
            self.check_ins += 1
            self.last_check_in = max(self.last_check_in or 0.0, day_epoch(d.check_in))

    def row(self, relationship_id: str) -> tuple:
        return (self.by_mentor, self.by_mentee, self.acknowledged, self.actions_total, self.actions_completed,
                self.last_feedback, self.check_ins, self.last_check_in, self.last_check_in, self.last_check_in,
                self.open_concerns, relationship_id)


class Changes:
    """A batch's deltas, gathered into the rows and counters its few statements write."""

    def __init__(self) -> None:
        self.started: list[tuple[str, str, float]] = []
        self.feedback: list[tuple[str, str, float]] = []
        self.actions: list[tuple[str, str, str | None]] = []
        self.acknowledgements: list[tuple[float, str]] = []
        self.completions: list[tuple[str]] = []
        self.counters: dict[str, Counters] = {}
        self.lifecycle: dict[str, str] = {}
        self.acknowledged: set[str] = set()

    def add(self, d: Delta) -> None:
        rid = d.relationship_id
        if d.started is not None:
            self.started.append((rid, d.started[0], epoch(d.started[1])))
            return
        self.counters.setdefault(rid, Counters()).add(d)
        if d.given is not None:
            self.feedback.append((d.given[0], rid, epoch(d.given[1])))
        self.actions.extend((action_id, rid, due) for action_id, due in d.actions)
        if d.acknowledged is not None:
            self.acknowledgements.append((epoch(d.acknowledged[1]), d.acknowledged[0]))
            self.acknowledged.add(rid)
        if d.completed is not None:
            self.completions.append((d.completed,))
        if d.lifecycle is not None:
            self.lifecycle[rid] = d.lifecycle


class HealthView(View):
    """Per relationship: feedback both ways, acknowledgements, actions, check-ins, open concerns."""

    name = "relationship_health"
    VERSION = 2  # 2: check-ins and open concerns
    TABLES = {
        "health": (
            "relationship_id TEXT PRIMARY KEY, program_id TEXT NOT NULL, lifecycle TEXT NOT NULL, "
            "started_epoch {DOUBLE} NOT NULL, by_mentor INTEGER NOT NULL, by_mentee INTEGER NOT NULL, "
            "acknowledged INTEGER NOT NULL, median_hours {DOUBLE}, actions_total INTEGER NOT NULL, "
            "actions_completed INTEGER NOT NULL, last_feedback_epoch {DOUBLE}, check_ins INTEGER NOT NULL, "
            "last_check_in_epoch {DOUBLE}, open_concerns INTEGER NOT NULL"
        ),
        "health_feedback": (
            "feedback_id TEXT PRIMARY KEY, relationship_id TEXT NOT NULL, given_epoch {DOUBLE} NOT NULL, "
            "ack_hours {DOUBLE}"
        ),
        "health_actions": (
            "action_id TEXT PRIMARY KEY, relationship_id TEXT NOT NULL, due_on TEXT, completed INTEGER NOT NULL"
        ),
        "health_rank": hr.RANK_TABLE,
        "health_rank_ahead": hr.AHEAD_TABLE,  # added in 0.3.2 to live tables as they are (no rebuild needed)
    }
    INDEXES = (
        ("health_by_program", "health", "program_id, relationship_id"),
        ("health_feedback_by_relationship", "health_feedback", "relationship_id"),
        ("health_actions_open", "health_actions", "relationship_id, completed, due_on"),
        *hr.RANK_INDEXES,
        *hr.AHEAD_INDEXES,
    )
    QUERY_INDEXES = frozenset({"health_by_program", *hr.RANK_QUERY_INDEXES})

    @staticmethod
    def handled() -> set[type]:
        return {cls for cls in delta.registry if cls is not object}

    @property
    def tables(self) -> dict[str, str]:
        return {logical: self.table(logical) for logical in self.TABLES}

    def create_tables(self, cursor: Cursor, *, query_indexes: bool = True) -> None:
        super().create_tables(cursor, query_indexes=query_indexes)
        for index in hr.REPLACED_INDEXES:
            cursor.execute(f"DROP INDEX IF EXISTS {self.store.table(f'{index}_g{self.generation}')}")
        hr.backfill(cursor, self.tables)

    def apply(self, cursor: Cursor, items: Sequence[Item]) -> None:
        """A batch of events as a few statements: rows added, then counters changed once per relationship."""
        changes = Changes()
        for item in items:
            change = delta(item.event)
            if change is not None:
                changes.add(change)
        health, feedback, actions = self.table("health"), self.table("health_feedback"), self.table("health_actions")
        cursor.executemany(f"INSERT INTO {health} ({', '.join(HEALTH_COLUMNS)}) "
                           "VALUES (?, ?, 'active', ?, 0, 0, 0, NULL, 0, 0, NULL, 0, NULL, 0)", changes.started)
        cursor.executemany(f"INSERT INTO {feedback} VALUES (?, ?, ?, NULL)", changes.feedback)
        cursor.executemany(f"INSERT INTO {actions} VALUES (?, ?, ?, 0)", changes.actions)
        cursor.executemany(f"UPDATE {feedback} SET ack_hours = (? - given_epoch) / 3600.0 WHERE feedback_id = ?",
                           changes.acknowledgements)
        cursor.executemany(f"UPDATE {actions} SET completed = 1 WHERE action_id = ?", changes.completions)
        cursor.executemany(
            f"UPDATE {health} SET by_mentor = by_mentor + ?, by_mentee = by_mentee + ?, "
            "acknowledged = acknowledged + ?, actions_total = actions_total + ?, "
            "actions_completed = actions_completed + ?, last_feedback_epoch = COALESCE(?, last_feedback_epoch), "
            "check_ins = check_ins + ?, last_check_in_epoch = CASE WHEN ? IS NULL THEN last_check_in_epoch "
            "WHEN last_check_in_epoch IS NULL OR last_check_in_epoch < ? THEN ? ELSE last_check_in_epoch END, "
            "open_concerns = open_concerns + ? WHERE relationship_id = ?",
            [counters.row(rid) for rid, counters in changes.counters.items()])
        cursor.executemany(f"UPDATE {health} SET lifecycle = ? WHERE relationship_id = ?",
                           [(lifecycle, rid) for rid, lifecycle in changes.lifecycle.items()])
        rank = self.table("health_rank")
        cursor.executemany(f"INSERT INTO {rank} (relationship_id, program_id, next_change, ranked_at) "
                           "VALUES (?, ?, 0, 0)", [(rid, program_id) for rid, program_id, _ in changes.started])
        changed = changes.counters.keys() | changes.lifecycle.keys()
        cursor.executemany(f"UPDATE {rank} SET next_change = 0 WHERE relationship_id = ?",
                           [(rid,) for rid in sorted(changed)])
        hr.mark_changed(cursor, self.tables, sorted(changed | {rid for rid, _, _ in changes.started}))
        self._update_medians(cursor, sorted(changes.acknowledged))

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

    def figures(self, cursor: Cursor, relationship_ids: Sequence[str]) -> dict[str, HealthFigures]:
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

    def figures_of(self, cursor: Cursor, relationship_id: str) -> tuple[HealthFigures | None, int | None]:
        """One relationship's figures (None: no such row) and the view's position, read together: one
        statement (one round trip, one snapshot: ``ViewStore.statement`` suffices) instead of four."""
        if not self.store.postgres:
            return self._sqlite_figures_of(cursor, relationship_id)
        cursor.execute_prepared(
            f"SELECT (SELECT position FROM {self.store.table(TRACKING_TABLE)} WHERE name = ?), "
            f"ARRAY(SELECT ack_hours FROM {self.table('health_feedback')} "
            "WHERE relationship_id = ? AND ack_hours IS NOT NULL), "
            f"ARRAY(SELECT due_on FROM {self.table('health_actions')} WHERE relationship_id = ? AND completed = 0), "
            + ", ".join(f"h.{column}" for column in HEALTH_COLUMNS)
            + f" FROM (SELECT 1) AS one LEFT JOIN {self.table('health')} AS h ON h.relationship_id = ?",
            (self.tracking_name, relationship_id, relationship_id, relationship_id))
        position, hours, due, *row = cursor.fetchone()
        if row[0] is None:
            return None, position
        return _figures(dict(zip(HEALTH_COLUMNS, row, strict=True)), list(hours), list(due)), position

    def figures_along(self, relationship_id: str) -> tuple[str, tuple[Any, ...]] | None:
        """``figures_of``'s figures as a subquery answering one JSON array, with its parameters, to ride along
        with the statement a request makes anyway (``Projections.ride_along``; the view's position comes with
        that statement); ``figures_from`` reads its answer. PostgreSQL only (None on SQLite)."""
        if not self.store.postgres:
            return None
        return (f"(SELECT json_build_array(ARRAY(SELECT ack_hours FROM {self.table('health_feedback')} "
                "WHERE relationship_id = %s AND ack_hours IS NOT NULL), "
                f"ARRAY(SELECT due_on FROM {self.table('health_actions')} WHERE relationship_id = %s "
                "AND completed = 0), " + ", ".join(f"h.{column}" for column in HEALTH_COLUMNS)
                + f") FROM (SELECT 1) AS one LEFT JOIN {self.table('health')} AS h ON h.relationship_id = %s)",
                (relationship_id, relationship_id, relationship_id))

    @staticmethod
    def figures_from(answer: list[Any]) -> HealthFigures | None:
        """The figures ``figures_along`` read (None: no such row). JSON has one kind of number: a double that
        holds a whole number arrives as an int, and is made a float again (as the column reads directly)."""
        hours, due, *values = answer
        if values[0] is None:
            return None
        row = {column: float(value) if column in DOUBLE_COLUMNS and value is not None else value
               for column, value in zip(HEALTH_COLUMNS, values, strict=True)}
        return _figures(row, [float(hour) for hour in hours], list(due))

    def _sqlite_figures_of(self, cursor: Cursor, relationship_id: str) -> tuple[HealthFigures | None, int | None]:
        # SQLite has no arrays (and its JSON would round the hours to 15 digits): the four reads as the rows
        # of one statement, each marked by its kind and padded to the health row's width.
        pad = ", NULL" * (len(HEALTH_COLUMNS) - 1)
        cursor.execute(
            f"SELECT 'h', {', '.join(HEALTH_COLUMNS)} FROM {self.table('health')} WHERE relationship_id = ? "
            f"UNION ALL SELECT 'a', ack_hours{pad} FROM {self.table('health_feedback')} "
            "WHERE relationship_id = ? AND ack_hours IS NOT NULL "
            f"UNION ALL SELECT 'd', due_on{pad} FROM {self.table('health_actions')} "
            "WHERE relationship_id = ? AND completed = 0 "
            f"UNION ALL SELECT 'p', position{pad} FROM {self.store.table(TRACKING_TABLE)} WHERE name = ?",
            (relationship_id, relationship_id, relationship_id, self.tracking_name))
        row, hours, due, position = None, [], [], None
        for kind, first, *rest in cursor.fetchall():
            if kind == "h":
                row = dict(zip(HEALTH_COLUMNS, (first, *rest), strict=True))
            elif kind == "a":
                hours.append(first)
            elif kind == "d":
                due.append(first)
            else:
                position = first
        return (None if row is None else _figures(row, hours, due)), position

    def worst_first(self, cursor: Cursor, now: datetime, *, program_id: str | None, status: str | None,
                    after: tuple[int, str] | None, limit: int) -> list[hr.Ranked]:
        """(relationship_id, score, status) at ``now``, lowest score first, keyset-paged."""
        return hr.worst_first(cursor, self.store.dialect, self.tables, now, program_id=program_id, status=status,
                              after=after, limit=limit)

    def ranking_until(self, cursor: Cursor) -> float | None:
        """The first moment any ranked score or status may change (None with nothing ranked)."""
        cursor.execute(f"SELECT MIN(next_change) FROM {self.table('health_rank')}")
        return cursor.fetchone()[0]

    def has_stale_ranks(self, cursor: Cursor, now: datetime) -> bool:
        cursor.execute(f"SELECT 1 FROM {self.table('health_rank')} WHERE next_change <= ? LIMIT 1", (epoch(now),))
        return cursor.fetchone() is not None

    def rerank(self, cursor: Cursor, now: datetime) -> int:
        """Score every relationship whose ranking is stale at ``now`` (see projections.health.rank)."""
        return hr.rerank(cursor, self.store.dialect, self.tables, now)

    def rank_ahead(self, cursor: Cursor, now: datetime) -> int:
        """Rank at the coming midnight what will be stale by then (see projections.health.rank)."""
        return hr.rank_ahead(cursor, self.store.dialect, self.tables, now)


def _figures(row: dict[str, Any], hours: list[float], due: list[str | None]) -> HealthFigures:
    last_check_in = from_epoch(row["last_check_in_epoch"])
    return HealthFigures(
        relationship_id=row["relationship_id"], program_id=row["program_id"], lifecycle=row["lifecycle"],
        started_at=from_epoch(row["started_epoch"]), by_mentor=row["by_mentor"], by_mentee=row["by_mentee"],
        acknowledged=row["acknowledged"], acknowledgement_hours=tuple(hours),
        actions_total=row["actions_total"], actions_completed=row["actions_completed"],
        open_due_dates=tuple(due), last_feedback_at=from_epoch(row["last_feedback_epoch"]),
        check_ins=row["check_ins"], last_check_in_on=last_check_in.date() if last_check_in else None,
        open_concerns=row["open_concerns"],
    )
