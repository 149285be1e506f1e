"""Worst-first pages kept in memory answer exactly what scoring at the moment asked would answer."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from projections.queries import LedgerQueries
from projections.service import VIEW_CLASSES, Projections
from tests.projections.history import random_history
from domain.errors import LedgerError
from domain.principal import Principal
from tests.support import AUDITOR, MENTEE, feedback, open_ledger, start


class SetClock:
    """A clock that reads what the test sets (and steps a second on each read, as time does)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def clock():
    return SetClock(datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc))


@pytest.fixture
def ledger(store, tmp_path, clock):
    ledger = open_ledger(store, str(tmp_path), clock=clock)
    yield ledger
    ledger.close()


class Counting:
    """Counts the pages answered from memory."""

    def __init__(self, pages) -> None:
        self.pages, self.hits = pages, 0
        self._get = pages.page

    def __call__(self, *args, **kwargs):
        kept = self._get(*args, **kwargs)
        self.hits += kept is not None
        return kept


def give_feedback(ledger, rids: list, first: int) -> str:
    """Feedback from the mentee of the first relationship (from ``first`` on) that still takes it; its id."""
    for offset in range(len(rids)):
        index = (first + offset) % len(rids)
        try:
            feedback(ledger, rids[index], by=Principal(f"mentee-{index}", "participant"))
        except LedgerError:
            continue
        return str(rids[index])
    raise AssertionError("no relationship takes feedback")


def exactly_now(reader: LedgerQueries, moment: datetime, **selection) -> list[dict]:
    """The page scored at ``moment`` without what is kept (a cursor's moment is never kept)."""
    return reader.health_page(AUDITOR, after=None, now=moment, **selection)[0]


def test_kept_pages_equal_pages_scored_at_every_moment(ledger, clock):
    rids = random_history(ledger, seed=7, relationships=12, commands=220)
    projections = Projections(ledger, batch_size=50)
    projections.catch_up()
    reader = LedgerQueries(ledger, projections)
    counting = Counting(reader.health_pages)
    reader.health_pages.page = counting
    start = clock.now
    for step in range(150):  # every 47 minutes for almost five days: day boundaries, due dates, new events
        clock.now = start + timedelta(minutes=47 * step)
        if step % 40 == 39:
            give_feedback(ledger, rids, step)
            projections.catch_up()
        elif step % 25 == 24:
            projections.catch_up()  # re-ranks what fell due
        for selection in ({"program_id": None, "status": None, "limit": 5},
                          {"program_id": "spring", "status": None, "limit": 50}):
            kept, moment = reader.health_page(AUDITOR, after=None, **selection)
            assert kept == exactly_now(reader, moment, **selection)
    assert counting.hits > 100  # most of these were answered from memory


def test_a_new_event_is_seen_at_once(ledger, clock):
    rids = random_history(ledger, seed=3, relationships=4, commands=40)
    projections = Projections(ledger)
    projections.catch_up()
    reader = LedgerQueries(ledger, projections)
    before, _ = reader.health_page(AUDITOR, program_id=None, status=None, after=None, limit=10)
    assert reader.health_page(AUDITOR, program_id=None, status=None, after=None, limit=10)[0][0]["as_of"] > \
        before[0]["as_of"]  # answered again at the moment asked
    target = give_feedback(ledger, rids, 0)
    before_row = next(row for row in before if row["relationship_id"] == target)
    projections.catch_up()
    after, moment = reader.health_page(AUDITOR, program_id=None, status=None, after=None, limit=10)
    assert after == exactly_now(reader, moment, program_id=None, status=None, limit=10)
    changed = next(row for row in after if row["relationship_id"] == target)
    assert changed["feedback_given"]["by_mentee"] == before_row["feedback_given"]["by_mentee"] + 1


def test_pages_at_a_cursors_moment_are_never_kept(ledger, clock):
    random_history(ledger, seed=5, relationships=6, commands=60)
    projections = Projections(ledger)
    projections.catch_up()
    reader = LedgerQueries(ledger, projections)
    reader.health_page(AUDITOR, program_id=None, status=None, after=None, limit=3, now=clock.now)
    assert not reader.health_pages._pages  # noqa: SLF001


def test_a_day_count_moves_even_when_the_ranking_does_not(ledger, clock):
    """Days since the last feedback move at the hour it was given; with a check-in held since, the ranking
    changes only at midnight (days since the check-in's day) and at the hour of the start (age)."""
    clock.now = datetime(2026, 3, 1, 7, 0, tzinfo=timezone.utc)
    rid = start(ledger).relationship_id
    clock.now = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
    feedback(ledger, rid, action_items=[])
    clock.now = datetime(2026, 3, 4, 15, 0, tzinfo=timezone.utc)
    ledger.hold_check_in(MENTEE, rid, held_on=date(2026, 3, 4), minutes=30)
    projections = Projections(ledger)
    projections.catch_up()
    reader = LedgerQueries(ledger, projections)
    clock.now = datetime(2026, 3, 5, 8, 30, tzinfo=timezone.utc)
    projections.catch_up()  # re-ranks: the ranking is next due at midnight (the check-in's day) or 7:00 (age)
    early, _ = reader.health_page(AUDITOR, program_id=None, status=None, after=None, limit=5)
    clock.now = datetime(2026, 3, 5, 9, 30, tzinfo=timezone.utc)  # three whole days since the feedback now
    later, moment = reader.health_page(AUDITOR, program_id=None, status=None, after=None, limit=5)
    assert (early[0]["days_since_last_feedback"], later[0]["days_since_last_feedback"]) == (2, 3)
    assert later == exactly_now(reader, moment, program_id=None, status=None, limit=5)


def test_a_kept_page_is_answered_at_the_views_position_read_with_the_token(ledger, clock):
    """A request reads the views' live generations and positions with its token (``live_sql``, one round trip):
    a kept first page is then answered without asking the store where the view is, the same page as asked
    afterwards; once the request has caught up or waited (``forget_noted_positions``) the store is asked."""
    random_history(ledger, seed=9, relationships=5, commands=50)
    projections = Projections(ledger)
    projections.catch_up()
    reader = LedgerQueries(ledger, projections)
    view = projections.view("relationship_health")
    with view.store.statement() as cursor:
        cursor.execute(f"SELECT {projections.live_sql}")
        answer = cursor.fetchone()[0]
        at = view.position(cursor)
    asked = []
    view.position = lambda cursor: asked.append(1) or type(view).position(view, cursor)

    def first_page() -> list[dict]:
        """The kept page as answered, checked against the page scored at its moment."""
        rows, moment = reader.health_page(AUDITOR, program_id=None, status=None, after=None, limit=5)
        assert rows == exactly_now(reader, moment, program_id=None, status=None, limit=5)
        return rows

    try:
        projections.note_live(answer)
        assert projections.position_of(view) == at == ledger.position()
        assert set(projections._request.positions) == {(name, 1) for name in VIEW_CLASSES}  # noqa: SLF001
        first_page()  # scored (in one snapshot with the view's position) and kept
        asked.clear()
        first_page()
        assert asked == [1]  # by exactly_now, which scores at a moment (never kept)
        asked.clear()
        projections.forget_noted_positions()
        first_page()
        assert asked == [1, 1]
        projections.note_live(answer)
        projections.catch_up_for_read()  # embedded mode: the views may have moved since the token was read
        assert projections._request.positions is None  # noqa: SLF001
        projections.note_live(answer.replace(f"relationship_health=1:{at}", "relationship_health=1:-1"))
        assert projections.position_of(view) is None  # not yet tracked
        projections.note_live(answer.replace("relationship_health=1:", "relationship_health=2:"))
        assert projections.position_of(view) == at  # another generation than the one read: asked
    finally:
        projections.note_live(None)
