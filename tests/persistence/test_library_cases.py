"""The eventsourcing library's own recorder, factory and application test cases, on our psycopg2 module."""

from __future__ import annotations

import os
from typing import Any

import pytest
from eventsourcing.tests import application as lib_application
from eventsourcing.tests import persistence as lib
from eventsourcing.utils import Environment

from persistence.pg_datastore import PostgresDatastore
from persistence.postgres import (
    PostgresAggregateRecorder,
    PostgresApplicationRecorder,
    PostgresFactory,
    PostgresProcessRecorder,
    PostgresTrackingRecorder,
)
from tests import pg

pytestmark = pytest.mark.postgres


class FreshSchema:
    """Each test gets its own schema in the test database, dropped afterwards."""

    def setUp(self) -> None:
        pg.require_postgres()
        self.schema = pg.new_schema()
        self.datastore = PostgresDatastore(pg.database_url(), schema=self.schema, pool_size=4, max_overflow=16)
        super().setUp()

    def tearDown(self) -> None:
        super().tearDown()
        self.datastore.close()
        pg.drop_schema(self.schema)


class TestAggregateRecorder(FreshSchema, lib.AggregateRecorderTestCase):
    def create_recorder(self) -> PostgresAggregateRecorder:
        recorder = PostgresAggregateRecorder(self.datastore, events_table_name="stored_events")
        recorder.create_table()
        return recorder


class TestApplicationRecorder(FreshSchema, lib.ApplicationRecorderTestCase):
    def create_recorder(self) -> PostgresApplicationRecorder:
        recorder = PostgresApplicationRecorder(self.datastore, events_table_name="stored_events")
        recorder.create_table()
        return recorder

    def test_insert_subscribe(self) -> None:
        self.optional_test_insert_subscribe()


class TestTrackingRecorder(FreshSchema, lib.TrackingRecorderTestCase):
    def create_recorder(self) -> PostgresTrackingRecorder:
        recorder = PostgresTrackingRecorder(self.datastore, tracking_table_name="notification_tracking")
        recorder.create_table()
        return recorder


class TestProcessRecorder(FreshSchema, lib.ProcessRecorderTestCase):
    def create_recorder(self) -> PostgresProcessRecorder:
        recorder = PostgresProcessRecorder(
            self.datastore, events_table_name="stored_events", tracking_table_name="notification_tracking"
        )
        recorder.create_table()
        return recorder


class TestNonInterleavingNotificationIDs(FreshSchema, lib.NonInterleavingNotificationIDsBaseCase):
    insert_num = 1000

    def create_recorder(self) -> PostgresApplicationRecorder:
        recorder = PostgresApplicationRecorder(self.datastore, events_table_name="stored_events")
        recorder.create_table()
        return recorder


class TrackingRecorderSubclass(PostgresTrackingRecorder):
    pass


class TestInfrastructureFactory(lib.InfrastructureFactoryTestCase[PostgresFactory]):
    def setUp(self) -> None:
        pg.require_postgres()
        self.schema = pg.new_schema()
        self.env = Environment("TestCase", {
            "PERSISTENCE_MODULE": "persistence.postgres",
            "POSTGRES_DSN": pg.database_url(),
            "POSTGRES_SCHEMA": self.schema,
        })
        super().setUp()

    def tearDown(self) -> None:
        super().tearDown()
        pg.drop_schema(self.schema)

    def expected_factory_class(self) -> type[PostgresFactory]:
        return PostgresFactory

    def expected_aggregate_recorder_class(self) -> type[PostgresAggregateRecorder]:
        return PostgresAggregateRecorder

    def expected_application_recorder_class(self) -> type[PostgresApplicationRecorder]:
        return PostgresApplicationRecorder

    def expected_tracking_recorder_class(self) -> type[PostgresTrackingRecorder]:
        return PostgresTrackingRecorder

    def tracking_recorder_subclass(self) -> type[PostgresTrackingRecorder]:
        return TrackingRecorderSubclass

    def expected_process_recorder_class(self) -> type[PostgresProcessRecorder]:
        return PostgresProcessRecorder


class PostgresEnvironment:
    """The library's application tests read the store from os.environ."""

    def setUp(self) -> None:
        pg.require_postgres()
        self.schema = pg.new_schema()
        self.saved: dict[str, Any] = {}
        for key, value in {
            "PERSISTENCE_MODULE": "persistence.postgres",
            "POSTGRES_DSN": pg.database_url(),
            "POSTGRES_SCHEMA": self.schema,
        }.items():
            self.saved[key] = os.environ.get(key)
            os.environ[key] = value
        super().setUp()

    def tearDown(self) -> None:
        super().tearDown()
        for key, value in self.saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        pg.drop_schema(self.schema)


class TestExampleApplication(PostgresEnvironment, lib_application.ExampleApplicationTestCase):
    expected_factory_topic = "persistence.postgres:PostgresFactory"


# The library's own test asserts that a DeprecationWarning is recorded.
@pytest.mark.filterwarnings("always::DeprecationWarning")
class TestApplication(PostgresEnvironment, lib_application.ApplicationTestCase):
    pass
