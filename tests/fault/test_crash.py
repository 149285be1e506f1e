"""Crash safety: acknowledged writes survive kill -9 of every process, and PostgreSQL restarts.

`pytest -m loss_demo tests/fault` runs the control experiment: the same harness
against a PostgreSQL with synchronous_commit=off, crashed under load, must see
acknowledged writes disappear (it is not run by default).
"""

from __future__ import annotations

import json
import os

import psycopg2
import pytest

from tests import pg
from tests.fault.cluster import PrivateCluster, bindir
from tests.fault.jepsen import Run, kill_processes, restart_postgres, together

pytestmark = pytest.mark.slow
ACKNOWLEDGED = int(os.environ.get("CRASH_ACKNOWLEDGED", "30"))  # commands each run must see acknowledged


def assert_safe(result: dict) -> None:
    print(json.dumps(result, indent=1))
    assert result["lost_acknowledged"] == []
    assert result["duplicated"] == []
    assert result["refused_but_stored"] == []
    assert result["views_equal_rebuild"] is True
    assert result["audit_verified"] is True
    assert 500 not in result["statuses"]
    assert result["acknowledged"] >= ACKNOWLEDGED


def private_cluster(**settings: str) -> PrivateCluster:
    if bindir() is None:
        if pg.required():
            pytest.fail("no PostgreSQL server binaries to start a private cluster with")
        pytest.skip("no PostgreSQL server binaries to start a private cluster with")
    cluster = PrivateCluster(**settings)
    cluster.start()
    return cluster


def test_sqlite_keeps_every_acknowledged_command_through_kills(tmp_path):
    run = Run({"DATABASE_URL": f"sqlite:///{tmp_path}/ledger.sqlite3"}, tmp_path, seed=7)
    run.run(kill_processes(kills_each=3), ACKNOWLEDGED)
    result = run.finish()
    assert_safe(result)
    assert result["kills"] == {"api": 3, "worker": 3}


@pytest.mark.postgres
def test_postgres_keeps_every_acknowledged_command_through_kills_and_a_restart(tmp_path):
    cluster = private_cluster()
    try:
        run = Run({"DATABASE_URL": cluster.url}, tmp_path, seed=11)
        run.run(together(kill_processes(kills_each=3), restart_postgres(cluster, times=1, crash=True, unavailable=1)),
                ACKNOWLEDGED)
        result = run.finish()
    finally:
        cluster.destroy()
    assert_safe(result)
    assert result["kills"] == {"api": 3, "worker": 3, "postgres": 1}
    during = result["statuses_during_outage"]
    assert set(during) <= {503, None, 200, 201, 409}, during  # None: the API itself was being killed
    assert during.get(503, 0) >= 1, during  # the store was down and the API said so, with Retry-After


@pytest.mark.loss_demo
def test_the_harness_sees_writes_lost_by_asynchronous_commit(tmp_path):
    cluster = private_cluster(wal_writer_delay="10000ms")
    try:
        run = Run({"DATABASE_URL": cluster.url}, tmp_path, seed=5)
        conn = psycopg2.connect(cluster.url)
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute("ALTER SYSTEM SET synchronous_commit = off")
            cursor.execute("SELECT pg_reload_conf()")
        conn.close()
        run.run(restart_postgres(cluster, times=4, crash=True), ACKNOWLEDGED)
        result = run.finish()
    finally:
        cluster.destroy()
    print(json.dumps(result, indent=1))
    assert result["lost_acknowledged"], "with synchronous_commit=off a crash must lose acknowledged writes"
