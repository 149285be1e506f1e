"""Where the psycopg2 adapter must be right when things go wrong: pool, lost acks, races, schemas."""

from __future__ import annotations

import multiprocessing
import queue
import threading
import time
from uuid import uuid4

import psycopg2
import pytest
from eventsourcing.persistence import ConnectionPoolClosedError, IntegrityError, OperationalError, StoredEvent

from persistence.pg_datastore import ConnectionPool, PostgresDatastore
from persistence.postgres import PostgresApplicationRecorder, PostgresFactory
from tests import pg

pytestmark = pytest.mark.postgres


@pytest.fixture
def datastore(postgres_store):
    datastore = PostgresDatastore(pg.database_url(), schema=postgres_store.schema, pool_size=2, max_overflow=0,
                                  pool_timeout=5)
    yield datastore
    datastore.close()


@pytest.fixture
def recorder(datastore):
    recorder = PostgresApplicationRecorder(datastore, events_table_name="stored_events")
    recorder.create_table()
    return recorder


def event(originator_id=None, version=1, state=b"{}") -> StoredEvent:
    return StoredEvent(originator_id or uuid4(), version, "topic", state)


def test_a_caller_waits_for_a_free_connection_instead_of_failing(datastore):
    held = [datastore.pool.get(), datastore.pool.get()]
    results = []

    def read():
        with datastore.cursor() as cursor:
            cursor.execute("SELECT 1")
            results.append(cursor.fetchone()[0])

    reader = threading.Thread(target=read)
    reader.start()
    deadline = time.monotonic() + 10
    while datastore.pool.num_waiting < 1 and time.monotonic() < deadline:
        time.sleep(0.01)  # polling a count, bounded: not a race
    assert datastore.pool.num_waiting == 1 and results == []  # every connection is lent: it waits
    datastore.pool.put(held.pop())
    reader.join(10)
    assert not reader.is_alive() and results == [1]
    datastore.pool.put(held.pop())


def test_waiting_too_long_for_a_connection_is_an_operational_error(postgres_store):
    datastore = PostgresDatastore(pg.database_url(), schema=postgres_store.schema, pool_size=1, max_overflow=0,
                                  pool_timeout=0.2)
    held = datastore.pool.get()
    with pytest.raises(OperationalError):
        datastore.pool.get()
    datastore.pool.put(held)
    datastore.close()


def test_a_killed_connection_is_replaced_and_the_read_retried(recorder, datastore):
    recorder.insert_events([event()])
    with datastore.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pids = [cursor.fetchone()[0]]
    pg.execute(postgres_schema(datastore), "SELECT pg_terminate_backend(%s)", (pids[0],))
    assert recorder.max_notification_id() == 1


def test_a_write_whose_acknowledgement_was_lost_is_reported_done_once(recorder, monkeypatch):
    original = recorder._insert
    calls = []

    def commit_then_lose_the_reply(cursor, stored_events):
        calls.append(1)
        ids = original(cursor, stored_events)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return ids

    monkeypatch.setattr(recorder, "_insert", commit_then_lose_the_reply)
    ids = recorder.insert_events([event(), event()])
    assert ids == [1, 2]
    assert len(calls) == 1, "a committed write must not be written again"
    assert recorder.max_notification_id() == 2


def test_a_write_that_did_not_commit_is_tried_again(recorder, monkeypatch):
    original = recorder._insert
    calls = []

    def fail_before_writing(cursor, stored_events):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("could not obtain lock")
        return original(cursor, stored_events)

    monkeypatch.setattr(recorder, "_insert", fail_before_writing)
    assert recorder.insert_events([event()]) == [1]
    assert len(calls) == 2


def test_a_conflicting_write_is_an_integrity_error_and_leaves_no_gap(recorder):
    same = uuid4()
    recorder.insert_events([event(same, 1)])
    with pytest.raises(IntegrityError):
        recorder.insert_events([event(same, 1, b'{"other": 1}')])
    assert recorder.insert_events([event()]) == [2]


def test_positions_are_gap_free_under_concurrent_writers(recorder):
    def write(n):
        for _ in range(20):
            recorder.insert_events([event(), event()])

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = [n.id for n in recorder.select_notifications(start=1, limit=1000)]
    assert ids == list(range(1, 161))


def _start_factory(url, schema, barrier, failures):
    barrier.wait()
    try:
        factory = PostgresFactory({"POSTGRES_DSN": url, "POSTGRES_SCHEMA": schema})
        factory.application_recorder()
        factory.aggregate_recorder("snapshots")
        factory.tracking_recorder()
        factory.close()
    except Exception as error:  # noqa: BLE001 - reported to the parent
        failures.put(repr(error))


def test_several_processes_creating_tables_at_once_do_not_race(postgres_store):
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(4)
    failures = context.Queue()
    processes = [context.Process(target=_start_factory, args=(pg.database_url(), postgres_store.schema, barrier,
                                                              failures)) for _ in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
    assert [p.exitcode for p in processes] == [0, 0, 0, 0]
    assert failures.empty()


def test_tables_live_in_the_configured_schema_with_quoted_names(postgres_store):
    factory = PostgresFactory({"POSTGRES_DSN": pg.database_url(), "POSTGRES_SCHEMA": postgres_store.schema})
    factory.env.name = 'Odd "Name"'
    recorder = factory.application_recorder()
    recorder.insert_events([event()])
    tables = pg.execute(postgres_store.schema,
                        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                        (postgres_store.schema,))
    assert ('odd "name"_events',) in tables
    factory.close()


def test_a_stopped_subscription_releases_its_listening_connection(recorder, datastore):
    recorder.insert_events([event()])
    with recorder.subscribe(gt=0) as subscription:
        assert next(subscription).id == 1
        assert datastore.pool.num_in_use == 1
    assert datastore.pool.num_in_use == 0


def test_a_subscription_sees_events_committed_after_it_started(recorder):
    received: queue.Queue = queue.Queue()
    subscription = recorder.subscribe(gt=0)  # listening from here on

    def follow():
        with subscription:
            for notification in subscription:
                received.put(notification.id)
                if notification.id == 3:
                    break

    thread = threading.Thread(target=follow)
    thread.start()
    for position in (1, 2, 3):  # each committed after the subscription saw the one before
        recorder.insert_events([event()])
        assert received.get(timeout=10) == position
    thread.join(10)
    assert not thread.is_alive()


def test_a_pool_closed_twice_stays_closed_and_lends_nothing():
    pool = ConnectionPool(lambda: psycopg2.connect(pg.database_url()))
    pool.put(pool.get())
    assert pool.num_idle == 1
    pool.close()
    pool.close()
    assert (pool.num_idle, pool.num_in_use) == (0, 0)
    with pytest.raises(ConnectionPoolClosedError):
        pool.get()


def test_connections_made_on_demand_are_reused_while_busy_and_closed_once_idle_long_enough():
    made = []

    def connect():
        made.append(psycopg2.connect(pg.database_url()))
        return made[-1]

    pool = ConnectionPool(connect, pool_size=1, max_overflow=2, overflow_idle=0.3)
    try:
        for _ in range(5):  # three busy at once, again and again: the same three connections serve
            lent = [pool.get() for _ in range(3)]
            for conn in lent:
                pool.put(conn)
        assert len(made) == 3 and pool.num_idle == 3 and not any(raw.closed for raw in made)
        time.sleep(0.4)
        pool.put(pool.get())  # the next use closes the two that sat idle beyond the pool's size
        assert pool.num_idle == 1 and sum(1 for raw in made if raw.closed) == 2
        pool.put(pool.get())
        assert len(made) == 3  # the one kept is lent again, nothing new opened
    finally:
        pool.close()


def postgres_schema(datastore: PostgresDatastore) -> str:
    return datastore.schema


def test_a_statement_every_request_makes_is_prepared_once_per_connection_and_answers_for_each_value(datastore):
    """The token check (with what rides along) is planned once per connection, not at every request: the
    answers follow the values; a connection made afterwards prepares it for itself."""
    sql = "SELECT %s::int + 1, %s::text"
    with datastore.cursor() as cursor:
        for value in (1, 41, 99):
            datastore.execute_prepared(cursor, sql, (value, f"v{value}"))
            assert cursor.fetchone() == (value + 1, f"v{value}")
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        assert [row[0].count("$") for row in cursor.fetchall()] == [2]  # one statement, its two parameters
        backend = cursor.connection.get_backend_pid()
    with datastore.cursor() as first, datastore.cursor() as second:  # two connections at once (pool of two)
        other = second if first.connection.get_backend_pid() == backend else first
        datastore.execute_prepared(other, sql, (5, "five"))
        assert other.fetchone() == (6, "five")
        other.execute("SELECT count(*) FROM pg_prepared_statements")
        assert other.fetchone() == (1,)


def test_a_connection_the_server_closed_takes_the_idle_ones_with_it(datastore):
    """After a PostgreSQL restart every idle pooled connection is dead: before, each failed the next request it
    was lent to (2 to 4 answers of 503 per process after each restart); now the first one found dead drops the
    others, and only that request fails."""
    with datastore.connection() as first, datastore.connection() as second:  # two idle in the pool afterwards
        pids = [first.get_backend_pid(), second.get_backend_pid()]
    killer = psycopg2.connect(pg.database_url())
    killer.autocommit = True
    with killer.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", (pids,))
    killer.close()
    time.sleep(0.2)
    with pytest.raises(OperationalError), datastore.cursor() as cursor:
        cursor.execute("SELECT 1")  # lent a dead one: this request fails (no retry: it might have been a write)
    with datastore.cursor() as cursor:
        cursor.execute("SELECT 1")  # a fresh one: the other dead one was dropped with the first
        assert cursor.fetchone() == (1,)
