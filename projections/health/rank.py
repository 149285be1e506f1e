"""Health scores in SQL, and a ranking kept ahead of time so worst-first pages need no full scan.

A score depends on the figures and on the clock, but the clock enters only
through whole days: days since the last feedback, days since the start, and
today's date (for overdue actions). Between one such boundary and the next,
a relationship's score and status stay exactly as they are. So each
relationship's score and status are kept in ``health_rank`` together with
``next_change``, the first moment after which they may differ. A row is
*fresh* at ``now`` when it was ranked at or before ``now`` and ``now`` is
before its ``next_change``; events mark their relationship's row stale at once
(``next_change = 0``).

A worst-first page is then the fresh rows, read in score order from an index,
merged with the stale rows, scored exactly: the same answer as scoring every
relationship, without reading every relationship. ``rerank`` (run after each
catch-up) keeps the stale set small.

Midnight is the one moment many rows may go stale together (every relationship
with an open action falling overdue then). So in the last ``AHEAD`` seconds
before it, ``rank_ahead`` scores, *at midnight*, every row whose ranking will be
stale by then, into ``health_rank_ahead``: from midnight on, until its own
``until``, such a row is read in score order from there, not scored, and the
first ``rerank`` after midnight copies it into ``health_rank`` (one statement).
A row ranked ahead stays right only while its relationship has no new event:
an event (or a start) leaves a mark there instead (``until = 0``), as it marks
the ranking stale. So once the ranking ahead is made, every relationship whose
ranking is due by midnight has a row there, and the stale rows after midnight
are found by index: those due since midnight, and those whose row ahead is a
mark or has expired.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from projections.health import score as hs
from projections.health.sql import epoch, scored_sql
from projections.store import Cursor, Dialect

RANK_TABLE = (
    "relationship_id TEXT PRIMARY KEY, program_id TEXT NOT NULL, score INTEGER, status TEXT, "
    "next_change {DOUBLE} NOT NULL, ranked_at {DOUBLE} NOT NULL"
)
RANK_INDEXES = (
    # Worst first reads these in order, stepping over rows that are not fresh: with next_change and status in
    # the index it does so without reading the rows (0.3.2; the narrower indexes before are dropped).
    ("health_rank_worst_first", "health_rank", "score, relationship_id, next_change, status"),
    ("health_rank_worst_first_by_program", "health_rank", "program_id, score, relationship_id, next_change, status"),
    ("health_rank_stale", "health_rank", "next_change"),
    ("health_rank_ranked_at", "health_rank", "ranked_at"),
)
RANK_QUERY_INDEXES = ("health_rank_worst_first", "health_rank_worst_first_by_program", "health_rank_ranked_at",
                      "health_rank_ahead_order")
# Scores and statuses a row will have from ``at`` (the coming midnight) until ``until``; see ``rank_ahead``.
AHEAD_TABLE = ("relationship_id TEXT PRIMARY KEY, at {DOUBLE} NOT NULL, score INTEGER NOT NULL, "
               "status TEXT NOT NULL, until {DOUBLE} NOT NULL")
AHEAD_INDEXES = (("health_rank_ahead_order", "health_rank_ahead", "score, relationship_id"),
                 ("health_rank_ahead_until", "health_rank_ahead", "until"),
                 ("health_rank_ahead_at", "health_rank_ahead", "at"))
AHEAD = 600.0  # seconds before midnight when rankings for midnight are made
REPLACED_INDEXES = ("health_rank_order", "health_rank_by_program")
Ranked = tuple[str, int, str]  # (relationship_id, score, status)


def next_change(quiet_since: float, started: float, quiet: int, age: int, next_due: str | None) -> float:
    """The first moment after which a score or status computed now may differ: the next whole day without
    contact, the next day of age, or the midnight at which the next open action falls overdue. Midnight
    itself changes nothing for a relationship with no action due (so there is no rush of re-ranking then)."""
    boundaries = [quiet_since + (quiet + 1) * hs.DAY, started + (age + 1) * hs.DAY]
    if next_due is not None:
        overdue_from = date.fromisoformat(str(next_due)[:10]) + timedelta(days=1)
        boundaries.append(datetime.combine(overdue_from, time(), timezone.utc).timestamp())
    return min(boundaries)


RERANK_CHUNK = 10_000  # rows scored and written at a time, so memory stays bounded however many are stale


def next_midnight(now: datetime) -> datetime:
    """The first midnight (UTC) after ``now``."""
    return datetime.combine(now.astimezone(timezone.utc).date() + timedelta(days=1), time(), timezone.utc)


def mark_changed(cursor: Cursor, tables: dict[str, str], relationship_ids: list[str]) -> None:
    """Relationships changed by events (or started): any ranking made ahead for them is no longer right."""
    cursor.executemany(f"INSERT INTO {tables['health_rank_ahead']} (relationship_id, at, score, status, until) "
                       "VALUES (?, 0, 0, '', 0) ON CONFLICT (relationship_id) DO UPDATE SET until = 0",
                       [(rid,) for rid in relationship_ids])


def _ahead_in_force(cursor: Cursor, tables: dict[str, str], now: datetime) -> float | None:
    """The midnight (epoch seconds) that began ``now``'s day, if a ranking made ahead for it is still unapplied."""
    midnight = epoch(next_midnight(now) - timedelta(days=1))
    cursor.execute(f"SELECT 1 FROM {tables['health_rank_ahead']} WHERE at = ? LIMIT 1", (midnight,))
    return midnight if cursor.fetchone() is not None else None


def rank_ahead(cursor: Cursor, d: Dialect, tables: dict[str, str], now: datetime) -> int:
    """Score at the coming midnight every row whose ranking will be stale by then, into ``health_rank_ahead``
    (replacing what was there); returns how many. Run under the view's lock, like every change to it."""
    midnight = next_midnight(now)
    ahead, at, total, after = tables["health_rank_ahead"], epoch(midnight), 0, ""
    cursor.execute(f"DELETE FROM {ahead}")
    while True:
        sql, params = scored_sql(d, tables, midnight, stale=True, stale_limit=RERANK_CHUNK, stale_after=after)
        cursor.execute(f"SELECT relationship_id, score, status, quiet_since, started_epoch, quiet, age, next_due "
                       f"FROM ({sql}) s", params)
        rows = cursor.fetchall()
        cursor.executemany(f"INSERT INTO {ahead} (relationship_id, at, score, status, until) VALUES (?, ?, ?, ?, ?)",
                           [(rid, at, int(score), status, next_change(since, started, int(quiet), int(age), next_due))
                            for rid, score, status, since, started, quiet, age, next_due in rows])
        total += len(rows)
        if len(rows) < RERANK_CHUNK:
            return total
        after = max(row[0] for row in rows)


def _apply_ahead(cursor: Cursor, tables: dict[str, str], now: datetime) -> None:
    """Rows stale at ``now`` that were ranked ahead for it take that ranking (then the ranking ahead is dropped;
    marks of changes stay until the next ranking ahead replaces everything)."""
    rank, ahead, moment = tables["health_rank"], tables["health_rank_ahead"], epoch(now)
    columns = ", ".join(f"{column} = (SELECT a.{source} FROM {ahead} a WHERE a.relationship_id = "
                        f"{rank}.relationship_id)" for column, source in
                        (("score", "score"), ("status", "status"), ("next_change", "until"), ("ranked_at", "at")))
    cursor.execute(f"UPDATE {rank} SET {columns} WHERE next_change <= ? AND relationship_id IN "
                   f"(SELECT relationship_id FROM {ahead} WHERE at <= ? AND until > ?)", (moment, moment, moment))
    cursor.execute(f"DELETE FROM {ahead} WHERE at > 0 AND at <= ?", (moment,))  # marks stay till the next ranking


def rerank(cursor: Cursor, d: Dialect, tables: dict[str, str], now: datetime) -> int:
    """Score the stale rows of ``health_rank`` at ``now``, a chunk at a time (those ranked ahead for ``now``
    take that ranking); returns how many were scored."""
    _apply_ahead(cursor, tables, now)
    moment, total, after = epoch(now), 0, None
    while True:
        sql, params = scored_sql(d, tables, now, stale=True, stale_limit=RERANK_CHUNK, stale_after=after)
        cursor.execute(f"SELECT relationship_id, score, status, quiet_since, started_epoch, quiet, age, next_due "
                       f"FROM ({sql}) s", params)
        rows = cursor.fetchall()
        # Ranked rows leave the stale set (their next change is after ``now``). The first chunk is
        # found by next_change (quick when few are stale); when there are more, the rest are walked in
        # id order, since index entries of rows just ranked would otherwise be stepped over again and again.
        cursor.executemany(
            f"UPDATE {tables['health_rank']} SET score = ?, status = ?, next_change = ?, ranked_at = ? "
            "WHERE relationship_id = ?",
            [(int(score), status, next_change(since, started, int(quiet), int(age), next_due), moment, rid)
             for rid, score, status, since, started, quiet, age, next_due in rows])
        total += len(rows)
        if len(rows) < RERANK_CHUNK:
            return total
        after = "" if after is None else max(row[0] for row in rows)


def backfill(cursor: Cursor, tables: dict[str, str]) -> None:
    """Give every relationship a (stale) rank row: for health tables made before the ranking existed."""
    rank, health = tables["health_rank"], tables["health"]
    cursor.execute(f"SELECT h.relationship_id, h.program_id FROM {health} h "
                   f"WHERE NOT EXISTS (SELECT 1 FROM {rank} r WHERE r.relationship_id = h.relationship_id)")
    missing = cursor.fetchall()
    cursor.executemany(f"INSERT INTO {rank} (relationship_id, program_id, next_change, ranked_at) VALUES (?, ?, 0, 0)",
                       missing)
    mark_changed(cursor, tables, [rid for rid, _ in missing])


def worst_first(cursor: Cursor, d: Dialect, tables: dict[str, str], now: datetime, *, program_id: str | None,
                status: str | None, after: tuple[int, str] | None, limit: int) -> list[Ranked]:
    """(relationship_id, score, status) at ``now``, lowest score first, keyset-paged."""
    cursor.execute(f"SELECT MAX(ranked_at) FROM {tables['health_rank']}")
    newest = cursor.fetchone()[0]
    if newest is not None and newest > epoch(now):
        # Ranked by a clock ahead of this one: those rows cannot be trusted at ``now``; score everything.
        return _scored_page(cursor, scored_sql(d, tables, now, program_id=program_id), status, after, limit)
    ahead_from = _ahead_in_force(cursor, tables, now)
    stale = _scored_page(cursor, scored_sql(d, tables, now, program_id=program_id, stale=True, ahead_from=ahead_from),
                         status, after, limit)
    if ahead_from is not None:
        stale += _ahead_page(cursor, tables, now, program_id, status, after, limit)
    conditions, params = ["next_change > ?"], [epoch(now)]
    if program_id is not None:
        conditions.append("program_id = ?")
        params.append(program_id)
    more, more_params = _page_conditions(status, after)
    conditions += more
    params += more_params
    cursor.execute(f"SELECT relationship_id, score, status FROM {tables['health_rank']} "
                   f"WHERE {' AND '.join(conditions)} ORDER BY score, relationship_id LIMIT ?", [*params, limit])
    fresh = [(rid, int(score), state) for rid, score, state in cursor.fetchall()]
    return sorted(stale + fresh, key=lambda row: (row[1], row[0]))[:limit]


def _page_conditions(status: str | None, after: tuple[int, str] | None) -> tuple[list[str], list[Any]]:
    """SQL conditions (and their parameters) for a status filter and a keyset cursor on (score, id)."""
    conditions: list[str] = []
    params: list[Any] = []
    if status is not None:
        conditions.append("status = ?")
        params.append(status)
    if after is not None:
        conditions.append("(score > ? OR (score = ? AND relationship_id > ?))")
        params += [after[0], after[0], after[1]]
    return conditions, params


def _ahead_page(cursor: Cursor, tables: dict[str, str], now: datetime, program_id: str | None, status: str | None,
                after: tuple[int, str] | None, limit: int) -> list[Ranked]:
    """Stale rows ranked ahead of time for ``now`` (just after midnight, before ``rerank`` has run)."""
    moment, ahead = epoch(now), tables["health_rank_ahead"]
    # Walked in score order, each row checked against its ranking (stale now, in the program): a page stops
    # after ``limit`` rows however many were ranked ahead.
    stale = (f"EXISTS (SELECT 1 FROM {tables['health_rank']} r WHERE r.relationship_id = {ahead}.relationship_id "
             "AND r.next_change <= ?")
    params: list[Any] = [moment, moment, moment]
    if program_id is not None:
        stale += " AND r.program_id = ?"
        params.append(program_id)
    more, more_params = _page_conditions(status, after)
    conditions = ["at <= ?", "until > ?", stale + ")", *more]
    cursor.execute(f"SELECT relationship_id, score, status FROM {ahead} "
                   f"WHERE {' AND '.join(conditions)} ORDER BY score, relationship_id LIMIT ?",
                   [*params, *more_params, limit])
    return [(rid, int(score), state) for rid, score, state in cursor.fetchall()]


def _scored_page(cursor: Cursor, scored: tuple[str, list[Any]], status: str | None,
                 after: tuple[int, str] | None, limit: int) -> list[Ranked]:
    sql, params = scored
    conditions, extra = _page_conditions(status, after)
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    cursor.execute(f"SELECT relationship_id, score, status FROM ({sql}) AS ranked {where} "
                   "ORDER BY score, relationship_id LIMIT ?", [*params, *extra, limit])
    return [(rid, int(score), state) for rid, score, state in cursor.fetchall()]
