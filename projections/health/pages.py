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
from dataclasses import dataclass, field
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


@dataclass
class KeptPage:
    """A page scored at ``since`` (its rows' ``as_of``), right at any moment before ``until`` while the view is
    at ``position``. ``memo``: what callers derive from the rows (their dumped form), dropped with the page."""

    position: int
    since: float
    until: float
    rows: list[dict[str, Any]]
    memo: dict[str, Any] = field(default_factory=dict)


class KeptPages:
    """The newest pages asked for, each with the view position and the moment range it is right for."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._pages: OrderedDict[Key, KeptPage] = OrderedDict()
        self._lock = threading.Lock()

    def page(self, key: Key, position: int | None, now: datetime) -> KeptPage | None:
        """The page kept for ``key``, if still right at ``now`` (its rows are shared: never change them)."""
        with self._lock:
            page = self._pages.get(key)
            if page is None:
                return None
            if page.position != position or not page.since <= now.timestamp() < page.until:
                del self._pages[key]
                return None
            self._pages.move_to_end(key)
        return page

    def put(self, key: Key, position: int | None, now: datetime, ranking_until: float | None,
            rows: list[dict[str, Any]]) -> KeptPage | None:
        """Keep a page scored at ``now``; ``ranking_until`` is the smallest ``next_change`` of the ranking."""
        if ranking_until is None or position is None:
            return None
        # Rows due for re-ranking make ``until`` no later than ``now``: such a page is never answered again.
        until = min([ranking_until, *(feedback_days_change(row, now) for row in rows)])
        page = KeptPage(position, now.timestamp(), until, rows)
        with self._lock:
            self._pages[key] = page
            self._pages.move_to_end(key)
            while len(self._pages) > self.size:
                self._pages.popitem(last=False)
        return page

    def clear(self) -> None:
        with self._lock:
            self._pages.clear()
