"""What else lives in the ledger's database besides events, for whichever store it uses."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import AggregateRecorder, StoredEvent

from persistence.pg_recorders import PostgresAggregateRecorder
from persistence.postgres import PostgresFactory
from persistence.tokens import TokenStore


def store_kind(application: Application) -> str:
    """'sqlite' or 'postgresql'."""
    return "postgresql" if isinstance(application.factory, PostgresFactory) else "sqlite"


def token_store_for(application: Application) -> TokenStore:
    """A token store in the same database as the application's events."""
    if store_kind(application) == "postgresql":
        datastore = application.factory.datastore
        store = TokenStore(datastore, placeholder="%s", table=datastore.qualified("api_tokens"),
                           reader=datastore.cursor)
    else:
        store = TokenStore(application.factory.datastore, placeholder="?")
    store.create_table()
    return store


def delete_snapshots_before(recorder: AggregateRecorder, originator_id: Any, version: int) -> None:
    """Delete an aggregate's snapshots older than ``version``: loading needs only the newest."""
    if isinstance(recorder, PostgresAggregateRecorder):
        with recorder.datastore.transaction(commit=True) as cursor:
            cursor.execute(f"DELETE FROM {recorder.table} WHERE originator_id = %s AND originator_version < %s",
                           (str(originator_id), version))
        return
    stored_id = originator_id.hex if isinstance(originator_id, UUID) else originator_id  # as the library stores it
    with recorder.datastore.transaction(commit=True) as cursor:  # the library's SQLite recorder
        cursor.execute(f"DELETE FROM {recorder.events_table_name} WHERE originator_id = ? AND originator_version < ?",
                       (stored_id, version))


def stored_rows(recorder: AggregateRecorder) -> Iterator[StoredEvent]:
    """Every row of an aggregate recorder's table (snapshots), in key order, a thousand at a time."""
    postgres = isinstance(recorder, PostgresAggregateRecorder)
    table = recorder.table if postgres else recorder.events_table_name
    mark = "%s" if postgres else "?"
    key = "originator_id::text" if postgres else "originator_id"
    after: tuple[str, int] = ("", -1)
    while True:
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(f"SELECT originator_id, originator_version, topic, state FROM {table} "
                           f"WHERE ({key}, originator_version) > ({mark}, {mark}) "
                           f"ORDER BY {key}, originator_version LIMIT 1000", after)
            rows = [tuple(row) for row in cursor.fetchall()]
        for originator_id, version, topic, state in rows:
            yield StoredEvent(originator_id=UUID(str(originator_id)), originator_version=version, topic=topic,
                              state=bytes(state))
        if len(rows) < 1000:
            return
        after = (str(rows[-1][0]), rows[-1][1])


def delete_unsigned_snapshots(recorder: AggregateRecorder, magic: bytes) -> None:
    """Delete snapshots written without a signature (by releases before 0.2.0): derived, never to be used."""
    if isinstance(recorder, PostgresAggregateRecorder):
        with recorder.datastore.transaction(commit=True) as cursor:
            cursor.execute(f"DELETE FROM {recorder.table} WHERE substring(state from 1 for %s) <> %s",
                           (len(magic), magic))
        return
    with recorder.datastore.transaction(commit=True) as cursor:
        cursor.execute(f"DELETE FROM {recorder.events_table_name} WHERE substr(state, 1, ?) <> ?",
                       (len(magic), magic))


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
