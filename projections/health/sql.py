"""The health formula of ``projections.health.score`` in SQL, so lists can be ordered by it in the database.

Tests hold the two to agreement on a table of cases and on random histories.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from projections.health import score as hs
from projections.store import Dialect


def epoch(moment: datetime) -> float:
    return moment.timestamp()


def scored_sql(d: Dialect, tables: dict[str, str], now: datetime, *, program_id: str | None = None,
               stale: bool = False, stale_limit: int | None = None,
               stale_after: str | None = None, ahead_from: float | None = None) -> tuple[str, list[Any]]:
    """The scoring formula of health_score, in SQL, so lists can be ordered by it in the database.

    Rows: relationship_id, score, status, and what ``next_change`` needs.
    ``stale`` keeps to the relationships whose ranking is stale at ``now`` (at most
    ``stale_limit`` of them), found by the index on ``next_change``, or with ids
    after ``stale_after`` in id order. ``ahead_from``: the midnight a ranking made
    ahead of time is in force from (``health_rank_ahead``, see projections.health.rank);
    the stale ones ranked there are left out, found by index like the rest.
    Tests check that it agrees with the Python formula on a table of cases.
    """
    health, actions, rank = tables["health"], tables["health_actions"], tables["health_rank"]

    def floor(expr: str) -> str:
        return f"CAST({expr} AS INTEGER)" if d.name == "sqlite" else f"FLOOR({expr})"

    def clamp(expr: str, low: str = "0", high: str = "1") -> str:
        return f"{d.greatest}({low}, {d.least}({high}, {expr}))"

    larger = f"{d.greatest}(by_mentor, by_mentee)"
    # The last contact: feedback given or a check-in held (from the start of its day), never before the start.
    quiet_since = (f"{d.greatest}(COALESCE(h.last_feedback_epoch, h.started_epoch), "
                   "COALESCE(h.last_check_in_epoch, h.started_epoch))")
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
    today = now.astimezone(timezone.utc).date().isoformat()
    conditions, params = [], []
    join = ""
    if stale:
        limit, order = (f" LIMIT {int(stale_limit)}" if stale_limit else ""), " ORDER BY next_change"
        params.append(now_epoch)
        if ahead_from is not None:
            # Every row due by that midnight has a row ahead (a ranking, or a mark of a change since): the stale
            # rows are those due since, and those whose row ahead is a mark or has expired.
            conditions.append(
                f"h.relationship_id IN (SELECT relationship_id FROM {rank} WHERE next_change <= ? AND next_change > ?"
                f" UNION SELECT a.relationship_id FROM {tables['health_rank_ahead']} a WHERE a.until <= ? AND EXISTS "
                f"(SELECT 1 FROM {rank} r WHERE r.relationship_id = a.relationship_id AND r.next_change <= ?))")
            params += [ahead_from, now_epoch, now_epoch]
        else:
            if stale_after is not None:
                order = " AND relationship_id > ? ORDER BY relationship_id"
                params.append(stale_after)
            conditions.append(f"h.relationship_id IN (SELECT relationship_id FROM {rank} WHERE next_change <= ?"
                              f"{order if stale_limit else ''}{limit})")
    if program_id is not None:
        # With few stale rows, reach them by their index, not by the program's (SQLite: "+" skips an index).
        conditions.append(f"{'+' if stale and d.name == 'sqlite' else ''}h.program_id = ?")
        params.append(program_id)
    open_late = "completed = 0 AND due_on IS NOT NULL AND due_on < ?"
    if program_id is None and not stale and d.name == "postgresql":
        # Every relationship on PostgreSQL: count overdue actions in one pass (SQLite is faster by index).
        late = "COALESCE(overdue.late, 0)"
        join = (f"LEFT JOIN (SELECT relationship_id, COUNT(*) AS late FROM {actions} WHERE {open_late} "
                "GROUP BY relationship_id) AS overdue ON overdue.relationship_id = h.relationship_id")
    else:
        # A few relationships (or SQLite): look up each relationship's overdue actions by index.
        late = (f"(SELECT COUNT(*) FROM {actions} a WHERE a.relationship_id = h.relationship_id "
                f"AND a.{open_late.replace(' AND ', ' AND a.')})")
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    # The earliest day an open action is due, today or later: the next midnight at which ``late`` can grow.
    next_due = (f"(SELECT MIN(n.due_on) FROM {actions} n WHERE n.relationship_id = h.relationship_id "
                "AND n.completed = 0 AND n.due_on IS NOT NULL AND n.due_on >= ?)")
    sql = f"""
        SELECT relationship_id, score, quiet, age, quiet_since, started_epoch, next_due,
            CASE WHEN lifecycle IN ('ended', 'paused') THEN lifecycle
                 WHEN given < {hs.TOO_EARLY_FEEDBACK} AND age < {hs.TOO_EARLY_DAYS} THEN 'too_early'
                 WHEN quiet > {hs.DORMANT_DAYS} THEN 'dormant'
                 {bands} ELSE 'at_risk' END AS status
        FROM (
            SELECT relationship_id, lifecycle, by_mentor + by_mentee AS given, quiet, age, quiet_since,
                   started_epoch, next_due, {floor(clamp(f"({total}) - {penalty}", "0", "100") + " + 0.5")} AS score
            FROM (
                SELECT h.*, {quiet_since} AS quiet_since,
                    {floor(d.greatest + "(0, ? - " + quiet_since + ") / " + str(hs.DAY))} AS quiet,
                    {floor(d.greatest + "(0, ? - h.started_epoch) / " + str(hs.DAY))} AS age,
                    {late} AS late, {next_due} AS next_due
                FROM {health} h {join}
                {where}
            ) AS base
        ) AS scored"""
    # Parameters in text order: the two day counts, today's date twice (overdue and next due, in the select list
    # or the join: the same value either way), the WHERE's.
    return sql, [now_epoch, now_epoch, today, today, *params]
