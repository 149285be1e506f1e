"""The production server started while PostgreSQL is down: it answers at once (liveness 200, everything else 503
problem+json with Retry-After) and serves once PostgreSQL is back, without anyone restarting it.

Before, a worker whose application could not load stopped the whole server: an API restarted during a
database outage left its port unanswered for good (and the crash harness's restart then failed)."""

from __future__ import annotations

import os
import re
import threading
import time
from urllib.parse import urlsplit

import pytest
import requests

from api.errors import PROBLEM_JSON
from tests import pg
from tests.e2e.processes import Process, Server, compose_command, issue_token
from tests.fault.test_crash import private_cluster

pytestmark = pytest.mark.slow


def _answer(url: str, deadline: float = 30.0) -> requests.Response:
    """The first answer the server gives to ``url`` (its workers are still starting before)."""
    give_up = time.monotonic() + deadline
    while True:
        try:
            return requests.get(url, timeout=5)
        except requests.ConnectionError:
            if time.monotonic() > give_up:
                raise
            time.sleep(0.1)


def _env(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POSTGRES_", "DATABASE_URL", "GUNICORN_"))}
    env.update({"DATABASE_URL": database_url, "COMMANDS_PER_MINUTE": "0", "POSTGRES_CONNECT_TIMEOUT": "2"})
    return env


@pytest.mark.postgres
def test_a_server_started_while_postgres_is_down_answers_503_then_serves_when_it_is_back(tmp_path):
    cluster = private_cluster()
    log = tmp_path / "api.log"
    try:
        cluster.stop("fast")
        env = _env(cluster.url)
        server = Server(env, log)
        server.launch()  # not waiting for readiness: it cannot be ready yet
        try:
            assert _answer(f"{server.url}/healthz").status_code == 200  # alive: no reason to restart it
            for path in ("/readyz", "/v1/relationships", "/openapi.json"):
                answer = requests.get(f"{server.url}{path}", timeout=5)
                assert answer.status_code == 503, (path, answer.status_code, answer.text)
                assert answer.headers["Content-Type"] == PROBLEM_JSON
                assert answer.headers["Retry-After"] == "1"
                assert answer.json()["detail"] == ("The event store is not reachable." if path == "/readyz" else
                                                   "The event store is unavailable; try again shortly.")
            created = requests.post(f"{server.url}/v1/relationships", timeout=5,
                                    json={"program_id": "p", "mentor_id": "a", "mentee_id": "b"})
            assert created.status_code == 503
            give_up = time.monotonic() + 30
            while log.read_text().count("Worker waiting for the event store") < Server.WORKERS:
                assert time.monotonic() < give_up, log.read_text()[-3000:]
                time.sleep(0.1)
            text = log.read_text()
            assert "Worker ready" not in text
            assert f"PostgreSQL at 127.0.0.1:{cluster.port}/postgres: Connection refused" in text  # where, and why
            master = server.process.pid

            cluster.start()
            give_up = time.monotonic() + 60
            while requests.get(f"{server.url}/readyz", timeout=5).status_code != 200 or not server.workers_ready():
                assert time.monotonic() < give_up, log.read_text()[-3000:]
                time.sleep(0.2)
            assert server.process.pid == master and server.process.poll() is None  # the same server, still up
            ready = set(re.findall(r"Worker ready \(pid: (\d+)\)", log.read_text()))
            assert len(ready) == Server.WORKERS  # each worker loaded the application itself
            token = {"Authorization": f"Bearer {issue_token(env, 'coordinator', 'ada')}"}
            for _ in range(2 * Server.WORKERS):  # each worker, whichever answers
                created = requests.post(f"{server.url}/v1/relationships", headers=token, timeout=10,
                                        json={"program_id": "p", "mentor_id": "a", "mentee_id": "b"})
                assert created.status_code == 201, created.text
                shown = requests.get(f"{server.url}/v1/relationships/{created.json()['id']}", headers=token,
                                     timeout=10)
                assert shown.status_code == 200 and shown.json()["mentor_id"] == "a"
        finally:
            server.stop()
    finally:
        cluster.destroy()


@pytest.mark.postgres
def test_a_wrong_setting_still_stops_the_server_at_once_and_says_why(tmp_path):
    """A database that does not exist is not an outage to wait out: answering 503 for ever would hide it."""
    pg.require_postgres()
    url = urlsplit(pg.database_url())._replace(path="/no_such_database_for_the_ledger").geturl()
    log = tmp_path / "api.log"
    server = Server(_env(url), log)
    server.launch()
    try:
        assert server.process.wait(60) != 0  # gunicorn stops: a worker failed to boot
    finally:
        server.stop()
    text = log.read_text()
    assert 'database "no_such_database_for_the_ledger" does not exist' in text, text[-3000:]
    assert "Worker failed to boot" in text and "Worker waiting for the event store" not in text


def test_a_server_starting_on_an_sqlite_file_another_process_holds_waits_for_it(tmp_path):
    """A new SQLite file held by another process while the server starts: the server comes up once it is free.
    (Seen in the suite: of two workers starting on one new file, one was refused at once, "database is locked",
    switching it to WAL while the other created its tables; it failed to boot and gunicorn stopped. That
    interleaving is SQLite's to choose, so this test does not force it; ``test_unavailable`` checks the error is
    one a worker now waits out, answering 503.)"""
    import sqlite3

    path = tmp_path / "ledger.sqlite3"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")  # a new file, in rollback mode, held: no one may switch it to WAL
    holder.execute("CREATE TABLE held (x)")
    release = threading.Timer(3.0, lambda: (holder.execute("COMMIT"), holder.close()))
    log = tmp_path / "api.log"
    server = Server(_env(f"sqlite:///{path}"), log)
    server.launch()
    release.start()  # as the other worker's table creation ends (here: seconds, to be seen)
    try:
        give_up = time.monotonic() + 60
        while not server.workers_ready():
            assert time.monotonic() < give_up and server.process.poll() is None, log.read_text()[-3000:]
            time.sleep(0.2)
        assert requests.get(f"{server.url}/readyz", timeout=10).status_code == 200
        assert "Worker failed to boot" not in log.read_text()
    finally:
        release.join()
        server.stop()


def test_the_production_server_refuses_an_sqlite_file_removed_under_it(tmp_path):
    """Both gunicorn workers: once the file is removed, commands answer 503 (before: 201, written to the removed
    file and lost), the log names the file, liveness still answers; nothing makes an empty store at the path."""
    path = tmp_path / "ledger.sqlite3"
    env = _env(f"sqlite:///{path}")
    coordinator = issue_token(env, "coordinator", "ada")
    log = tmp_path / "api.log"
    server = Server(env, log)
    server.start()
    try:
        headers = {"Authorization": f"Bearer {coordinator}"}
        body = {"program_id": "p", "mentor_id": "mentor-1", "mentee_id": "mentee-1", "goals": ["Listen"]}
        assert requests.post(f"{server.url}/v1/relationships", json=body, headers=headers,
                             timeout=10).status_code == 201
        os.remove(path)
        for _ in range(20):  # new connections each time: the kernel hands them to either worker
            answer = requests.post(f"{server.url}/v1/relationships", json=body, headers=headers, timeout=10)
            assert answer.status_code == 503, answer.text
            assert answer.headers["Content-Type"] == PROBLEM_JSON and answer.headers["Retry-After"] == "1"
        assert requests.get(f"{server.url}/readyz", timeout=10).status_code == 503
        assert requests.get(f"{server.url}/healthz", timeout=10).status_code == 200
        assert not path.exists()
    finally:
        server.stop()
    text = log.read_text()
    assert f"The SQLite file {path} was removed while this process had it open" in text, text[-3000:]


def test_a_projection_worker_whose_sqlite_file_is_removed_stops_saying_why(tmp_path):
    """Nothing to wait for once the file went (before: 'store unavailable; retrying' every second, forever):
    it exits with status 1 and the reason, for its supervisor to start it again on what is at the path."""
    path = tmp_path / "ledger.sqlite3"
    env = _env(f"sqlite:///{path}")
    issue_token(env, "coordinator", "ada")  # the store exists
    log = tmp_path / "worker.log"
    worker = Process([*compose_command("projector"), "--poll-interval", "0.2"], env, log)
    worker.start()
    try:
        give_up = time.monotonic() + 30
        while "projection worker started" not in log.read_text():
            assert time.monotonic() < give_up and worker.process.poll() is None, log.read_text()[-3000:]
            time.sleep(0.1)
        os.remove(path)
        assert worker.process.wait(30) == 1
    finally:
        worker.stop()
    text = log.read_text()
    assert f"Error: The SQLite file {path} was removed while this process had it open" in text, text[-3000:]
    assert "retrying" not in text
