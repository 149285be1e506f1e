"""What else lives in the ledger's database besides events, for whichever store it uses."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
import weakref
from collections.abc import Iterator
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing import persistence as es
from eventsourcing.persistence import AggregateRecorder, PersistenceError, StoredEvent
from eventsourcing.sqlite import SQLITE3_DEFAULT_LOCK_TIMEOUT

from persistence.pg_recorders import PostgresAggregateRecorder
from persistence.postgres import PostgresFactory
from persistence.sqlite import check_store_file, opened_store_file
from persistence.tokens import TokenStore


def store_kind(application: Application) -> str:
    """'sqlite' or 'postgresql'."""
    return "postgresql" if isinstance(application.factory, PostgresFactory) else "sqlite"


def position_sql(application: Application) -> str:
    """A subquery answering the store's position (to ride along with a query a request makes anyway)."""
    recorder = application.recorder
    if isinstance(recorder, PostgresAggregateRecorder):
        return f"(SELECT MAX(notification_id) FROM {recorder.table})"
    return f"(SELECT MAX(rowid) FROM {recorder.events_table_name})"


def version_sql(application: Application, relationship_id: UUID) -> tuple[str, Any]:
    """A subquery answering a relationship's newest version in the store (NULL when it has none), with the
    store's parameter mark, and the parameter: the id as the store holds it."""
    recorder = application.recorder
    if isinstance(recorder, PostgresAggregateRecorder):
        return (f"(SELECT MAX(originator_version) FROM {recorder.table} WHERE originator_id = %s)",
                str(UUID(str(relationship_id))))
    return (f"(SELECT MAX(originator_version) FROM {recorder.events_table_name} WHERE originator_id = ?)",
            UUID(str(relationship_id)).hex)


def token_store_for(application: Application) -> TokenStore:
    """A token store in the same database as the application's events."""
    if store_kind(application) == "postgresql":
        datastore = application.factory.datastore
        store = TokenStore(datastore, placeholder="%s", table=datastore.qualified("api_tokens"),
                           reader=datastore.cursor, execute=datastore.execute_prepared)
    else:
        datastore = application.factory.datastore
        store = TokenStore(datastore, placeholder="?", reader=sqlite_reads(datastore).cursor)
    store.create_table()
    return store


class SQLiteReads:
    """Connections of this process to an SQLite file for reads of one statement, kept on a plain stack.

    In autocommit mode a statement reads one snapshot by itself, so BEGIN and ROLLBACK around it (the
    library's read transaction) would cost two statements and change nothing; and taking a connection from
    the library's pool (its condition, semaphore and age checks) cost as much as the statement. Every request
    reads its token and most reads one view statement: a twelfth of a read. A popped connection is this
    caller's alone (threads: ``list.pop`` is atomic; greenlets never switch inside SQLite), and a connection
    between statements holds no lock: writers and checkpoints never wait on the stack. An in-memory store
    (one database per connection) reads through the library's pool."""

    KEEP = 8  # connections kept between reads; more are opened when more read at once, and closed after

    def __init__(self, datastore: Any) -> None:
        self.datastore = datastore
        self.pool = datastore.pool
        self.own = not self.pool.is_sqlite_memory_mode
        self._free: list[sqlite3.Connection] = []
        self._pid = os.getpid()
        if self.own:
            limit_sqlite_memory()

    @contextlib.contextmanager
    def cursor(self) -> Iterator[sqlite3.Cursor]:
        if not self.own:
            with self.datastore.get_connection(commit=False) as connection, connection.cursor() as cursor:
                try:
                    yield cursor
                except sqlite3.Error as error:  # as the library's transactions raise them (503 when busy)
                    raise sqlite_error(error) from error
            return
        if self._pid != os.getpid():  # a forked child: the parent's connections are not this process's
            self._free, self._pid = [], os.getpid()
        check_store_file(self.datastore)  # its file removed or replaced: refused, as the datastore's own uses
        try:
            connection = self._free.pop()
        except IndexError:
            connection = self._connect()
            opened_store_file(self.datastore)
        cursor = connection.cursor()
        try:
            yield cursor
        except sqlite3.Error as error:  # as the library's transactions raise them (503, not 500, when busy)
            raise sqlite_error(error) from error
        finally:
            cursor.close()
            if len(self._free) < self.KEEP:
                self._free.append(connection)
            else:
                connection.close()

    def _connect(self) -> sqlite3.Connection:
        try:
            return sqlite3.connect(self.pool.db_name, uri=True, check_same_thread=False, isolation_level=None,
                                   timeout=self.pool.lock_timeout or SQLITE3_DEFAULT_LOCK_TIMEOUT)
        except sqlite3.Error as error:
            raise sqlite_error(error) from error

    def close(self) -> None:
        while self._free:
            self._free.pop().close()


# The memory of all SQLite connections of a process together, page caches included (SQLite's soft heap
# limit): beyond it SQLite reuses cached pages instead of growing. Each connection would otherwise keep up to
# 2 MiB of pages (the default cache_size), and a worker holds a dozen: the reads', the library's pool's, the
# views'. A page not cached is read again from the operating system's cache, which holds the file anyway.
SQLITE_HEAP_LIMIT = 2 * 1024 * 1024


def limit_sqlite_memory() -> None:
    """Bound the memory SQLite uses in this process (once set, for every connection; idempotent)."""
    connection = sqlite3.connect(":memory:")
    try:
        connection.execute(f"PRAGMA soft_heap_limit = {SQLITE_HEAP_LIMIT}")
    finally:
        connection.close()


_READS: weakref.WeakKeyDictionary[Any, SQLiteReads] = weakref.WeakKeyDictionary()


def sqlite_reads(datastore: Any) -> SQLiteReads:
    """The one-statement readers of an SQLite datastore (one per datastore, shared by tokens and views)."""
    reads = _READS.get(datastore)
    if reads is None:
        reads = _READS[datastore] = SQLiteReads(datastore)
    return reads


def sqlite_error(error: sqlite3.Error) -> PersistenceError:
    """An sqlite3 error as the library's persistence error of the same kind (what the API maps to answers)."""
    return _PERSISTENCE_ERRORS.get(type(error), PersistenceError)(str(error))


_PERSISTENCE_ERRORS = {
    sqlite3.InterfaceError: es.InterfaceError, sqlite3.DataError: es.DataError,
    sqlite3.OperationalError: es.OperationalError, sqlite3.IntegrityError: es.IntegrityError,
    sqlite3.InternalError: es.InternalError, sqlite3.ProgrammingError: es.ProgrammingError,
    sqlite3.NotSupportedError: es.NotSupportedError, sqlite3.DatabaseError: es.DatabaseError,
}


class _Table:
    """An aggregate recorder's table as SQL sees it, whichever store: its name, its parameter mark, and its
    ids as stored (text of the UUID on PostgreSQL, its hex digits in the library's SQLite recorder)."""

    def __init__(self, recorder: AggregateRecorder) -> None:
        self.recorder = recorder
        self.postgres = isinstance(recorder, PostgresAggregateRecorder)
        self.name = recorder.table if self.postgres else recorder.events_table_name
        self.mark = "%s" if self.postgres else "?"
        self.prefix = "substring(state from 1 for %s)" if self.postgres else "substr(state, 1, ?)"
        self.sorted_id = "originator_id::text" if self.postgres else "originator_id"

    def stored_id(self, originator_id: Any) -> str:
        if self.postgres or not isinstance(originator_id, UUID):
            return str(originator_id)
        return originator_id.hex

    def execute(self, sql: str, params: tuple, *, commit: bool) -> list[tuple]:
        with self.recorder.datastore.transaction(commit=commit) as cursor:
            cursor.execute(sql.replace("?", self.mark), params)
            return [tuple(row) for row in cursor.fetchall()] if not commit else []


def delete_snapshots_before(recorder: AggregateRecorder, originator_id: Any, version: int) -> None:
    """Delete an aggregate's snapshots older than ``version``: loading needs only the newest."""
    table = _Table(recorder)
    table.execute(f"DELETE FROM {table.name} WHERE originator_id = ? AND originator_version < ?",
                  (table.stored_id(originator_id), version), commit=True)


def delete_unsigned_snapshots(recorder: AggregateRecorder, magic: bytes) -> None:
    """Delete snapshots written without a signature (by releases before 0.2.0): derived, never to be used."""
    table = _Table(recorder)
    table.execute(f"DELETE FROM {table.name} WHERE {table.prefix.replace('%s', '?')} <> ?", (len(magic), magic),
                  commit=True)


def stored_rows(recorder: AggregateRecorder) -> Iterator[StoredEvent]:
    """Every row of an aggregate recorder's table (snapshots), in key order, a thousand at a time."""
    table, after = _Table(recorder), ("", -1)
    while True:
        rows = table.execute(f"SELECT originator_id, originator_version, topic, state FROM {table.name} "
                             f"WHERE ({table.sorted_id}, originator_version) > (?, ?) "
                             f"ORDER BY {table.sorted_id}, originator_version LIMIT 1000", after, commit=False)
        for originator_id, version, topic, state in rows:
            yield StoredEvent(originator_id=UUID(str(originator_id)), originator_version=version, topic=topic,
                              state=bytes(state))
        if len(rows) < 1000:
            return
        after = (str(rows[-1][0]), rows[-1][1])


def raw_records(application: Application, topics: tuple[str, ...], after: int = 0, up_to: int | None = None,
                batch: int = 5000) -> Iterator[tuple[int, str, bytes, Any]]:
    """(position, topic, stored bytes, aggregate id) of the events of these topics, in store order: nothing
    decoded (the id as stored: a UUID on PostgreSQL, its hex digits on SQLite)."""
    recorder = application.recorder
    postgres = store_kind(application) == "postgresql"
    up_to = 2**62 if up_to is None else up_to
    while True:
        if postgres:
            with recorder.datastore.transaction(commit=False) as cursor:
                cursor.execute(f"SELECT notification_id, topic, state, originator_id FROM {recorder.table} "
                               "WHERE notification_id > %s AND notification_id <= %s AND topic = ANY(%s) "
                               "ORDER BY notification_id LIMIT %s", (after, up_to, list(topics), batch))
                rows = [(row[0], row[1], bytes(row[2]), row[3]) for row in cursor.fetchall()]
        else:
            marks = ", ".join("?" for _ in topics)
            with recorder.datastore.transaction(commit=False) as cursor:
                cursor.execute(f"SELECT rowid, topic, state, originator_id FROM {recorder.events_table_name} "
                               f"WHERE rowid > ? AND rowid <= ? AND topic IN ({marks}) ORDER BY rowid LIMIT ?",
                               (after, up_to, *topics, batch))
                rows = cursor.fetchall()
        yield from rows
        if len(rows) < batch:
            return
        after = rows[-1][0]


def delete_snapshots_of(recorder: AggregateRecorder, originator_ids: list[Any]) -> None:
    """Delete every snapshot of these aggregates (after an erasure: they name the erased)."""
    table = _Table(recorder)
    for originator_id in originator_ids:
        table.execute(f"DELETE FROM {table.name} WHERE originator_id = ?", (table.stored_id(originator_id),),
                      commit=True)


def compact_sqlite(application: Application) -> bool:
    """SQLite after an erasure: rebuild the file (no deleted bytes linger in free pages), then empty the
    write-ahead log into it. True when the log could be emptied (no reader held it meanwhile)."""
    if store_kind(application) != "sqlite" or ":memory:" in application.env.get("SQLITE_DBNAME", ":memory:"):
        return True
    with application.factory.datastore.get_connection(commit=False) as conn:
        raw = conn._sqlite_conn
        raw.execute("VACUUM")
        for _ in range(50):
            busy, _, _ = raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            if not busy:
                return True
            time.sleep(0.1)
    return False
