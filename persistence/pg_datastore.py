"""psycopg2 connections for the ledger: a waiting, self-healing pool and explicit transactions.

Errors from psycopg2 are raised as the eventsourcing library's persistence
exceptions, so the application and the API handle one family of errors
whatever the store.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import re
import sqlite3
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import psycopg2
import psycopg2.errors
import psycopg2.extensions
import psycopg2.extras
from eventsourcing import persistence as es

psycopg2.extras.register_uuid()

T = TypeVar("T")

# psycopg2 class -> eventsourcing class, most specific first.
ERROR_MAP: list[tuple[type[Exception], type[es.PersistenceError]]] = [
    (psycopg2.IntegrityError, es.IntegrityError),
    (psycopg2.DataError, es.DataError),
    (psycopg2.OperationalError, es.OperationalError),
    (psycopg2.InternalError, es.InternalError),
    (psycopg2.ProgrammingError, es.ProgrammingError),
    (psycopg2.NotSupportedError, es.NotSupportedError),
    (psycopg2.InterfaceError, es.InterfaceError),
    (psycopg2.DatabaseError, es.DatabaseError),
    (psycopg2.Error, es.PersistenceError),
]

TRANSIENT = (es.OperationalError, es.InterfaceError)

# What libpq says when no PostgreSQL is there to answer (stopped, starting, restarting, out of connection slots,
# its host not resolvable yet, the network down): worth waiting for. Anything else when connecting (a password
# refused, a database or role that does not exist, a bad option) is a setting to fix: waiting would hide it.
NOT_ANSWERING = ("connection refused", "could not connect", "timeout expired", "timed out", "the database system is",
                 "server closed the connection", "too many connections", "remaining connection slots",
                 "no route to host", "network is unreachable", "could not translate host name", "connection reset",
                 "terminating connection", "could not receive data", "could not send data", "ssl syscall error",
                 "eof detected", "connection already closed", "connection not open", "no such file or directory",
                 "is the server running", "ssl connection has been closed unexpectedly",
                 # SQLite: another process writing (two workers creating their tables as they start)
                 "database is locked",
                 # and what PostgreSQL says to one of two transactions in each other's way: a moment later, it is not
                 "deadlock detected", "lock timeout", "could not serialize access", "could not obtain lock")
# What says a setting is wrong, wherever it appears (libpq joins the attempts at each address of a host into one
# message: "Connection refused" for one, a refused password for the next).
WRONG_SETTING = ("authentication failed", "does not exist", "no pg_hba.conf entry", "invalid sslmode",
                 "invalid connection option", "invalid dsn", "invalid integer value", "invalid port",
                 "permission denied", "must be superuser")
# The errors of a store that is not there or was busy; once running, a process waits out any of them.
STORE_ERRORS = (*TRANSIENT, psycopg2.OperationalError, psycopg2.InterfaceError, sqlite3.OperationalError)


def not_answering(error: BaseException) -> bool:
    """``error`` says the store is not there to answer, or was busy (worth trying again), not that a setting is
    wrong: what a starting process waits for (``Startup``, the server's workers)."""
    if not isinstance(error, STORE_ERRORS):
        return False
    message = str(error).lower()
    if any(sign in message for sign in WRONG_SETTING):
        return False
    return isinstance(error, es.ConnectionUnavailableError) or any(sign in message for sign in NOT_ANSWERING)


# What the server says when it ends every session (a restart, a crash): the other idle connections are gone too.
SERVER_GONE = ("administrator command", "server closed the connection unexpectedly", "crash of another server process",
               "the database system is shutting down", "connection to server was lost")


class Startup:
    """How long a starting process waits for a PostgreSQL that does not answer yet (starting, restarting), or
    for an SQLite file another process holds while it creates its tables.

    A command-line process waits half a minute, then fails. The production server's workers do not wait at
    all (``api.serving`` sets ``patience`` to 0): they answer 503 at once and load again until it answers.
    A wrong setting (``not_answering`` false) fails at once, in both."""

    patience = 30.0

    @classmethod
    def wait_out(cls, attempt: Callable[[], T]) -> T:
        deadline = time.monotonic() + cls.patience
        while True:
            try:
                return attempt()
            except STORE_ERRORS as error:
                if not not_answering(error) or time.monotonic() > deadline:
                    raise
                time.sleep(0.5)


def translate(error: Exception) -> es.PersistenceError:
    """The eventsourcing exception that stands for a psycopg2 one."""
    for pg_class, es_class in ERROR_MAP:
        if isinstance(error, pg_class):
            translated = es_class(str(error).strip())
            translated.pgcode = getattr(error, "pgcode", None)  # type: ignore[attr-defined]
            return translated
    return es.PersistenceError(str(error))


@contextlib.contextmanager
def translated_errors() -> Iterator[None]:
    try:
        yield
    except psycopg2.Error as error:
        raise translate(error) from error


def quote(identifier: str) -> str:
    """A PostgreSQL identifier, quoted, so any name (and no injection) is possible."""
    if len(identifier.encode()) > 63:
        raise es.ProgrammingError(f"Identifier too long: {identifier}")
    return '"' + identifier.replace('"', '""') + '"'


def retry_transient(attempts: int = 8, wait: float = 0.1) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Retry an operation that is safe to repeat when the connection or server failed."""

    def decorator(func: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> T:
            for attempt in range(attempts):
                try:
                    return func(*args, **kwargs)
                except TRANSIENT:
                    if attempt == attempts - 1:
                        raise
                    time.sleep(min(wait * 2**attempt, 2.0))
            raise AssertionError("unreachable")  # pragma: no cover

        return wrapper

    return decorator


class PooledConnection:
    """A psycopg2 connection with its birth time, so old ones can be recycled."""

    def __init__(self, raw: psycopg2.extensions.connection) -> None:
        self.raw = raw
        self.created = self.returned = time.monotonic()

    @property
    def closed(self) -> bool:
        return bool(self.raw.closed)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.raw.close()


class ConnectionPool:
    """Up to ``pool_size`` idle connections kept, ``max_overflow`` more made on demand.

    A caller finding every connection in use waits up to ``timeout`` seconds
    for one to come back instead of failing at once. Broken connections are
    dropped and replaced; connections older than ``max_age`` are recycled.

    Connections made on demand stay while they are used: those beyond ``pool_size``
    that have been idle for ``overflow_idle`` seconds are closed when the pool is
    next used. Closing each one as it comes back would open a new connection (a new
    server process) for nearly every request whenever more than ``pool_size`` are
    busy at once.
    """

    def __init__(self, connect: Callable[[], psycopg2.extensions.connection], *, pool_size: int = 5,
                 max_overflow: int = 10, timeout: float = 10.0, max_age: float | None = None,
                 pre_ping: bool = False, overflow_idle: float = 60.0) -> None:
        self._connect = connect
        self.pool_size = pool_size
        self.max_connections = pool_size + max_overflow
        self.timeout = timeout
        self.max_age = max_age
        self.pre_ping = pre_ping
        self.overflow_idle = overflow_idle
        self._idle: deque[PooledConnection] = deque()
        self._in_use = 0
        self._waiting = 0
        self._closed = False
        self._condition = threading.Condition()

    def get(self) -> PooledConnection:
        with self._condition:
            self._waiting += 1
            try:
                lent = self._condition.wait_for(self._can_lend, timeout=self.timeout)
            finally:
                self._waiting -= 1
            if not lent:
                raise es.ConnectionUnavailableError(
                    f"No PostgreSQL connection free within {self.timeout}s"
                )
            if self._closed:
                raise es.ConnectionPoolClosedError("The connection pool is closed")
            self._in_use += 1
            conn = self._idle.pop() if self._idle else None
            unused = self._unused(time.monotonic())
        for old in unused:
            old.close()
        try:
            return self._ready(conn)
        except BaseException:
            self._release_slot()
            raise

    def put(self, conn: PooledConnection, *, broken: bool = False, server_gone: bool = False) -> None:
        """Take a lent connection back; ``server_gone``: the server ended it as it ends every session (a restart),
        so those idle since are dropped with it."""
        keep = not (broken or conn.closed or self._closed)
        if keep and conn.raw.get_transaction_status() != psycopg2.extensions.TRANSACTION_STATUS_IDLE:
            keep = self._rollback(conn)
        now = time.monotonic()
        with self._condition:
            self._in_use -= 1
            if keep:
                conn.returned = now
                self._idle.append(conn)  # lent again first (the newest); the oldest idle ones are closed
                conn = None  # type: ignore[assignment]
            unused = self._unused(now)
            if conn is not None and server_gone:
                # The server ended its sessions (restarted): those idle are gone too, and each would fail the next
                # request it were lent to. Replaced as they are needed.
                unused += self._idle
                self._idle.clear()
            self._condition.notify()
        for old in unused:
            old.close()
        if conn is not None:
            conn.close()

    def _unused(self, now: float) -> list[PooledConnection]:
        """Idle connections beyond ``pool_size`` not used for ``overflow_idle`` seconds (taken out of the pool)."""
        unused = []
        while len(self._idle) > self.pool_size and now - self._idle[0].returned >= self.overflow_idle:
            unused.append(self._idle.popleft())
        return unused

    def close(self) -> None:
        with self._condition:
            self._closed = True
            idle, self._idle = list(self._idle), deque()
            self._condition.notify_all()
        for conn in idle:
            conn.close()

    @property
    def num_in_use(self) -> int:
        return self._in_use

    @property
    def num_waiting(self) -> int:
        """Callers waiting for a connection to come back."""
        return self._waiting

    @property
    def num_idle(self) -> int:
        return len(self._idle)

    def _can_lend(self) -> bool:
        return self._closed or bool(self._idle) or self._in_use < self.max_connections

    def _release_slot(self) -> None:
        with self._condition:
            self._in_use -= 1
            self._condition.notify()

    def _ready(self, conn: PooledConnection | None) -> PooledConnection:
        if conn is not None and (conn.closed or self._too_old(conn) or not self._alive(conn)):
            conn.close()
            conn = None
        if conn is None:
            with translated_errors():
                conn = PooledConnection(self._connect())
        return conn

    def _too_old(self, conn: PooledConnection) -> bool:
        return self.max_age is not None and time.monotonic() - conn.created > self.max_age

    def _alive(self, conn: PooledConnection) -> bool:
        if not self.pre_ping:
            return True
        try:
            with conn.raw.cursor() as cursor:
                cursor.execute("SELECT 1")
            return True
        except psycopg2.Error:
            return False

    @staticmethod
    def _rollback(conn: PooledConnection) -> bool:
        try:
            conn.raw.rollback()
            return True
        except psycopg2.Error:
            return False


class PostgresDatastore:
    """Connection settings, the pool, and transactions for every PostgreSQL table of the ledger."""

    def __init__(self, dsn: str, *, schema: str = "", connect_timeout: int = 5,
                 idle_in_transaction_session_timeout: int = 5, lock_timeout: int = 10,
                 pool_size: int = 5, max_overflow: int = 10, pool_timeout: float = 10.0,
                 max_age: float | None = None, pre_ping: bool = False, overflow_idle: float = 60.0,
                 originator_id_type: str = "uuid") -> None:
        self.dsn = dsn
        self.schema = schema.strip()
        self.connect_timeout = connect_timeout
        self.idle_in_transaction_session_timeout = idle_in_transaction_session_timeout
        self.lock_timeout = lock_timeout
        self.originator_id_type = originator_id_type
        # The statements prepared on each connection (``execute_prepared``): they live as long as it does.
        self._prepared: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()
        self.pool = ConnectionPool(self._connect, pool_size=pool_size, max_overflow=max_overflow,
                                   timeout=pool_timeout, max_age=max_age, pre_ping=pre_ping,
                                   overflow_idle=overflow_idle)

    @functools.cached_property
    def where(self) -> str:
        """host:port/dbname of the DSN, for messages (never its password)."""
        try:
            parts = psycopg2.extensions.parse_dsn(self.dsn)
        except psycopg2.Error:
            return "(an unreadable DSN)"
        return f"{parts.get('host') or 'the local socket'}:{parts.get('port') or 5432}/{parts.get('dbname', '')}"

    def qualified(self, name: str) -> str:
        """A table or function name in the configured schema, quoted."""
        return f"{quote(self.schema)}.{quote(name)}" if self.schema else quote(name)

    def _connect(self) -> psycopg2.extensions.connection:
        # JIT compilation costs hundreds of milliseconds and pays off only for long analytical queries.
        options = (f"-c idle_in_transaction_session_timeout={self.idle_in_transaction_session_timeout * 1000}"
                   " -c jit=off")
        try:
            raw = psycopg2.connect(
                self.dsn, connect_timeout=self.connect_timeout, options=options,
                application_name="mentorship-ledger", keepalives=1, keepalives_idle=30,
                keepalives_interval=10, keepalives_count=3,
            )
        except psycopg2.OperationalError as error:  # libpq's message does not always name the server (green waits)
            message = " ".join(str(error).split())
            raise psycopg2.OperationalError(f"PostgreSQL at {self.where}: {message}") from error
        raw.autocommit = True
        return raw

    @contextlib.contextmanager
    def connection(self) -> Iterator[psycopg2.extensions.connection]:
        """A pooled connection in autocommit mode; broken ones are replaced, errors translated."""
        conn = self.pool.get()
        broken = gone = False
        try:
            with translated_errors():
                yield conn.raw
        except TRANSIENT as error:
            broken = True
            gone = conn.closed and any(sign in str(error).lower() for sign in SERVER_GONE)
            raise
        finally:
            self.pool.put(conn, broken=broken or conn.closed, server_gone=gone)

    @contextlib.contextmanager
    def cursor(self) -> Iterator[psycopg2.extensions.cursor]:
        """A cursor for single statements, each its own transaction."""
        with self.connection() as conn, conn.cursor() as cursor:
            yield cursor

    def execute_prepared(self, cursor: psycopg2.extensions.cursor, sql: str, params: tuple[Any, ...]) -> None:
        """Run ``sql`` (psycopg2's %s marks, one per parameter) as a statement prepared once per connection:
        planned once, not on every call. For a statement every request makes; its text must not vary with the
        values (they are parameters), or each variant would be kept on the connection."""
        connection = cursor.connection
        prepared = self._prepared.setdefault(connection, set())
        name = "ml_" + hashlib.sha1(sql.encode(), usedforsecurity=False).hexdigest()[:20]
        if name not in prepared:
            numbered = iter(range(1, len(params) + 1))
            cursor.execute(f"PREPARE {name} AS " + re.sub(r"%s", lambda _: f"${next(numbered)}", sql))
            prepared.add(name)
        cursor.execute(f"EXECUTE {name} ({', '.join('%s' for _ in params)})" if params else f"EXECUTE {name}",
                       params)

    @contextlib.contextmanager
    def transaction(self, *, commit: bool, snapshot: bool = False) -> Iterator[psycopg2.extensions.cursor]:
        """BEGIN ... COMMIT (or ROLLBACK when ``commit`` is false or on error); ``snapshot``: a read-only
        transaction whose statements all see one snapshot (REPEATABLE READ)."""
        with self.connection() as conn, conn.cursor() as cursor:
            cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY" if snapshot else "BEGIN")
            try:
                yield cursor
            except BaseException:
                with contextlib.suppress(psycopg2.Error):
                    cursor.execute("ROLLBACK")
                raise
            cursor.execute("COMMIT" if commit else "ROLLBACK")

    @contextlib.contextmanager
    def schema_change(self) -> Iterator[psycopg2.extensions.cursor]:
        """A transaction for DDL, serialised across processes by an advisory lock.

        Several processes starting at once against an empty database would
        otherwise race on CREATE TABLE IF NOT EXISTS and fail.
        """
        with self.transaction(commit=True) as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext('mentorship-ledger schema'))")
            if self.schema:
                cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(self.schema)}")
            yield cursor

    def close(self) -> None:
        self.pool.close()
