"""eventsourcing recorders on PostgreSQL through psycopg2.

Positions (notification ids) are given out under an EXCLUSIVE lock on the
events table, as max + 1, inside the inserting transaction: commits happen in
position order and positions have no gaps, so a reader tailing by position
never passes over an event that commits later.
"""

from __future__ import annotations

import select
import time
from collections.abc import Sequence
from typing import Any
from uuid import UUID

import psycopg2
from eventsourcing import persistence as es
from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    Notification,
    ProcessRecorder,
    StoredEvent,
    Subscription,
    Tracking,
    TrackingRecorder,
)

from persistence.pg_datastore import TRANSIENT, PostgresDatastore, Startup, quote, retry_transient, translated_errors

AUTOVACUUM = (
    " WITH (autovacuum_vacuum_threshold = 100000000, autovacuum_vacuum_scale_factor = 0.5,"
    " autovacuum_analyze_threshold = 1000, autovacuum_analyze_scale_factor = 0.01)"
)


class PostgresRecorder:
    """Holds the datastore and the DDL of a recorder; creates its tables once, safely."""

    def __init__(self, datastore: PostgresDatastore) -> None:
        self.datastore = datastore
        self.create_table_statements: list[str] = []

    def create_table(self) -> None:
        """Create the tables (waiting out a database that is still starting: ``Startup``)."""
        Startup.wait_out(self._create_tables)

    def _create_tables(self) -> None:
        with self.datastore.schema_change() as cursor:
            for statement in self.create_table_statements:
                cursor.execute(statement)


class PostgresAggregateRecorder(PostgresRecorder, AggregateRecorder):
    """Events (or snapshots) of aggregates, keyed by (originator_id, originator_version)."""

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events",
                 append_only: bool = True) -> None:
        super().__init__(datastore)
        self.events_table_name = events_table_name
        self.table = datastore.qualified(events_table_name)
        self.id_type = datastore.originator_id_type
        self.append_only = append_only
        self.create_table_statements.append(self._create_events_table())
        if not append_only:
            # Rows are deleted here (older snapshots): the default autovacuum must reclaim them, also on a
            # table created by an earlier release with the append-only settings.
            self.create_table_statements.append(
                f"ALTER TABLE {self.table} RESET (autovacuum_vacuum_threshold, autovacuum_vacuum_scale_factor)")
        self.insert_statement = (
            f"INSERT INTO {self.table} (originator_id, originator_version, topic, state) "
            f"SELECT * FROM unnest(%s::{self.id_type}[], %s::bigint[], %s::text[], %s::bytea[])"
        )

    def _create_events_table(self) -> str:
        return (
            f"CREATE TABLE IF NOT EXISTS {self.table} ("
            f"originator_id {self.id_type} NOT NULL, originator_version bigint NOT NULL, "
            "topic text NOT NULL, state bytea NOT NULL, "
            "PRIMARY KEY (originator_id, originator_version))" + (AUTOVACUUM if self.append_only else "")
        )

    @staticmethod
    def _columns(stored_events: Sequence[StoredEvent]) -> tuple[list[Any], list[int], list[str], list[bytes]]:
        return (
            [e.originator_id for e in stored_events],
            [e.originator_version for e in stored_events],
            [e.topic for e in stored_events],
            [bytes(e.state) for e in stored_events],
        )

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        if stored_events:
            self._write(stored_events, lambda cursor: cursor.execute(self.insert_statement, self._columns(stored_events)))
        return None

    def _write(self, stored_events: Sequence[StoredEvent], run: Any) -> Any:
        """Run a write; if its acknowledgement is lost, find out whether it committed.

        A write whose commit reply never arrived may well have been committed:
        it is then reported as done (not as a failure, which would invite a
        duplicate), and otherwise tried again.
        """
        for attempt in range(8):
            try:
                with self.datastore.cursor() as cursor:
                    return run(cursor)
            except TRANSIENT:
                if attempt == 7:
                    raise
                time.sleep(min(0.1 * 2**attempt, 2.0))
                if self._already_written(stored_events):
                    return self._written_result(stored_events)
        raise AssertionError("unreachable")  # pragma: no cover

    @retry_transient()
    def _already_written(self, stored_events: Sequence[StoredEvent]) -> bool:
        first = stored_events[0]
        with self.datastore.cursor() as cursor:
            cursor.execute(
                f"SELECT state FROM {self.table} WHERE originator_id = %s AND originator_version = %s",
                (first.originator_id, first.originator_version),
            )
            row = cursor.fetchone()
        return row is not None and bytes(row[0]) == bytes(first.state)

    def _written_result(self, stored_events: Sequence[StoredEvent]) -> Any:
        return None

    @retry_transient()
    def select_events(self, originator_id: UUID | str, *, gt: int | None = None, lte: int | None = None,
                      desc: bool = False, limit: int | None = None) -> Sequence[StoredEvent]:
        statement = f"SELECT originator_version, topic, state FROM {self.table} WHERE originator_id = %s"
        params: list[Any] = [originator_id]
        if gt is not None:
            statement += " AND originator_version > %s"
            params.append(gt)
        if lte is not None:
            statement += " AND originator_version <= %s"
            params.append(lte)
        statement += " ORDER BY originator_version " + ("DESC" if desc else "ASC")
        if limit is not None:
            statement += " LIMIT %s"
            params.append(limit)
        with self.datastore.cursor() as cursor:
            cursor.execute(statement, params)
            rows = cursor.fetchall()
        return [StoredEvent(originator_id, version, topic, bytes(state)) for version, topic, state in rows]


class PostgresApplicationRecorder(PostgresAggregateRecorder, ApplicationRecorder):
    """Aggregate events that also form one totally ordered, gap-free sequence of positions."""

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        self.channel = f"{datastore.schema}_{events_table_name}" if datastore.schema else events_table_name
        self.insert_function = datastore.qualified(f"{events_table_name}_insert")
        self.create_table_statements += [
            f"CREATE UNIQUE INDEX IF NOT EXISTS {quote(events_table_name + '_notification_id_idx')} "
            f"ON {self.table} (notification_id)",
            self._create_insert_function(),
        ]
        self.insert_statement = (
            f"SELECT {self.insert_function}(%s::{self.id_type}[], %s::bigint[], %s::text[], %s::bytea[])"
        )

    def _create_events_table(self) -> str:
        return (
            f"CREATE TABLE IF NOT EXISTS {self.table} ("
            f"originator_id {self.id_type} NOT NULL, originator_version bigint NOT NULL, "
            "topic text NOT NULL, state bytea NOT NULL, notification_id bigint NOT NULL, "
            "PRIMARY KEY (originator_id, originator_version))" + (AUTOVACUUM if self.append_only else "")
        )

    def _create_insert_function(self) -> str:
        # One round trip per write: lock, number, insert and notify in a function.
        return f"""
CREATE OR REPLACE FUNCTION {self.insert_function}(
    ids {self.id_type}[], versions bigint[], topics text[], states bytea[])
RETURNS SETOF bigint LANGUAGE plpgsql AS $body$
DECLARE
    last_id bigint;
BEGIN
    PERFORM set_config('lock_timeout', '{int(self.datastore.lock_timeout)}s', true);
    LOCK TABLE {self.table} IN EXCLUSIVE MODE;
    SELECT COALESCE(MAX(notification_id), 0) INTO last_id FROM {self.table};
    PERFORM pg_notify({_literal(self.channel)}, '');
    RETURN QUERY
        INSERT INTO {self.table} (originator_id, originator_version, topic, state, notification_id)
        SELECT e.i, e.v, e.t, e.s, last_id + e.n
        FROM unnest(ids, versions, topics, states) WITH ORDINALITY AS e(i, v, t, s, n)
        ORDER BY e.n
        RETURNING notification_id;
END
$body$"""

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        if not stored_events:
            return []
        return self._write(stored_events, lambda cursor: self._insert(cursor, stored_events))

    def _insert(self, cursor: Any, stored_events: Sequence[StoredEvent]) -> list[int]:
        cursor.execute(self.insert_statement, self._columns(stored_events))
        return sorted(row[0] for row in cursor.fetchall())

    @retry_transient()
    def _written_result(self, stored_events: Sequence[StoredEvent]) -> list[int]:
        ids = []
        with self.datastore.cursor() as cursor:
            for event in stored_events:
                cursor.execute(
                    f"SELECT notification_id FROM {self.table} WHERE originator_id = %s AND originator_version = %s",
                    (event.originator_id, event.originator_version),
                )
                ids.append(cursor.fetchone()[0])
        return ids

    @retry_transient()
    def select_notifications(self, start: int | None, limit: int, stop: int | None = None,
                             topics: Sequence[str] = (), *, inclusive_of_start: bool = True) -> Sequence[Notification]:
        statement = (
            f"SELECT notification_id, originator_id, originator_version, topic, state FROM {self.table} WHERE TRUE"
        )
        params: list[Any] = []
        if start is not None:
            statement += " AND notification_id >= %s" if inclusive_of_start else " AND notification_id > %s"
            params.append(start)
        if stop is not None:
            statement += " AND notification_id <= %s"
            params.append(stop)
        if topics:
            statement += " AND topic = ANY(%s)"
            params.append(list(topics))
        statement += " ORDER BY notification_id LIMIT %s"
        params.append(limit)
        with self.datastore.cursor() as cursor:
            cursor.execute(statement, params)
            rows = cursor.fetchall()
        return [Notification(id=n, originator_id=o, originator_version=v, topic=t, state=bytes(s))
                for n, o, v, t, s in rows]

    @retry_transient()
    def max_notification_id(self) -> int | None:
        with self.datastore.cursor() as cursor:
            cursor.execute(f"SELECT MAX(notification_id) FROM {self.table}")
            return cursor.fetchone()[0]

    def subscribe(self, gt: int | None = None, topics: Sequence[str] = ()) -> Subscription[ApplicationRecorder]:
        return PostgresSubscription(self, gt=gt, topics=topics)

    def listener(self) -> Listener:
        """A connection woken by every commit of new events (LISTEN/NOTIFY)."""
        return Listener(self)


class PostgresTrackingRecorder(PostgresRecorder, TrackingRecorder):
    """The last position each named consumer has processed: one row per name, only ever rising."""

    def __init__(self, datastore: PostgresDatastore, *, tracking_table_name: str = "notification_tracking",
                 **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self.tracking_table_name = tracking_table_name
        self.tracking_table = datastore.qualified(tracking_table_name)
        self.create_table_statements.append(
            f"CREATE TABLE IF NOT EXISTS {self.tracking_table} ("
            "application_name text PRIMARY KEY, notification_id bigint NOT NULL)"
        )
        self.insert_tracking_statement = (
            f"INSERT INTO {self.tracking_table} AS t (application_name, notification_id) VALUES (%s, %s) "
            "ON CONFLICT (application_name) DO UPDATE SET notification_id = EXCLUDED.notification_id "
            "WHERE t.notification_id < EXCLUDED.notification_id RETURNING notification_id"
        )

    @retry_transient()
    def insert_tracking(self, tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            self._insert_tracking(cursor, tracking)

    def _insert_tracking(self, cursor: Any, tracking: Tracking) -> None:
        """Record progress in the caller's transaction; a lower or equal position is refused."""
        cursor.execute(self.insert_tracking_statement, (tracking.application_name, tracking.notification_id))
        if cursor.fetchone() is None:
            raise es.IntegrityError(
                f"Tracking for {tracking.application_name} is already at or past {tracking.notification_id}"
            )

    @retry_transient()
    def max_tracking_id(self, application_name: str) -> int | None:
        with self.datastore.cursor() as cursor:
            cursor.execute(
                f"SELECT notification_id FROM {self.tracking_table} WHERE application_name = %s",
                (application_name,),
            )
            row = cursor.fetchone()
        return None if row is None else row[0]


class PostgresProcessRecorder(PostgresTrackingRecorder, PostgresApplicationRecorder, ProcessRecorder):
    """Writes new events and the tracking of what caused them in one transaction."""

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events",
                 tracking_table_name: str = "notification_tracking") -> None:
        super().__init__(datastore, tracking_table_name=tracking_table_name, events_table_name=events_table_name)

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        tracking: Tracking | None = kwargs.get("tracking")
        if tracking is None:
            return super().insert_events(stored_events)
        return self._insert_with_tracking(stored_events, tracking)

    @retry_transient()
    def _insert_with_tracking(self, stored_events: Sequence[StoredEvent], tracking: Tracking) -> list[int]:
        with self.datastore.transaction(commit=True) as cursor:
            self._insert_tracking(cursor, tracking)
            return self._insert(cursor, stored_events) if stored_events else []


class Listener:
    """A connection that LISTENs to an events table's channel, to wake readers when events commit."""

    def __init__(self, recorder: PostgresApplicationRecorder, check_interval: float = 0.1) -> None:
        self.recorder = recorder
        self.pool = recorder.datastore.pool
        self.check_interval = check_interval
        self.conn = self._listening()

    def _listening(self) -> Any:
        conn = self.pool.get()
        try:
            with translated_errors(), conn.raw.cursor() as cursor:
                cursor.execute(f"LISTEN {quote(self.recorder.channel)}")
        except BaseException:
            self.pool.put(conn, broken=True)
            raise
        return conn

    def wait(self, timeout: float, stopped: Any = lambda: False) -> bool:
        """True when a NOTIFY arrived within ``timeout`` seconds; False on timeout or stop."""
        deadline = time.monotonic() + timeout
        while not stopped() and time.monotonic() < deadline:
            try:
                readable, _, _ = select.select([self.conn.raw], [], [], self.check_interval)
                if readable:
                    self.conn.raw.poll()
            except (OSError, ValueError, psycopg2.Error):
                self._reconnect(stopped)
                return True  # events may have been committed while the connection was down
            if self.conn.raw.notifies:
                self.conn.raw.notifies.clear()
                return True
        return False

    def _reconnect(self, stopped: Any) -> None:
        self.pool.put(self.conn, broken=True)
        self.conn = None
        while not stopped():
            try:
                self.conn = self._listening()
                return
            except TRANSIENT:
                time.sleep(1.0)

    def close(self) -> None:
        if self.conn is None:
            return
        conn, self.conn = self.conn, None
        try:
            with conn.raw.cursor() as cursor:
                cursor.execute("UNLISTEN *")
            self.pool.put(conn)
        except psycopg2.Error:
            self.pool.put(conn, broken=True)


class PostgresSubscription(Subscription[PostgresApplicationRecorder]):
    """Notifications after a position, then new ones as they are committed.

    It LISTENs before its first read, so an event committed between that read
    and the wait is not missed, and it reads again every ``poll_interval``
    seconds even without a NOTIFY, so a lost notification costs a delay, never
    an event.
    """

    batch_size = 500
    poll_interval = 1.0

    def __init__(self, recorder: PostgresApplicationRecorder, gt: int | None = None,
                 topics: Sequence[str] = ()) -> None:
        super().__init__(recorder=recorder, gt=gt, topics=topics)
        self._buffer: list[Notification] = []
        self._listener: Listener | None = Listener(recorder)

    def __next__(self) -> Notification:
        while not self._has_been_stopped:
            if self._buffer:
                notification = self._buffer.pop(0)
                self._last_notification_id = notification.id
                return notification
            self._buffer = list(self._recorder.select_notifications(
                start=self._last_notification_id or 0, limit=self.batch_size,
                topics=self._topics, inclusive_of_start=False,
            ))
            if not self._buffer and self._listener is not None:
                self._listener.wait(self.poll_interval, lambda: self._has_been_stopped)
        self._release()
        raise StopIteration

    def __exit__(self, *args: object, **kwargs: Any) -> None:
        super().__exit__(*args, **kwargs)
        self._release()

    def _release(self) -> None:
        if self._listener is not None:
            listener, self._listener = self._listener, None
            listener.close()

    def __del__(self) -> None:
        if getattr(self, "_listener", None) is not None:
            self._release()


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
