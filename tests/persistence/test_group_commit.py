"""Group commit (persistence.group_commit): the commands of greenlets that reach the store together are recorded
in one transaction, each with its own positions; a conflict fails only the command that lost; any other
failure is every command's, and none is written twice. Installed on SQLite only, it works on both stores."""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timezone

import gevent
import gevent.event
import pytest
from eventsourcing.persistence import IntegrityError, OperationalError
from psycopg2 import extensions

from domain.events import Act
from domain.ledger import MentorshipLedger
from domain.relationship import MentorshipRelationship
from persistence.config import store_env
from persistence.green import make_psycopg2_green
from persistence.group_commit import MAX_EVENTS, GroupCommit, group_commits

AT = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
COORDINATOR = Act("ada", "coordinator", AT)


@pytest.fixture
def ledger(store, tmp_path):
    ledger = MentorshipLedger(env={**store_env(store.database_url, str(tmp_path)), **store.extra_env,
                                   "INSTANCE_PATH": str(tmp_path)})
    yield ledger
    ledger.close()


@pytest.fixture
def green():
    """psycopg2 waiting through gevent, as in the production server's workers (SQLite is not affected)."""
    make_psycopg2_green()
    yield
    extensions.set_wait_callback(None)


def started(n: int, feedback: int = 0) -> MentorshipRelationship:
    rel = MentorshipRelationship.start(relationship_id=uuid.uuid4(), program_id="p", mentor_id=f"mentor-{n}",
                                       mentee_id=f"mentee-{n}", goals=["grow"], by=COORDINATOR)
    for _ in range(feedback):
        rel.give_feedback(feedback_id=uuid.uuid4(), content="Clear and specific.", kind="general",
                          skills=["listening"], action_items=[], by=Act(f"mentor-{n}", "mentor", AT))
    return rel


def stored(ledger: MentorshipLedger, aggregate: MentorshipRelationship) -> list:
    """The aggregate's pending events as the store keeps them (mapped before the greenlets start)."""
    return [ledger.mapper.to_stored_event(event) for event in aggregate.collect_events()]


def together(write, batches: list) -> list:
    """``write`` each batch from a greenlet of its own, all at once; each one's answer, or its error."""

    def one(batch):
        try:
            return write(batch)
        except Exception as error:  # noqa: BLE001 - the test looks at it
            return error

    greenlets = [gevent.spawn(one, batch) for batch in batches]
    gevent.joinall(greenlets, timeout=60, raise_error=True)
    assert all(greenlet.ready() for greenlet in greenlets)
    return [greenlet.value for greenlet in greenlets]


def stored_positions(ledger: MentorshipLedger) -> dict[tuple[uuid.UUID, int], int]:
    return {(n.originator_id, n.originator_version): n.id
            for n in ledger.recorder.select_notifications(start=1, limit=10_000)}


def test_commands_written_together_share_one_transaction_and_keep_their_own_positions(ledger, green):
    grouped = group_commits(ledger.recorder)
    aggregates = [started(n, feedback=n % 3) for n in range(12)]
    answers = together(ledger.recorder.insert_events, [stored(ledger, a) for a in aggregates])
    assert (grouped.commands, grouped.transactions) == (12, 1)  # twelve commands, one commit
    positions = stored_positions(ledger)
    assert sorted(positions.values()) == list(range(1, sum(n % 3 + 1 for n in range(12)) + 1))
    for aggregate, ids in zip(aggregates, answers, strict=True):
        # Each command is told the positions its own events got, in its order, without a gap between them.
        assert list(ids) == [positions[aggregate.id, v] for v in range(1, aggregate.version + 1)]
        assert list(ids) == list(range(ids[0], ids[0] + aggregate.version))
        assert ledger.repository.get(aggregate.id).version == aggregate.version


def test_commands_saved_from_greenlets_through_the_ledger_are_all_recorded(ledger, green):
    group_commits(ledger.recorder)
    aggregates = [started(n, feedback=1) for n in range(6)]
    answers = together(ledger.save, aggregates)
    positions = stored_positions(ledger)
    assert len(positions) == 12
    for aggregate, recordings in zip(aggregates, answers, strict=True):
        assert [(r.notification.originator_id, r.notification.originator_version, r.notification.id)
                for r in recordings] == [(aggregate.id, v, positions[aggregate.id, v]) for v in (1, 2)]
        assert ledger.repository.get(aggregate.id).version == 2


def test_a_conflict_in_a_group_fails_only_the_command_that_lost(ledger, green):
    grouped = group_commits(ledger.recorder)
    rel = started(1)
    ledger.save(rel)
    first, second = ledger.repository.get(rel.id), ledger.repository.get(rel.id)
    first.pause(reason="a break", by=COORDINATOR)  # two copies of version 1 each decide version 2
    second.end(reason="moving on", by=COORDINATOR)
    bystanders = [started(n) for n in range(2, 5)]
    answers = together(ledger.recorder.insert_events, [stored(ledger, a) for a in
                                                       (bystanders[0], first, bystanders[1], second, bystanders[2])])
    assert isinstance(answers[3], IntegrityError)  # the later copy lost
    assert all(not isinstance(answer, Exception) for i, answer in enumerate(answers) if i != 3)
    assert ledger.repository.get(rel.id).status == "paused"
    assert all(ledger.repository.get(b.id).version == 1 for b in bystanders)
    # The first save alone; then one batch refused whole, and each of its five again alone.
    assert (grouped.commands, grouped.transactions) == (6, 1 + 1 + 5)
    assert sorted(stored_positions(ledger).values()) == list(range(1, 6))  # nothing twice, no gap


def test_a_failure_that_is_not_a_conflict_is_every_commands_and_nothing_is_written_twice(ledger, green):
    grouped = group_commits(ledger.recorder)
    insert, tries = grouped.insert, []

    def unreachable_once(stored_events, **kwargs):
        tries.append(len(stored_events))
        if len(tries) == 1:
            raise OperationalError("the store is unreachable")
        return insert(stored_events, **kwargs)

    grouped.insert = unreachable_once
    answers = together(grouped, [stored(ledger, started(n)) for n in range(4)])
    assert all(isinstance(answer, OperationalError) for answer in answers)
    assert len({id(answer) for answer in answers}) == 4  # each command raises its own error
    assert all(answer.__cause__ is answers[0].__cause__ is not None for answer in answers)
    assert tries == [4]  # tried once, as one group; not again alone: a write that failed so may have committed
    assert stored_positions(ledger) == {}
    assert together(grouped, [stored(ledger, started(9))])[0] == [1]  # and the next command is written


def test_a_command_whose_greenlet_ends_while_queued_is_never_written(ledger, green):
    grouped = group_commits(ledger.recorder)
    aggregates = [started(n) for n in range(3)]
    batches = [stored(ledger, a) for a in aggregates]
    greenlets = [gevent.spawn(grouped, batch) for batch in batches]
    killer = gevent.spawn(lambda: greenlets[2].kill())  # runs while the first gathers the others
    gevent.joinall([*greenlets, killer], timeout=30)
    assert [len(g.value) for g in greenlets[:2]] == [1, 1]
    assert isinstance(greenlets[2].value, gevent.GreenletExit)
    assert set(stored_positions(ledger)) == {(aggregates[0].id, 1), (aggregates[1].id, 1)}
    assert grouped._queue == [] and not grouped._leading  # noqa: SLF001 - nothing left behind


def test_when_the_writer_ends_before_writing_the_next_command_leads(ledger, green):
    grouped = group_commits(ledger.recorder)
    aggregates = [started(n) for n in range(3)]
    batches = [stored(ledger, a) for a in aggregates]  # mapped first: on PostgreSQL mapping waits for the server
    greenlets = [gevent.spawn(grouped, batch) for batch in batches]
    killer = gevent.spawn(lambda: greenlets[0].kill())  # the first is gathering the others
    gevent.joinall([*greenlets, killer], timeout=30)
    assert all(g.ready() for g in greenlets)
    assert isinstance(greenlets[0].value, gevent.GreenletExit)
    assert [len(g.value) for g in greenlets[1:]] == [1, 1]
    assert set(stored_positions(ledger)) == {(aggregates[1].id, 1), (aggregates[2].id, 1)}
    assert (grouped.commands, grouped.transactions) == (2, 1)
    assert grouped._queue == [] and not grouped._leading  # noqa: SLF001


def test_a_writer_that_never_lets_the_loop_go_idle_holds_no_command_for_long(ledger, green):
    grouped = group_commits(ledger.recorder)
    stop = gevent.event.Event()

    def busy():  # a long walk that only yields (as one that verifies a whole chain does)
        while not stop.is_set():
            gevent.sleep(0)

    walker = gevent.spawn(busy)
    gevent.sleep(0)
    begun = time.monotonic()
    answer = together(grouped, [stored(ledger, started(1))])
    waited = time.monotonic() - begun
    stop.set()
    walker.join()
    assert answer[0] == [1]
    assert waited < 1.0  # GATHER_AT_MOST, not until the walk ends (it would never: stop is set after)


def test_a_large_queue_is_written_in_groups_of_at_most_max_events(ledger, green):
    grouped = group_commits(ledger.recorder)
    sizes = []
    insert = grouped.insert
    grouped.insert = lambda events, **kwargs: sizes.append(len(events)) or insert(events, **kwargs)
    per_command = 40
    commands = MAX_EVENTS // per_command * 2 + 1
    answers = together(grouped, [stored(ledger, started(n, feedback=per_command - 1)) for n in range(commands)])
    assert all(len(ids) == per_command for ids in answers)
    assert max(sizes) <= MAX_EVENTS and sum(sizes) == commands * per_command and len(sizes) == 3
    assert sorted(stored_positions(ledger).values()) == list(range(1, commands * per_command + 1))


def test_tracked_writes_are_not_grouped(ledger):
    calls = []
    grouped = GroupCommit(lambda events, **kwargs: calls.append(kwargs) or [1])
    assert grouped([object()], tracking="a position") == [1]
    assert calls == [{"tracking": "a position"}] and grouped.commands == 0


def test_the_production_servers_workers_group_the_commands_on_sqlite_only(store, tmp_path, green):
    from api import create_app

    app = create_app({"DATABASE_URL": store.database_url, "STORE_ENV": store.extra_env})
    try:
        recorder = app.extensions["ledger"].recorder
        grouped = app.extensions.get("group_commit")
        if store.kind == "sqlite":
            assert isinstance(grouped, GroupCommit) and recorder.insert_events is grouped
        else:  # measured: no faster, and twice the p99 at 32 connections (README, release 0.3.8)
            assert grouped is None and not isinstance(recorder.insert_events, GroupCommit)
    finally:
        app.extensions["ledger"].close()
    extensions.set_wait_callback(None)  # a worker without gevent (the tests' threads): never grouped
    app = create_app({"DATABASE_URL": store.database_url, "STORE_ENV": store.extra_env})
    try:
        assert "group_commit" not in app.extensions
    finally:
        app.extensions["ledger"].close()
