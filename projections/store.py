"""One way to run SQL against either store, so each view is written once.

Views write portable SQL with ``?`` placeholders; the PostgreSQL store turns
them into psycopg2's ``%s``. The few constructs that differ (greatest/least,
floor, automatic types) are spelled through ``Dialect``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import math
import re
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from persistence.green import is_green
from persistence.pg_datastore import PostgresDatastore, quote
from persistence.postgres import PostgresFactory
from persistence.sqlite import check_store_file
from persistence.stores import sqlite_error, sqlite_reads


@dataclass(frozen=True)
class Dialect:
    name: str
    greatest: str
    least: str
    floor: str
    double: str
    blob: str


SQLITE = Dialect("sqlite", greatest="MAX", least="MIN", floor="CAST", double="REAL", blob="BLOB")
POSTGRES = Dialect("postgresql", greatest="GREATEST", least="LEAST", floor="FLOOR", double="DOUBLE PRECISION",
                   blob="BYTEA")


class Cursor:
    """A DB-API cursor that accepts ``?`` placeholders on both stores.

    On PostgreSQL, writes that return nothing are held back and sent together,
    as one round trip, before the next read or the commit: a batch of view
    changes costs a few round trips instead of one per statement.
    """

    WRITES = ("INSERT", "UPDATE", "DELETE")
    COPY_FROM_ROWS = 100  # from this many rows, an INSERT of plain values is sent by COPY

    def __init__(self, raw: Any, postgres: bool, prepare: Any = None) -> None:
        self.raw = raw
        self.postgres = postgres
        self.pending: list[bytes] = []
        self.prepare = prepare  # PostgresDatastore.execute_prepared, for execute_prepared

    def execute_prepared(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        """A read every request of its kind makes: on PostgreSQL a statement prepared once per connection
        (planned once: a health read spent twice as long being planned as being run). Its text must not vary
        with the values (they are parameters), and it holds no literal ``%``."""
        if not self.postgres or self.prepare is None:
            return self.execute(sql, params)
        self.flush()
        self.prepare(self.raw, sql.replace("?", "%s"), tuple(params))
        return self

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        if not self.postgres:
            self.raw.execute(sql, tuple(params))
            return self
        sql = sql.replace("%", "%%").replace("?", "%s")
        if self._deferrable(sql):
            self.pending.append(self.raw.mogrify(sql, tuple(params)))
            return self
        self.flush()
        self.raw.execute(sql, tuple(params))
        return self

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if not self.postgres:
            self.raw.executemany(sql, [tuple(r) for r in rows])
            return
        head, values = self._insert_values(sql)
        if head is None:
            for row in rows:
                self.execute(sql, row)
            return
        if len(rows) >= self.COPY_FROM_ROWS and self._copy(head, values, rows):
            return
        if rows:
            # One INSERT of many rows: the server parses and plans it once.
            template = values.replace("%", "%%").replace("?", "%s")
            self.pending.append(head.encode() + b" VALUES " + b", ".join(
                self.raw.mogrify(template, tuple(row)) for row in rows))

    def _copy(self, head: str, values: str, rows: Sequence[Sequence[Any]]) -> bool:
        """Many rows of plain text and numbers by COPY, which skips quoting every value; False if unsuitable."""
        target = re.fullmatch(r"\s*INSERT INTO (\S+)\s*(\([^()]*\))?\s*", head, re.IGNORECASE)
        if target is None or is_green() or set(values[1:-1].replace(" ", "").split(",")) != {"?"}:
            return False
        lines = []
        for row in rows:
            fields = []
            for value in row:
                kind = type(value)
                if value is None:
                    fields.append("\\N")
                elif kind is str:
                    fields.append(value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
                                  .replace("\r", "\\r"))
                elif kind is int or (kind is float and math.isfinite(value)):
                    fields.append(repr(value))
                else:
                    return False
            lines.append("\t".join(fields))
        self.flush()
        self.raw.copy_expert(f"COPY {target.group(1)} {target.group(2) or ''} FROM STDIN",
                             io.StringIO("\n".join(lines) + "\n"))
        return True

    @staticmethod
    def _insert_values(sql: str) -> tuple[str | None, str]:
        """``INSERT INTO t (...) VALUES (?, ...)`` as its head and its row template; (None, "") for other SQL."""
        head, found, values = sql.partition(" VALUES ")
        values = values.strip()
        if (not found or not head.lstrip().upper().startswith("INSERT") or "?" in head
                or not (values.startswith("(") and values.endswith(")")) or values.count("(") != 1):
            return None, ""
        return head, values

    def flush(self) -> None:
        """Send the held-back writes, in order, in one round trip."""
        if self.pending:
            statements, self.pending = self.pending, []
            self.raw.execute(b";\n".join(statements))

    def _deferrable(self, sql: str) -> bool:
        head = sql.lstrip()[:6].upper()
        return head in self.WRITES and "RETURNING" not in sql.upper()

    def fetchone(self) -> tuple | None:
        row = self.raw.fetchone()
        return None if row is None else tuple(row)

    def fetchall(self) -> list[tuple]:
        return [tuple(row) for row in self.raw.fetchall()]

    def __iter__(self) -> Iterator[tuple]:
        while True:
            rows = self.raw.fetchmany(1000)
            if not rows:
                return
            for row in rows:
                yield tuple(row)


class ViewStore:
    """Transactions on the ledger's own database, for the projections' tables."""

    def __init__(self, factory: Any) -> None:
        self.postgres = isinstance(factory, PostgresFactory)
        self.dialect = POSTGRES if self.postgres else SQLITE
        self.datastore = factory.datastore
        self.schema = self.datastore.schema if self.postgres else ""
        self.seal_key: bytes | None = None  # the signing key, for the audit trail's seals (set by Projections)
        # The prev_hash of the chain's first entry: 64 zeros, or a migrated store's old head (set by Projections).
        self.genesis = "0" * 64

    def table(self, name: str) -> str:
        """A view table's name, quoted (and schema-qualified on PostgreSQL)."""
        if self.postgres:
            return self.datastore.qualified(name)
        return quote(name)

    @contextlib.contextmanager
    def transaction(self, *, write: bool, snapshot: bool = False) -> Iterator[Cursor]:
        """A transaction: on SQLite, writers take the write lock at BEGIN (no upgrade deadlocks), and a read sees
        one snapshot throughout. On PostgreSQL a read's statements each see the newest commits, unless
        ``snapshot``: reads whose statements must agree with each other (one page from several queries)."""
        if self.postgres:
            if snapshot and not write:
                with self.datastore.transaction(commit=False, snapshot=True) as raw:
                    yield Cursor(raw, postgres=True)
                return
            with self._pg_transaction(write) as cursor:
                yield cursor
        else:
            with self._sqlite_transaction(write) as cursor:
                yield cursor

    @contextlib.contextmanager
    def statement(self) -> Iterator[Cursor]:
        """A cursor for a read that is one statement: a statement sees one snapshot by itself, so on SQLite
        it runs in autocommit mode, on a connection of ``persistence.stores.SQLiteReads``, without the BEGIN
        and ROLLBACK a read transaction costs. On PostgreSQL as ``transaction(write=False)``."""
        if self.postgres:
            with self._pg_transaction(False) as cursor:
                yield cursor
            return
        with sqlite_reads(self.datastore).cursor() as raw:
            yield Cursor(raw, postgres=False)

    @contextlib.contextmanager
    def _pg_transaction(self, write: bool) -> Iterator[Cursor]:
        datastore: PostgresDatastore = self.datastore
        # Reads run at READ COMMITTED, where every statement takes its own snapshot inside a transaction too:
        # BEGIN and ROLLBACK around them would cost two round trips and change nothing.
        with (datastore.transaction(commit=True) if write else datastore.cursor()) as raw:
            cursor = Cursor(raw, postgres=True, prepare=datastore.execute_prepared)
            yield cursor
            cursor.flush()

    @contextlib.contextmanager
    def _sqlite_transaction(self, write: bool) -> Iterator[Cursor]:
        with self.datastore.get_connection(commit=write) as conn:
            raw = conn._sqlite_conn.cursor()  # noqa: SLF001 - the library exposes no public handle
            synchronous = None
            try:
                if write:
                    # Views are derived: their commits need not wait for the disk (WAL, synchronous=NORMAL).
                    # A power loss can only take the newest of them, tracking positions included (the views
                    # then catch up again), and never one without every commit before it: the WAL is a log,
                    # and each event's commit (FULL, as the connection is set back to) syncs all before it.
                    synchronous = raw.execute("PRAGMA synchronous").fetchone()[0]
                    raw.execute("PRAGMA synchronous = NORMAL")
                raw.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                yield Cursor(raw, postgres=False)
                if write:
                    check_store_file(self.datastore)  # its file gone: rolled back, not committed
                    conn._sqlite_conn.commit()  # noqa: SLF001
                else:
                    conn._sqlite_conn.rollback()  # noqa: SLF001
            except sqlite3.Error as error:
                _rollback(conn)
                raise sqlite_error(error) from error
            except BaseException:
                _rollback(conn)
                raise
            finally:
                if synchronous is not None:
                    raw.execute(f"PRAGMA synchronous = {int(synchronous)}")
                raw.close()

    @contextlib.contextmanager
    def exclusive(self, name: str) -> Iterator[None]:
        """Hold a lock named ``name`` across processes until the block ends (PostgreSQL: advisory; SQLite: a file)."""
        with self._lock(name, wait=True):
            yield

    @contextlib.contextmanager
    def exclusive_if_free(self, name: str) -> Iterator[bool]:
        """``exclusive``, without waiting: the block runs either way, told whether it holds the lock (a wait
        on a file lock would stop a gevent worker whole)."""
        with self._lock(name, wait=False) as held:
            yield held

    @contextlib.contextmanager
    def _lock(self, name: str, *, wait: bool) -> Iterator[bool]:
        if self.postgres:
            conn = self.datastore.pool.get()
            try:
                with conn.raw.cursor() as cursor:
                    if wait:
                        cursor.execute("SELECT pg_advisory_lock(%s)", (self.lock_key(name),))
                        held = True
                    else:
                        cursor.execute("SELECT pg_try_advisory_lock(%s)", (self.lock_key(name),))
                        held = bool(cursor.fetchone()[0])
                yield held
            finally:
                self.datastore.pool.put(conn, broken=True)  # closing the session releases the lock
            return
        path = f"{self.datastore.pool.db_name}.{hashlib.sha256(name.encode()).hexdigest()[:12]}.lock"
        with open(path, "a+b") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def lock_key(self, name: str) -> int:
        """A stable 63-bit number for a name in this store, for PostgreSQL advisory locks. Advisory locks belong
        to the whole database: a store in a schema of its own (POSTGRES_SCHEMA) names its locks by the schema
        too, or the projection worker of one deployment stood by for ever behind another's in the same database
        (without a schema, the numbers are those of earlier releases)."""
        scoped = f"{self.schema}\x00{name}" if self.schema else name
        return int.from_bytes(hashlib.sha256(scoped.encode()).digest()[:8], "big") & 0x7FFF_FFFF_FFFF_FFFF


def _rollback(conn: Any) -> None:
    with contextlib.suppress(Exception):
        conn._sqlite_conn.rollback()  # noqa: SLF001

