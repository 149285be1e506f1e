"""One-statement reads on SQLite (persistence.stores.SQLiteReads): the connections kept between reads see
every commit at once, hold nothing that writers or checkpoints wait on, and fail as the library's errors."""

from __future__ import annotations

import sqlite3

import pytest
from eventsourcing.persistence import OperationalError

from domain.ledger import MentorshipLedger
from persistence.config import store_env
from persistence.stores import SQLITE_HEAP_LIMIT, SQLiteReads, sqlite_reads


@pytest.fixture
def ledger(tmp_path):
    ledger = MentorshipLedger(env={**store_env(f"sqlite:///{tmp_path}/ledger.sqlite3", str(tmp_path)),
                                   "INSTANCE_PATH": str(tmp_path), "SQLITE_LOCK_TIMEOUT": "1"})
    yield ledger
    sqlite_reads(ledger.factory.datastore).close()
    ledger.close()


def _count(reads: SQLiteReads) -> int:
    with reads.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM t")
        return cursor.fetchone()[0]


def test_a_kept_connection_sees_each_commit_of_another_connection_at_once(ledger, tmp_path):
    reads = sqlite_reads(ledger.factory.datastore)
    assert reads is sqlite_reads(ledger.factory.datastore)  # one per datastore: tokens and views share it
    writer = sqlite3.connect(f"{tmp_path}/ledger.sqlite3", isolation_level=None)
    writer.execute("CREATE TABLE t (x)")
    for expected in range(1, 4):
        writer.execute("INSERT INTO t VALUES (1)")
        assert _count(reads) == expected  # no snapshot is kept from one read to the next
    assert len(reads._free) == 1  # noqa: SLF001 - one connection, used again and again
    writer.close()


def test_readers_between_statements_hold_no_lock(ledger, tmp_path):
    """An erasure truncates the write-ahead log (a checkpoint that waits for no reader): idle kept connections
    must not make it busy, nor keep a writer waiting."""
    reads = sqlite_reads(ledger.factory.datastore)
    writer = sqlite3.connect(f"{tmp_path}/ledger.sqlite3", isolation_level=None)
    writer.execute("CREATE TABLE t (x)")
    with reads.cursor() as first, reads.cursor() as second:  # two at once: two connections, both kept
        first.execute("SELECT 1")
        second.execute("SELECT 2")
    assert len(reads._free) == 2  # noqa: SLF001
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO t VALUES (1)")
    writer.execute("COMMIT")
    busy, _, _ = writer.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    assert busy == 0
    writer.close()


def test_a_locked_store_is_the_librarys_operational_error(ledger, tmp_path):
    reads = sqlite_reads(ledger.factory.datastore)
    reads.close()
    pool = ledger.factory.datastore.pool
    while pool._pool:  # noqa: SLF001 - no connection of this process may have the file open (EXCLUSIVE)
        pool._pool.popleft().close()  # noqa: SLF001
    blocker = sqlite3.connect(f"{tmp_path}/ledger.sqlite3", isolation_level=None)
    blocker.execute("PRAGMA locking_mode=EXCLUSIVE")
    blocker.execute("BEGIN EXCLUSIVE")
    blocker.execute("CREATE TABLE held (x)")
    try:
        with pytest.raises(OperationalError), reads.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM sqlite_master")
    finally:
        blocker.rollback()
        blocker.close()
    assert len(reads._free) == 1  # noqa: SLF001 - the connection is kept; the next read succeeds
    with reads.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


def test_an_in_memory_store_reads_through_the_librarys_pool():
    ledger = MentorshipLedger(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                                   "SQLITE_DBNAME": "file:reads?mode=memory&cache=shared"})
    try:
        reads = sqlite_reads(ledger.factory.datastore)
        assert not reads.own
        with reads.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM sqlite_master")
            assert cursor.fetchone()[0] > 0  # the library's tables, in the one in-memory database
        assert reads._free == []  # noqa: SLF001
    finally:
        ledger.close()


def test_sqlite_memory_of_a_process_is_bounded(ledger):
    """Every connection's page cache counts against one limit for the process (a worker holds a dozen
    connections, each of which would otherwise keep up to 2 MiB of pages)."""
    sqlite_reads(ledger.factory.datastore)
    probe = sqlite3.connect(":memory:")
    try:
        assert probe.execute("PRAGMA soft_heap_limit").fetchone()[0] == SQLITE_HEAP_LIMIT > 0
    finally:
        probe.close()
