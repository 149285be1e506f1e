"""An eventsourcing persistence module for PostgreSQL on psycopg2.

Select it with ``PERSISTENCE_MODULE=persistence.postgres``. Connection settings
come from ``POSTGRES_DSN`` (a libpq URL or key=value string) or, as with the
library's own module, from ``POSTGRES_DBNAME``, ``POSTGRES_HOST``,
``POSTGRES_PORT``, ``POSTGRES_USER`` and ``POSTGRES_PASSWORD``.

| variable | default |
|---|---|
| POSTGRES_SCHEMA | (the search path) |
| POSTGRES_CONNECT_TIMEOUT | 5 s |
| POSTGRES_LOCK_TIMEOUT | 10 s (waiting to append events) |
| POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT | 5 s |
| POSTGRES_POOL_SIZE / POSTGRES_MAX_OVERFLOW | 5 / 10 connections |
| POSTGRES_POOL_TIMEOUT | 10 s (waiting for a free connection) |
| POSTGRES_POOL_OVERFLOW_IDLE | 60 s (idle time before a connection beyond the pool size is closed) |
| POSTGRES_CONN_MAX_AGE | none (seconds before a connection is recycled) |
| POSTGRES_PRE_PING | no |
"""

from __future__ import annotations

from eventsourcing.persistence import AggregateRecorder, ApplicationRecorder, InfrastructureFactory, ProcessRecorder
from eventsourcing.utils import Environment, EnvType, resolve_topic, strtobool
from psycopg2.extensions import make_dsn

from persistence.pg_datastore import PostgresDatastore
from persistence.pg_recorders import (
    PostgresAggregateRecorder,
    PostgresApplicationRecorder,
    PostgresProcessRecorder,
    PostgresSubscription,
    PostgresTrackingRecorder,
)

__all__ = [
    "PostgresAggregateRecorder",
    "PostgresApplicationRecorder",
    "PostgresDatastore",
    "PostgresFactory",
    "PostgresProcessRecorder",
    "PostgresSubscription",
    "PostgresTrackingRecorder",
]


class PostgresFactory(InfrastructureFactory[PostgresTrackingRecorder]):
    """Builds the psycopg2 recorders of an application from its environment."""

    POSTGRES_DSN = "POSTGRES_DSN"
    CREATE_TABLE = "CREATE_TABLE"
    ORIGINATOR_ID_TYPE = "ORIGINATOR_ID_TYPE"

    aggregate_recorder_class = PostgresAggregateRecorder
    application_recorder_class = PostgresApplicationRecorder
    tracking_recorder_class = PostgresTrackingRecorder
    process_recorder_class = PostgresProcessRecorder

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        id_type = (self.env.get(self.ORIGINATOR_ID_TYPE) or "uuid").lower()
        if id_type not in ("uuid", "text"):
            raise OSError(f"Invalid {self.ORIGINATOR_ID_TYPE} {id_type!r}, must be 'uuid' or 'text'")
        self.datastore = PostgresDatastore(
            self._dsn(),
            schema=self.env.get("POSTGRES_SCHEMA") or "",
            connect_timeout=self._int("POSTGRES_CONNECT_TIMEOUT", 5),
            idle_in_transaction_session_timeout=self._int("POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT", 5),
            lock_timeout=self._int("POSTGRES_LOCK_TIMEOUT", 10),
            pool_size=self._int("POSTGRES_POOL_SIZE", 5),
            max_overflow=self._int("POSTGRES_MAX_OVERFLOW", 10),
            pool_timeout=float(self._int("POSTGRES_POOL_TIMEOUT", 10)),
            overflow_idle=float(self._int("POSTGRES_POOL_OVERFLOW_IDLE", 60)),
            max_age=float(self.env.get("POSTGRES_CONN_MAX_AGE")) if self.env.get("POSTGRES_CONN_MAX_AGE") else None,
            pre_ping=strtobool(self.env.get("POSTGRES_PRE_PING") or "no"),
            originator_id_type=id_type,
        )

    def _dsn(self) -> str:
        dsn = self.env.get(self.POSTGRES_DSN)
        if dsn:
            return dsn
        dbname = self.env.get("POSTGRES_DBNAME")
        if not dbname:
            raise OSError("Set POSTGRES_DSN, or POSTGRES_DBNAME with POSTGRES_HOST, _PORT, _USER, _PASSWORD")
        parts = {
            "dbname": dbname,
            "host": self.env.get("POSTGRES_HOST") or None,
            "port": self.env.get("POSTGRES_PORT") or None,
            "user": self.env.get("POSTGRES_USER") or None,
            "password": self.env.get("POSTGRES_PASSWORD") or None,
        }
        return make_dsn(**{k: v for k, v in parts.items() if v is not None})

    def _int(self, key: str, default: int) -> int:
        raw = (self.env.get(key) or "").strip()
        if not raw:
            return default
        try:
            return int(raw)
        except ValueError:
            raise OSError(f"PostgreSQL setting {key} must be an integer, not {raw!r}") from None

    def _prefix(self, default: str) -> str:
        return self.env.name.lower() or default

    def aggregate_recorder(self, purpose: str = "events") -> AggregateRecorder:
        recorder = self.aggregate_recorder_class(
            self.datastore, events_table_name=f"{self._prefix('stored')}_{purpose}",
            append_only=purpose != "snapshots",  # older snapshots are deleted
        )
        return self._created(recorder)

    def application_recorder(self) -> ApplicationRecorder:
        topic = self.env.get(self.APPLICATION_RECORDER_TOPIC)
        recorder_class = resolve_topic(topic) if topic else self.application_recorder_class
        recorder = recorder_class(self.datastore, events_table_name=f"{self._prefix('stored')}_events")
        return self._created(recorder)

    def tracking_recorder(
        self, tracking_recorder_class: type[PostgresTrackingRecorder] | None = None
    ) -> PostgresTrackingRecorder:
        if tracking_recorder_class is None:
            topic = self.env.get(self.TRACKING_RECORDER_TOPIC)
            tracking_recorder_class = resolve_topic(topic) if topic else self.tracking_recorder_class
        recorder = tracking_recorder_class(
            self.datastore, tracking_table_name=f"{self._prefix('notification')}_tracking"
        )
        return self._created(recorder)

    def process_recorder(self) -> ProcessRecorder:
        topic = self.env.get(self.PROCESS_RECORDER_TOPIC)
        recorder_class = resolve_topic(topic) if topic else self.process_recorder_class
        recorder = recorder_class(
            self.datastore,
            events_table_name=f"{self._prefix('stored')}_events",
            tracking_table_name=f"{self._prefix('notification')}_tracking",
        )
        return self._created(recorder)

    def _created(self, recorder):  # type: ignore[no-untyped-def]
        if strtobool(self.env.get(self.CREATE_TABLE) or "yes"):
            recorder.create_table()
        return recorder

    def close(self) -> None:
        self.datastore.close()


Factory = PostgresFactory
