"""What every projection shares: generations of view tables, tracking, and batches.

A view keeps its tables per *generation* (``audit_trail_g1``, ...). Queries
read the live generation; a rebuild fills the next one from zero and switches
over only once it has caught up, so queries keep working meanwhile.

Tracking (the last position a view has processed) is written in the same
transaction as the view change, per batch of events; events a view ignores
are tracked too. A batch that finds its view already past its first event
changes nothing, so every event counts exactly once, whoever processes it.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import IntegrityError, Tracking, TrackingRecorder
from eventsourcing.projection import Projection

from projections.store import Cursor, ViewStore

GENERATIONS_TABLE = "projection_generations"
TRACKING_TABLE = "projection_tracking"
VERSIONS_TABLE = "projection_versions"  # the shape of each view's live tables (absent: version 1)


@dataclass(frozen=True)
class Item:
    """One event to project and its position; the event is None outside the mentorship domain.

    ``stored`` is the event as stored (type topic, state bytes), where known: the audit trail seals it to the
    entry (``audit_chain.seal``), so that verification can check the bytes without decoding them.
    """

    event: Any
    position: int
    stored: tuple[str, bytes] | None = None


def create_bookkeeping(store: ViewStore) -> None:
    """The tables that name each view's live generation and track every view's position."""
    with store.transaction(write=True) as cursor:
        if store.postgres:  # processes starting at once would race on CREATE TABLE IF NOT EXISTS
            cursor.execute("SELECT pg_advisory_xact_lock(?)", (store.lock_key("projections schema"),))
        cursor.execute(f"CREATE TABLE IF NOT EXISTS {store.table(GENERATIONS_TABLE)} "
                       "(name TEXT PRIMARY KEY, live INTEGER NOT NULL)")
        cursor.execute(f"CREATE TABLE IF NOT EXISTS {store.table(TRACKING_TABLE)} "
                       "(name TEXT PRIMARY KEY, position BIGINT NOT NULL)")
        cursor.execute(f"CREATE TABLE IF NOT EXISTS {store.table(VERSIONS_TABLE)} "
                       "(name TEXT PRIMARY KEY, version INTEGER NOT NULL)")


def live_generation(cursor: Cursor, store: ViewStore, name: str) -> int | None:
    cursor.execute(f"SELECT live FROM {store.table(GENERATIONS_TABLE)} WHERE name = ?", (name,))
    row = cursor.fetchone()
    return None if row is None else row[0]


def live_version(cursor: Cursor, store: ViewStore, name: str) -> int:
    cursor.execute(f"SELECT version FROM {store.table(VERSIONS_TABLE)} WHERE name = ?", (name,))
    row = cursor.fetchone()
    return 1 if row is None else row[0]


def record_version(cursor: Cursor, store: ViewStore, name: str, version: int) -> None:
    cursor.execute(f"INSERT INTO {store.table(VERSIONS_TABLE)} AS v (name, version) VALUES (?, ?) "
                   "ON CONFLICT (name) DO UPDATE SET version = excluded.version", (name, version))


class View(TrackingRecorder):
    """A read model in SQL: its tables in one generation, and its tracking.

    Subclasses list ``TABLES`` (logical name -> column definitions) and
    ``INDEXES``, and implement ``apply`` (the view change for a batch).
    """

    name: str = ""
    VERSION = 1  # of the tables' shape: a view whose live tables are older is rebuilt when the service starts
    IGNORED: frozenset[type] = frozenset()  # event classes this view has nothing to do with, said explicitly
    TABLES: dict[str, str] = {}
    INDEXES: tuple[tuple[str, str, str], ...] = ()  # (index name, table, columns)
    # Indexes that only queries use, not ``apply``: a rebuild makes them once its tables are full,
    # which costs far less than keeping them up to date row by row.
    QUERY_INDEXES: frozenset[str] = frozenset()

    def __init__(self, store: ViewStore, generation: int) -> None:
        self.store = store
        self.generation = generation

    @property
    def tracking_name(self) -> str:
        return f"{self.name}@{self.generation}"

    def table(self, logical: str) -> str:
        return self.store.table(f"{logical}_g{self.generation}")

    # -- schema ---------------------------------------------------------------

    def create_tables(self, cursor: Cursor, *, query_indexes: bool = True) -> None:
        """The view's tables and indexes, where missing; ``query_indexes=False`` leaves out QUERY_INDEXES."""
        types = {"DOUBLE": self.store.dialect.double, "BLOB": self.store.dialect.blob}
        wanted = [(self.table(logical), f"CREATE TABLE IF NOT EXISTS {self.table(logical)} ({columns.format(**types)})")
                  for logical, columns in self.TABLES.items()]
        for index, logical, columns in self.INDEXES:
            if not query_indexes and index in self.QUERY_INDEXES:
                continue
            physical = f"{index}_g{self.generation}"
            wanted.append((self.store.table(physical),
                           f'CREATE INDEX IF NOT EXISTS "{physical}" ON {self.table(logical)} ({columns})'))
        if self.store.postgres:
            # CREATE INDEX IF NOT EXISTS takes its table's lock before it finds the index there: a process
            # starting while a batch writes the view took the tables' locks in another order than the batch,
            # and one of them was killed as a deadlock (a server's worker failing to boot stops the server).
            # Only what is missing is created, then.
            cursor.execute("SELECT " + ", ".join(["to_regclass(?) IS NOT NULL"] * len(wanted)),
                           tuple(name for name, _ in wanted))
            present = cursor.fetchone()
            wanted = [w for w, there in zip(wanted, present, strict=True) if not there]
        for _, statement in wanted:
            cursor.execute(statement)

    def drop_tables(self, cursor: Cursor) -> None:
        for logical in self.TABLES:
            cursor.execute(f"DROP TABLE IF EXISTS {self.table(logical)}")
        cursor.execute(f"DELETE FROM {self.store.table(TRACKING_TABLE)} WHERE name = ?", (self.tracking_name,))

    def lock(self, cursor: Cursor) -> None:
        """Serialise this transaction with every other change to this view (SQLite: its write lock does)."""
        if self.store.postgres:
            cursor.execute("SELECT pg_advisory_xact_lock(?)", (self.store.lock_key(self.tracking_name),))

    # -- tracking (the library's TrackingRecorder interface) -----------------

    def insert_tracking(self, tracking: Tracking) -> None:
        with self.store.transaction(write=True) as cursor:
            self.track(cursor, tracking.notification_id)

    def max_tracking_id(self, application_name: str | None = None) -> int | None:
        with self.store.statement() as cursor:
            return self.position(cursor)

    def position(self, cursor: Cursor) -> int | None:
        cursor.execute(f"SELECT position FROM {self.store.table(TRACKING_TABLE)} WHERE name = ?",
                       (self.tracking_name,))
        row = cursor.fetchone()
        return None if row is None else row[0]

    def track(self, cursor: Cursor, position: int) -> None:
        """Record progress in the caller's transaction; never backwards, never twice."""
        cursor.execute(
            f"INSERT INTO {self.store.table(TRACKING_TABLE)} AS t (name, position) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET position = excluded.position WHERE t.position < excluded.position "
            "RETURNING position",
            (self.tracking_name, position),
        )
        if cursor.fetchone() is None:
            raise IntegrityError(f"{self.tracking_name} is already at or past position {position}")

    # -- the view change --------------------------------------------------------

    @staticmethod
    @abstractmethod
    def handled() -> set[type]:
        """The event classes this view changes for (every other one must be in IGNORED)."""

    @abstractmethod
    def apply(self, cursor: Cursor, items: Sequence[Item]) -> None:
        """Change the view for these events, in order, inside the caller's transaction."""


def handled_by(dispatcher: Any, classes: Sequence[type]) -> set[type]:
    """The classes a singledispatch function has a handler of its own for (its fallback refuses the rest)."""
    fallback = dispatcher.dispatch(object)
    return {cls for cls in classes if dispatcher.dispatch(cls) is not fallback}


class BatchProjection(Projection[View]):
    """A projection of the ledger's events into one view, a batch per transaction."""

    def process_batch(self, items: Sequence[Item]) -> int:
        """Apply the items this view has not seen yet; returns how many were new."""
        return process_together([self.view], items)


def tracked(views: Sequence[View]) -> list[int]:
    """How far each of these views (of one store) has got, in one read: positions in the order given (0: none)."""
    names = [view.tracking_name for view in views]
    with views[0].store.statement() as cursor:
        cursor.execute(f"SELECT name, position FROM {views[0].store.table(TRACKING_TABLE)} "
                       f"WHERE name IN ({', '.join('?' for _ in names)})", names)
        positions = dict(cursor.fetchall())
    return [positions.get(name) or 0 for name in names]


def process_together(views: Sequence[View], items: Sequence[Item]) -> int:
    """Apply a batch to several views of one store in one transaction (one commit, not one per view), each
    view the items it has not seen yet; returns how many items were new to any. Views are locked in the order
    of their names, so two catch-ups sharing views never wait on each other."""
    new = 0
    with views[0].store.transaction(write=True) as cursor:
        for view in sorted(views, key=lambda view: view.tracking_name):
            view.lock(cursor)
            done = view.position(cursor) or 0
            fresh = [item for item in items if item.position > done]
            if fresh:
                view.apply(cursor, [item for item in fresh if item.event is not None])
                view.track(cursor, fresh[-1].position)
                new = max(new, len(fresh))
    return new

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:  # type: ignore[override]
        """The library's one-event entry point: a batch of one."""
        self.process_batch([Item(domain_event, tracking.notification_id)])


def keyset_page(cursor: Cursor, table: str, columns: Sequence[str], where: str, params: list[Any],
                order: tuple[str, str], after: tuple[Any, Any] | None, limit: int) -> list[dict[str, Any]]:
    """Rows of ``table`` matching ``where``, in ``order`` (two columns), after the row ``after`` had."""
    cursor.execute_prepared(*keyset_sql(table, columns, where, params, order, after, limit))
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def keyset_sql(table: str, columns: Sequence[str], where: str, params: list[Any], order: tuple[str, str],
               after: tuple[Any, Any] | None, limit: int) -> tuple[str, list[Any]]:
    """``keyset_page``'s statement (``?`` marks) and its parameters."""
    if after is not None:
        first, second = order
        where += f" AND ({first} > ? OR ({first} = ? AND {second} > ?))"
        params = [*params, after[0], after[0], after[1]]
    return (f"SELECT {', '.join(columns)} FROM {table} WHERE {where} ORDER BY {', '.join(order)} LIMIT ?",
            [*params, limit])


def keyset_along(table: str, columns: Sequence[str], where: str, params: list[Any], order: tuple[str, str],
                 after: tuple[Any, Any] | None, limit: int) -> tuple[str, tuple[Any, ...]]:
    """``keyset_page``'s rows as a subquery answering one JSON array of arrays (PostgreSQL's %s marks; NULL for
    no rows), to ride along with a statement a request makes anyway (``Projections.ride_along``). For columns
    of text and whole numbers: JSON gives each back as it reads directly."""
    sql, values = keyset_sql(table, columns, where, params, order, after, limit)
    return (f"(SELECT json_agg(json_build_array({', '.join(columns)}) ORDER BY {', '.join(order)}) "
            f"FROM ({sql.replace('?', '%s')}) AS page)", tuple(values))
