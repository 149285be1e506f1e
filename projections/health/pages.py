"""Worst-first health pages kept while nothing can change them.

A page scored at a moment stays exactly right until one of two things happens:
an event reaches the health view (its position moves), or the clock passes the
first moment at which any ranked score or status may change (the smallest
``next_change`` of the ranking, see ``projections.health.rank``) or at which a
shown day count moves (whole days since a row's last feedback). Dashboards ask
for the same first page again and again; between those moments it is answered
from memory, with only the view's position read from the store and ``as_of``
set to the moment asked.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from datetime import datetime
from typing import Any

from projections.health import score as hs

Key = tuple[Any, ...]


def feedback_days_change(row: dict[str, Any], now: datetime) -> float:
    """The moment (epoch seconds) the row's ``days_since_last_feedback`` next moves (never, without feedback)."""
    last = row["last_feedback_at"]
    if last is None:
        return math.inf
    return last.timestamp() + (hs.whole_days(now, last) + 1) * hs.DAY


class KeptPages:
    """The newest pages asked for, each with the view position and the moment range it is right for."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._pages: OrderedDict[Key, tuple[int | None, float, float, list[dict[str, Any]]]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Key, position: int | None, now: datetime) -> list[dict[str, Any]] | None:
        """The page for ``key`` as it reads at ``now``, if one is kept and still right."""
        with self._lock:
            kept = self._pages.get(key)
            if kept is None:
                return None
            kept_position, since, until, rows = kept
            if kept_position != position or not since <= now.timestamp() < until:
                del self._pages[key]
                return None
            self._pages.move_to_end(key)
        return [{**row, "as_of": now} for row in rows]

    def put(self, key: Key, position: int | None, now: datetime, ranking_until: float | None,
            rows: list[dict[str, Any]]) -> None:
        """Keep a page scored at ``now``; ``ranking_until`` is the smallest ``next_change`` of the ranking."""
        if ranking_until is None or position is None:
            return
        # Rows due for re-ranking make ``until`` no later than ``now``: such a page is never answered again.
        until = min([ranking_until, *(feedback_days_change(row, now) for row in rows)])
        with self._lock:
            self._pages[key] = (position, now.timestamp(), until, rows)
            self._pages.move_to_end(key)
            while len(self._pages) > self.size:
                self._pages.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._pages.clear()
