"""Each view, given real events from the ledger, on a real SQLite file and on real PostgreSQL."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from uuid import UUID

import pytest

from domain.principal import Principal
from projections.audit import AuditFilter
from projections.health import figures as hf
from projections.health import score as hs
from projections.index import IndexFilter
from projections.queries import LedgerQueries
from projections.service import VIEW_CLASSES, Projections
from tests.projections.history import random_history
from tests.support import COORDINATOR, MENTEE, MENTOR, feedback, open_ledger, start


@pytest.fixture
def ledger(store, tmp_path):
    ledger = open_ledger(store, str(tmp_path))
    yield ledger
    ledger.close()


@pytest.fixture
def projections(ledger):
    return Projections(ledger, batch_size=40)


def dump(projections: Projections) -> dict[str, list[tuple]]:
    """Every row of every live view table, sorted: equal dumps mean equal views.

    The health ranking is left out (with what is ranked ahead of midnight): it is
    the scores as of when it was last ranked, a time-dependent cache checked by the
    worst-first tests below.
    """
    contents = {}
    for view in projections.views():
        with view.store.transaction(write=False) as cursor:
            for logical in view.TABLES:
                if logical in ("health_rank", "health_rank_ahead"):
                    continue
                cursor.execute(f"SELECT * FROM {view.table(logical)}")
                contents[logical] = sorted(cursor.fetchall(), key=repr)
    return contents


def read(view, method, *args, **kwargs):
    with view.store.transaction(write=False) as cursor:
        return getattr(view, method)(cursor, *args, **kwargs)


def test_the_index_lists_and_filters_relationships(ledger, projections):
    first = start(ledger, program_id="spring").relationship_id
    second = start(ledger, program_id="autumn", mentor_id="mentor-8").relationship_id
    ledger.pause_relationship(COORDINATOR, second)
    projections.catch_up()
    view = projections.view("relationship_index")
    everything = read(view, "page", IndexFilter(), None, 10)
    assert [r["relationship_id"] for r in everything] == [str(first), str(second)]
    assert [r["status"] for r in everything] == ["active", "paused"]
    assert [r["version"] for r in everything] == [1, 2]
    assert [r["relationship_id"] for r in read(view, "page", IndexFilter(program_id="autumn"), None, 10)] == [str(second)]
    assert [r["relationship_id"] for r in read(view, "page", IndexFilter(status="active"), None, 10)] == [str(first)]
    stored = ledger.vault.subject_of  # the views hold people as their pseudonymous subjects
    assert len(read(view, "page", IndexFilter(participant_id=stored("mentor-8")), None, 10)) == 1
    assert len(read(view, "page", IndexFilter(visible_to=stored("mentee-12")), None, 10)) == 2
    assert "mentor-8" not in str(everything)
    assert read(view, "page", IndexFilter(), (everything[0]["started_at"], str(first)), 10)[0]["relationship_id"] == str(second)


def test_growth_counts_mentions_by_kind_and_completed_actions_per_skill(ledger, projections):
    rid = start(ledger).relationship_id
    given = feedback(ledger, rid, kind="improvement", skills=["Presenting", " presenting "],
                     action_items=[{"description": "rehearse", "due_on": None}])
    feedback(ledger, rid, kind="strength", skills=["presenting", "listening"], action_items=[])
    feedback(ledger, rid, by=MENTEE, kind="strength", skills=["coaching"], action_items=[])
    ledger.complete_action(MENTEE, rid, UUID(given.body["action_items"][0]["action_id"]))
    projections.catch_up()
    skills = {s["skill"]: s for s in read(projections.view("skills_growth"), "skills_of",
                                                       ledger.vault.subject_of("mentee-12"))}
    assert set(skills) == {"Presenting", "listening"}
    assert (skills["Presenting"]["improvement_mentions"], skills["Presenting"]["strength_mentions"],
            skills["Presenting"]["actions_completed"]) == (1, 1, 1)
    assert skills["Presenting"]["first_mentioned_at"] < skills["Presenting"]["last_mentioned_at"]
    assert [s["skill"] for s in read(projections.view("skills_growth"), "skills_of",
                                     ledger.vault.subject_of("mentor-7"))] == ["coaching"]


def test_the_audit_trail_has_one_chained_entry_per_event(ledger, projections):
    rid = start(ledger).relationship_id
    feedback(ledger, rid)
    ledger.end_relationship(MENTOR, rid, reason="done")
    projections.catch_up()
    entries = read(projections.view("audit_trail"), "page", AuditFilter(), 0, 10)
    assert [e["type"] for e in entries] == ["RelationshipStarted", "FeedbackGiven", "RelationshipEnded"]
    assert entries[0]["prev_hash"] == "0" * 64
    assert [e["prev_hash"] for e in entries[1:]] == [e["hash"] for e in entries[:-1]]
    assert "mentor-7" not in entries[2]["summary"] and "done" not in entries[2]["summary"]  # as stored
    assert ledger.vault.render(entries[2]["summary"], str(rid)) == ("mentor-7 ended the relationship: done", False)
    assert {e["program_id"] for e in entries} == {"spring-2026"}


def test_health_in_the_view_equals_the_fold_over_events(ledger, projections):
    rids = random_history(ledger, seed=7)
    projections.catch_up()
    view = projections.view("relationship_health")
    stored = read(view, "figures", [str(r) for r in rids])
    for rid in rids:
        folded = hf.fold(list(ledger.events.get(rid)))
        now = datetime(2026, 3, 1, tzinfo=timezone.utc)
        assert _comparable(hs.assess(stored[str(rid)], now)) == _comparable(hs.assess(folded, now))


def test_one_relationships_figures_and_the_position_read_together_equal_the_page_reads(ledger, projections):
    """A relationship's health reads its figures and the view's position at once (one statement on both
    stores, exact hours on SQLite too): the same figures as the many-relationship read, acknowledgement hours and open due dates
    included; an unknown id has none, and the position still."""
    rids = random_history(ledger, seed=11)
    projections.catch_up()
    view = projections.view("relationship_health")
    many = read(view, "figures", [str(r) for r in rids])
    position = read(view, "position")
    assert position == ledger.position()
    assert any(f.acknowledgement_hours for f in many.values()) and any(f.open_due_dates for f in many.values())
    for rid in rids:
        with view.store.statement() as cursor:  # one statement: no transaction needed around it
            figures, at = view.figures_of(cursor, str(rid))
        assert at == position
        assert sorted(figures.acknowledgement_hours) == sorted(many[str(rid)].acknowledgement_hours)
        assert all(type(hours) is float for hours in figures.acknowledgement_hours)
        assert sorted(figures.open_due_dates, key=repr) == sorted(many[str(rid)].open_due_dates, key=repr)
        ordered = {"acknowledgement_hours": (), "open_due_dates": ()}
        assert replace(figures, **ordered) == replace(many[str(rid)], **ordered)
    with view.store.statement() as cursor:
        assert view.figures_of(cursor, "00000000-0000-0000-0000-000000000000") == (None, position)


def _comparable(assessed: dict) -> dict:
    """Concerns are aggregates of their own, not events of the relationship a fold replays."""
    return {k: v for k, v in assessed.items() if k not in ("as_of_position", "last_feedback_at", "open_concerns")}


@pytest.mark.parametrize("days_later", [0, 10, 40, 90])
def test_ordering_in_sql_agrees_with_the_python_formula(ledger, projections, days_later):
    rids = random_history(ledger, seed=11, relationships=10, commands=200)
    projections.catch_up()
    view = projections.view("relationship_health")
    now = datetime(2026, 1, 6, tzinfo=timezone.utc) + timedelta(days=days_later)
    with view.store.transaction(write=False) as cursor:
        ranked = view.worst_first(cursor, now, program_id=None, status=None, after=None, limit=100)
        figures = view.figures(cursor, [str(r) for r in rids])
    python = {rid: (hs.assess(f, now)["score"], hs.assess(f, now)["status"]) for rid, f in figures.items()}
    assert {rid: (score, status) for rid, score, status in ranked} == python
    assert [score for _, score, _ in ranked] == sorted(score for score, _ in python.values())


def test_health_pages_filter_by_status_and_program(ledger, projections):
    random_history(ledger, seed=3, relationships=8, commands=120)
    projections.catch_up()
    view = projections.view("relationship_health")
    now = datetime(2026, 2, 1, tzinfo=timezone.utc)
    with view.store.transaction(write=False) as cursor:
        everything = view.worst_first(cursor, now, program_id=None, status=None, after=None, limit=100)
        first = view.worst_first(cursor, now, program_id=None, status=None, after=None, limit=3)
        rest = view.worst_first(cursor, now, program_id=None, status=None, after=(first[-1][1], first[-1][0]), limit=100)
        status = everything[0][2]
        filtered = view.worst_first(cursor, now, program_id=None, status=status, after=None, limit=100)
        spring = view.worst_first(cursor, now, program_id="spring", status=None, after=None, limit=100)
    assert first + rest == everything
    assert filtered == [row for row in everything if row[2] == status]
    assert spring == [row for row in everything if row[0] in _programs(projections, "spring")]


def test_a_rebuild_from_zero_equals_the_live_views(ledger, projections):
    random_history(ledger, seed=21, relationships=8, commands=250)
    projections.catch_up()
    live = dump(projections)
    for name in VIEW_CLASSES:
        assert projections.rebuild(name) == 2
    assert dump(projections) == live
    assert projections.positions() == {name: ledger.position() for name in VIEW_CLASSES}


def test_views_rebuilt_together_read_the_store_once_and_equal_the_live_views(ledger, projections, monkeypatch):
    """``rebuild_together``: every view in a fresh generation from one reading of the store, each switched."""
    import projections.service as service

    random_history(ledger, seed=22, relationships=8, commands=250)
    projections.catch_up()
    live = dump(projections)
    batches = []
    original = service.read_batch
    monkeypatch.setattr(service, "read_batch", lambda *args: batches.append(args[1]) or original(*args))
    projections.batch_size = 50
    generations = projections.rebuild_together(list(VIEW_CLASSES))
    assert generations == {name: 2 for name in VIEW_CLASSES}
    assert dump(projections) == live
    assert projections.positions() == {name: ledger.position() for name in VIEW_CLASSES}
    # One pass over the store for the four views (a batch read once from each start), not one pass each.
    assert len(batches) == len(set(batches)) and len(batches) <= ledger.position() // 50 + 3
    assert {name: projections.view(name).generation for name in VIEW_CLASSES} == generations


def test_one_event_at_a_time_and_one_large_batch_give_the_same_views(ledger):
    """Views gather a batch's changes before writing them: the batch size must not show."""
    random_history(ledger, seed=5, relationships=5, commands=300)
    one_by_one = Projections(ledger, batch_size=1)
    one_by_one.catch_up()
    expected = dump(one_by_one)
    at_once = Projections(ledger, batch_size=1000)
    for name in VIEW_CLASSES:
        at_once.rebuild(name)
    assert dump(at_once) == expected


def test_queries_keep_working_on_the_old_generation_until_the_switch(ledger, projections):
    random_history(ledger, seed=5, relationships=3, commands=60)
    projections.catch_up()
    seen = []

    def progress(name, position, head):
        seen.append(len(read(projections.view("audit_trail"), "page", AuditFilter(), 0, 1000)))

    projections.rebuild("audit_trail", progress)
    assert seen and all(count == seen[0] for count in seen)
    assert projections.view("audit_trail").generation == 2


def test_a_batch_that_fails_half_way_leaves_no_trace(ledger, projections, monkeypatch):
    random_history(ledger, seed=9, relationships=4, commands=120)
    view = projections.view("relationship_health")
    original = type(view).apply
    calls = []

    def crash_in_the_second_batch(self, cursor, items):
        calls.append(1)
        original(self, cursor, items[: len(items) // 2])
        if len(calls) == 2:
            raise RuntimeError("worker killed")
        original(self, cursor, items[len(items) // 2:])

    monkeypatch.setattr(type(view), "apply", crash_in_the_second_batch)
    with pytest.raises(RuntimeError):
        projections.catch_up()
    monkeypatch.setattr(type(view), "apply", original)
    projections.catch_up()
    live = dump(projections)
    projections.rebuild("relationship_health")
    assert dump(projections) == live


def test_concurrent_catch_ups_count_every_event_once(ledger, projections):
    random_history(ledger, seed=13, relationships=6, commands=200)
    others = [Projections(ledger, batch_size=7) for _ in range(3)]
    threads = [threading.Thread(target=p.catch_up) for p in [projections, *others]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    live = dump(projections)
    for name in VIEW_CLASSES:
        projections.rebuild(name)
    assert dump(projections) == live


def test_ignored_events_are_tracked_too(ledger, projections):
    from domain.principal import CommandContext

    start(ledger, context=CommandContext(key="k", fingerprint="f"))
    projections.catch_up()
    assert ledger.position() == 2
    assert set(projections.positions().values()) == {2}


def _programs(projections: Projections, program_id: str) -> set[str]:
    rows = read(projections.view("relationship_index"), "page", IndexFilter(program_id=program_id), None, 1000)
    return {row["relationship_id"] for row in rows}


def _everything_scored(view, now, **filters):
    """The page as if no ranking were kept: every relationship scored at ``now``."""
    from projections.health import rank as hr
    from projections.health import sql as hsql

    with view.store.transaction(write=False) as cursor:
        sql = hsql.scored_sql(view.store.dialect, view.tables, now, program_id=filters.get("program_id"))
        return hr._scored_page(cursor, sql, filters.get("status"), filters.get("after"), filters.get("limit", 500))


def _assert_pages_agree(view, now):
    every = _everything_scored(view, now)
    assert every, "a history to rank"
    statuses = sorted({status for _, _, status in every})
    for program_id in (None, "spring"):
        for status in (None, *statuses):
            expected = _everything_scored(view, now, program_id=program_id, status=status)
            pages, after = [], None
            while True:
                page = read(view, "worst_first", now, program_id=program_id, status=status, after=after, limit=4)
                pages += page
                if len(page) < 4:
                    break
                after = (page[-1][1], page[-1][0])
            assert pages == expected, (now, program_id, status)


def test_worst_first_from_the_ranking_equals_scoring_every_relationship(ledger, projections):
    random_history(ledger, seed=13, relationships=12, commands=250)
    projections.catch_up()
    view = projections.view("relationship_health")
    ranked_at = ledger.clock.now
    with view.store.transaction(write=False) as cursor:
        assert not view.has_stale_ranks(cursor, ranked_at)  # the catch-up ranked everything
    # Large steps, then five-hour steps through weeks where scores fall a point every day or two
    # (cadence past its grace period, actions falling due) and statuses turn dormant.
    steps = [timedelta(minutes=5), timedelta(hours=5), timedelta(hours=30), timedelta(days=13)]
    steps += [timedelta(days=14, hours=5 * k) for k in range(1, 30)]
    steps += [timedelta(days=59, hours=5 * k) for k in range(1, 12)] + [timedelta(days=90)]
    for later in steps:
        now = ranked_at + later
        _assert_pages_agree(view, now)  # some rows gone stale with time
        ledger.clock.now = now - timedelta(minutes=1)
        projections.catch_up()  # ranks again at ``now``
        with view.store.transaction(write=False) as cursor:
            assert not view.has_stale_ranks(cursor, now)
        _assert_pages_agree(view, now)


def test_an_event_makes_its_relationships_ranking_stale(ledger, projections, monkeypatch):
    rids = random_history(ledger, seed=17, relationships=6, commands=80)
    projections.catch_up()
    view = projections.view("relationship_health")
    monkeypatch.setattr(Projections, "_rerank", lambda self, views, stale=False: None)
    changed = 0
    for rid in rids:
        state = ledger.get_relationship(COORDINATOR, rid)
        if state["status"] == "active":
            mentee = Principal(state["mentee_id"], "participant")
            feedback(ledger, rid, by=mentee, content="one more", action_items=[])
            changed += 1
    assert changed
    projections.catch_up()
    now = ledger.clock.now
    _assert_pages_agree(view, now)


def test_a_clock_behind_the_ranking_scores_every_relationship(ledger, projections):
    random_history(ledger, seed=19, relationships=6, commands=80)
    projections.catch_up()
    view = projections.view("relationship_health")
    _assert_pages_agree(view, ledger.clock.now - timedelta(hours=2))


def test_health_tables_made_before_the_ranking_are_given_one(ledger, projections):
    random_history(ledger, seed=23, relationships=6, commands=60)
    projections.catch_up()
    view = projections.view("relationship_health")
    with view.store.transaction(write=True) as cursor:
        cursor.execute(f"DELETE FROM {view.table('health_rank')}")
        view.create_tables(cursor)
        cursor.execute(f"SELECT COUNT(*) FROM {view.table('health_rank')}")
        assert cursor.fetchone()[0] == 6
    _assert_pages_agree(view, ledger.clock.now)


def test_a_rebuilt_view_has_every_index(ledger, projections):
    random_history(ledger, seed=29, relationships=3, commands=30)
    projections.catch_up()
    for name in VIEW_CLASSES:
        projections.rebuild(name)
        view = projections.view(name)
        with view.store.transaction(write=False) as cursor:
            if view.store.postgres:
                cursor.execute("SELECT indexname FROM pg_indexes")
            else:
                cursor.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
            present = {row[0] for row in cursor.fetchall()}
        assert {f"{index}_g{view.generation}" for index, _, _ in view.INDEXES} <= present, name


@pytest.mark.parametrize("rows", [3, 250])  # a multi-row INSERT, and on PostgreSQL a COPY
def test_many_rows_arrive_exactly_as_written(projections, rows):
    tricky = ["tab\there", "new\nline", "back\\slash", "\\.", "\\N", "carriage\rreturn", "ünï ✓ 𝄞", "", "'quoted'"]
    written = [(n, tricky[n % len(tricky)] + str(n), None if n % 4 == 0 else n * 0.5, 2**62 - n)
               for n in range(rows)]
    table = projections.store.table("rows_check")
    with projections.store.transaction(write=True) as cursor:
        cursor.execute(f"CREATE TABLE {table} (n INTEGER PRIMARY KEY, text_value TEXT NOT NULL, "
                       f"real_value {projections.store.dialect.double}, big BIGINT NOT NULL)")
        cursor.executemany(f"INSERT INTO {table} (n, text_value, real_value, big) VALUES (?, ?, ?, ?)", written)
        cursor.execute(f"SELECT n, text_value, real_value, big FROM {table} ORDER BY n")
        read_back = [tuple(row) for row in cursor.fetchall()]
        cursor.execute(f"DROP TABLE {table}")
    assert read_back == written


def test_ranking_goes_a_chunk_at_a_time(ledger, projections, monkeypatch):
    from projections.health import rank as hr

    random_history(ledger, seed=31, relationships=7, commands=60)
    projections.catch_up()
    view = projections.view("relationship_health")
    monkeypatch.setattr(hr, "RERANK_CHUNK", 3)
    now = ledger.clock.now + timedelta(days=20)
    with view.store.transaction(write=True) as cursor:
        assert view.rerank(cursor, now) == 7  # 3 + 3 + 1
        assert not view.has_stale_ranks(cursor, now)
    _assert_pages_agree(view, now)


def test_midnight_makes_stale_only_relationships_with_an_action_falling_due(ledger, projections):
    """No rush at midnight: a ranking changes then only where an open action falls overdue (no slow hour)."""
    from datetime import date, datetime

    day = date(2026, 3, 10)
    ledger.clock.now = datetime(2026, 3, 10, 22, 0, tzinfo=timezone.utc)
    quiet = start(ledger).relationship_id
    feedback(ledger, quiet, action_items=[{"description": "someday", "due_on": None}])
    later = start(ledger, mentor_id="mentor-2", mentee_id="mentee-2").relationship_id
    feedback(ledger, later, by=Principal("mentor-2", "participant"),
             action_items=[{"description": "next week", "due_on": date(2026, 3, 17)}])
    due = start(ledger, mentor_id="mentor-3", mentee_id="mentee-3").relationship_id
    feedback(ledger, due, by=Principal("mentor-3", "participant"),
             action_items=[{"description": "tonight", "due_on": day}])
    projections.catch_up()
    view = projections.view("relationship_health")
    just_after_midnight = datetime(2026, 3, 11, 0, 0, 1, tzinfo=timezone.utc)
    with view.store.transaction(write=False) as cursor:
        cursor.execute(f"SELECT relationship_id FROM {view.table('health_rank')} WHERE next_change <= ?",
                       (just_after_midnight.timestamp(),))
        assert [row[0] for row in cursor.fetchall()] == [str(due)]
    _assert_pages_agree(view, just_after_midnight)
    week_later = datetime(2026, 3, 18, 0, 0, 1, tzinfo=timezone.utc)
    _assert_pages_agree(view, week_later)


def test_what_midnight_makes_stale_is_ranked_ahead_and_read_from_an_index_just_after(ledger, projections):
    """No slow first minutes of the day: in the last minutes before midnight, the rows that midnight makes stale
    are ranked for midnight; just after it, worst-first pages read them in score order instead of scoring them,
    and still equal scoring every relationship; an event after the ranking ahead makes its row scored again."""
    from datetime import date

    from projections.health.sql import scored_sql

    day = date(2026, 3, 10)
    ledger.clock.now = datetime(2026, 3, 10, 21, 0, tzinfo=timezone.utc)
    due = []
    for k in range(6):  # actions falling overdue at midnight, some done, feedback both ways: different scores
        who = Principal(f"mentor-{k}", "participant")
        rid = start(ledger, program_id="spring" if k % 2 else "autumn", mentor_id=f"mentor-{k}",
                    mentee_id=f"mentee-{k}").relationship_id
        for _ in range(k % 3 + 1):
            feedback(ledger, rid, by=who, action_items=[{"description": "tonight", "due_on": day}])
        if k % 2:
            feedback(ledger, rid, by=Principal(f"mentee-{k}", "participant"), action_items=[])
        due.append(str(rid))
    calm = start(ledger, program_id="spring", mentor_id="mentor-9", mentee_id="mentee-9").relationship_id
    feedback(ledger, calm, by=Principal("mentor-9", "participant"),
             action_items=[{"description": "next week", "due_on": date(2026, 3, 17)}])
    projections.catch_up()
    view = projections.view("relationship_health")

    def ahead() -> list[str]:
        """Relationships ranked ahead (not the marks of changes since)."""
        with view.store.transaction(write=False) as cursor:
            cursor.execute(f"SELECT relationship_id FROM {view.table('health_rank_ahead')} WHERE until > 0 "
                           "ORDER BY relationship_id")
            return [row[0] for row in cursor.fetchall()]

    assert ahead() == []  # hours before midnight: nothing yet
    ledger.clock.now = datetime(2026, 3, 10, 23, 50, tzinfo=timezone.utc)  # (the clock steps a minute a read)
    projections.catch_up()  # a worker's idle round (or an embedded read) in the last minutes
    assert ahead() == sorted(due)
    feedback(ledger, UUID(due[0]), by=Principal("mentor-0", "participant"), action_items=[])  # 23:52: changed
    projections.catch_up()
    assert ahead() == sorted(due[1:])
    # Started after the ranking ahead, with an action falling due tonight, and ranked before midnight: no row
    # ranked ahead, only the mark of its start, by which it is found stale just after midnight.
    late = start(ledger, program_id="spring", mentor_id="mentor-8", mentee_id="mentee-8").relationship_id
    feedback(ledger, late, by=Principal("mentor-8", "participant"),
             action_items=[{"description": "tonight too", "due_on": day}])
    projections.catch_up()
    with view.store.transaction(write=False) as cursor:
        cursor.execute(f"SELECT next_change FROM {view.table('health_rank')} WHERE relationship_id = ?", (str(late),))
        assert cursor.fetchone()[0] == datetime(2026, 3, 11, tzinfo=timezone.utc).timestamp()
    just_after = datetime(2026, 3, 11, 0, 0, 1, tzinfo=timezone.utc)
    with view.store.transaction(write=False) as cursor:
        sql, params = scored_sql(view.store.dialect, view.tables, just_after, stale=True,
                                 ahead_from=datetime(2026, 3, 11, tzinfo=timezone.utc).timestamp())
        cursor.execute(f"SELECT relationship_id FROM ({sql}) s", params)
        assert sorted(row[0] for row in cursor.fetchall()) == sorted([due[0], str(late)])  # all a page scores
    _assert_pages_agree(view, just_after)
    ledger.clock.now = just_after
    projections.catch_up()  # the first round after midnight takes what was ranked ahead
    with view.store.transaction(write=False) as cursor:
        assert not view.has_stale_ranks(cursor, just_after)
    assert ahead() == []
    _assert_pages_agree(view, just_after)
    _assert_pages_agree(view, datetime(2026, 3, 12, 0, 0, 1, tzinfo=timezone.utc))


@pytest.mark.postgres
def test_a_scored_health_page_reads_from_one_snapshot_on_postgresql(postgres_store, tmp_path):
    """On PostgreSQL a page's several queries (ranking sources, figures, position) share one snapshot: a batch
    committed meanwhile is not half seen (a row twice, or not at all). SQLite's read transactions already do."""
    ledger = open_ledger(postgres_store, str(tmp_path))
    try:
        projections = Projections(ledger)
        start(ledger)
        projections.catch_up()
        view = projections.view("relationship_health")

        def count(cursor) -> int:
            cursor.execute(f"SELECT COUNT(*) FROM {view.table('health_rank')}")
            return cursor.fetchone()[0]

        with view.store.transaction(write=False, snapshot=True) as cursor:
            before = count(cursor)
            start(ledger, mentor_id="mentor-2", mentee_id="mentee-2")
            projections.catch_up()  # committed by another connection while the page is being read
            assert count(cursor) == before
        with view.store.transaction(write=False) as cursor:
            assert count(cursor) == before + 1
    finally:
        ledger.close()


@pytest.mark.postgres
def test_the_reads_every_request_makes_are_planned_once_per_connection_on_postgresql(postgres_store, tmp_path):
    """A relationship's health and a page of the index are statements prepared once per connection (planning the
    health read cost twice its run); after a rebuild they read the new generation's tables, with the same
    answers."""
    ledger = open_ledger(postgres_store, str(tmp_path))
    try:
        projections = Projections(ledger)
        rid = str(start(ledger).relationship_id)
        feedback(ledger, UUID(rid))
        projections.catch_up()
        health, index = projections.view("relationship_health"), projections.view("relationship_index")

        def reads() -> tuple:
            with health.store.statement() as cursor:
                figures, _ = health.figures_of(cursor, rid)
                rows = index.page(cursor, IndexFilter(visible_to=ledger.vault.subject_of(MENTOR.id)), None, 10)
                cursor.execute("SELECT statement FROM pg_prepared_statements")
                prepared = [row[0] for row in cursor.fetchall()]
            return figures, rows, prepared

        first = reads()
        for _ in range(3):
            again = reads()
        assert first[0] is not None and first[0].relationship_id == rid
        assert again[:2] == first[:2] and [row["relationship_id"] for row in first[1]] == [rid]
        on_this_connection = again[2]
        assert sum(health.table("health_feedback") in s for s in on_this_connection) == 1
        assert sum(index.table("relationships") in s for s in on_this_connection) == 1

        projections.rebuild("relationship_health")
        projections.rebuild("relationship_index")
        health, index = projections.view("relationship_health"), projections.view("relationship_index")
        rebuilt = reads()
        assert rebuilt[:2] == first[:2]
        assert any(health.table("health_feedback") in s for s in rebuilt[2])
    finally:
        ledger.close()


@pytest.mark.postgres
def test_a_relationships_health_read_along_with_the_token_is_the_same_figures_on_postgresql(postgres_store, tmp_path):
    """``figures_along`` reads ``figures_of``'s figures as one JSON value of the token's statement: the same
    figures, value for value and type for type (a double holding a whole number comes back a float), None
    for a relationship without a row; ``read_along`` hands them over only for the generation the statement
    found live, and never once the views may have moved for the request."""
    ledger = open_ledger(postgres_store, str(tmp_path))
    try:
        made = random_history(ledger, seed=4, relationships=6, commands=80)
        projections = Projections(ledger)
        projections.catch_up()
        reader = LedgerQueries(ledger, projections)
        view = projections.view("relationship_health")
        rids = [str(rid) for rid in made] + [str(UUID(int=7))]

        def ridden(rid: str):
            ride = projections.ride_along("relationship_health", rid, lambda v: v.figures_along(rid))
            with view.store.statement() as cursor:
                cursor.raw.execute(f"SELECT {projections.live_sql}, {ride.sql}", ride.params)
                live, answer = cursor.raw.fetchone()
            return ride, live, answer

        assert projections.ride_along("relationship_health", rids[0], lambda v: v.figures_along(rids[0])) is None
        with view.store.statement() as cursor:
            cursor.execute(f"SELECT {projections.live_sql}")
            projections.note_live(cursor.fetchone()[0])
        for rid in rids:
            ride, live, answer = ridden(rid)
            with view.store.statement() as cursor:
                alone, _ = view.figures_of(cursor, rid)
            assert repr(view.figures_from(answer)) == repr(alone)
            projections.note_live(live)
            projections.note_along(ride, answer)
            assert projections.read_along(view, rid) == (answer,)
            assert projections.read_along(view, rids[-1] if rid != rids[-1] else rids[0]) is None  # another one's
            if alone is not None:  # answered from what rode along: the view is not read again
                view.figures_of = lambda *_: pytest.fail("read again")
                assert reader.health(COORDINATOR, UUID(rid))["relationship_id"] == rid
                del view.figures_of
        assert sum(1 for rid in rids if view.figures_from(ridden(rid)[2]) is None) == 1

        ride, live, answer = ridden(rids[0])
        projections.note_live(live.replace("relationship_health=1:", "relationship_health=2:"))
        projections.note_along(ride, answer)
        assert projections.read_along(view, rids[0]) is None  # another generation is live than the one it read
        projections.note_live(live)
        projections.note_along(ride, answer)
        projections.forget_noted_positions()  # caught up or waited: the views may have moved
        assert projections.read_along(view, rids[0]) is None
        projections.note_live(None)
        assert projections.read_along(view, rids[0]) is None
    finally:
        ledger.close()

