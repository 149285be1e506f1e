"""Two projection workers through a PostgreSQL restart: one stays active, the other stands by, neither dies.

Before, the standby died with a traceback when the database went away, and the active worker went on without
its locks once its connection was gone (a second worker started then took them: two active at once)."""

from __future__ import annotations

import os
import time

import psycopg2
import pytest

from projections.service import VIEW_CLASSES, Projections
from tests.e2e.processes import worker
from tests.fault.test_crash import private_cluster
from tests.support import open_ledger, start

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def _holders(url: str) -> list[int]:
    """The backends holding advisory locks (the workers' locks: one per view)."""
    with psycopg2.connect(url) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted")
        return [pid for (pid,) in cursor.fetchall()]


def _until(condition, what: str, seconds: float = 60.0) -> None:
    give_up = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < give_up, what
        time.sleep(0.2)


def test_the_active_worker_keeps_its_locks_and_the_standby_stands_by_through_a_restart(tmp_path):
    cluster = private_cluster()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POSTGRES_", "DATABASE_URL", "GUNICORN_"))}
    env.update({"DATABASE_URL": cluster.url, "PROJECTIONS_MODE": "worker", "POSTGRES_CONNECT_TIMEOUT": "2"})
    active, standby = worker(env, tmp_path / "active.log"), worker(env, tmp_path / "standby.log")
    logs = lambda: (tmp_path / "active.log").read_text() + (tmp_path / "standby.log").read_text()  # noqa: E731
    try:
        active.start()
        _until(lambda: len(_holders(cluster.url)) == len(VIEW_CLASSES), "the first worker never took its locks")
        standby.start()
        _until(lambda: "standing by" in (tmp_path / "standby.log").read_text(), "the second never stood by")

        cluster.stop("fast")
        time.sleep(2)  # both find the store gone
        cluster.start()
        _until(lambda: len(_holders(cluster.url)) == len(VIEW_CLASSES), "nobody took the locks again")
        time.sleep(2)  # a second worker taking them too would show now
        assert len(set(_holders(cluster.url))) == 1, logs()  # one worker holds every view's lock
        assert active.process.poll() is None and standby.process.poll() is None, logs()  # neither died
        assert "Traceback" not in logs()

        ledger = open_ledger(type("Store", (), {"database_url": cluster.url, "extra_env": {}})(), str(tmp_path))
        try:
            start(ledger)
            head = ledger.position()
            projections = Projections(ledger)
            _until(lambda: min(projections.positions().values()) >= head, "the views never caught up", 30)
            active.stop()  # the standby takes over
            start(ledger, mentee_id="mentee-2")
            head = ledger.position()
            _until(lambda: min(projections.positions().values()) >= head, "the standby never took over", 30)
        finally:
            ledger.close()
    finally:
        for process in (active, standby):
            process.stop()
        cluster.destroy()
