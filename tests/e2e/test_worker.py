"""The projection worker as its own process: read-your-writes through it, and kill -9 in mid-batch."""

from __future__ import annotations

import signal
import time

import pytest
import requests

from projections.service import VIEW_CLASSES, Projections
from tests.e2e.processes import Server, issue_token, service_env, worker
from tests.projections.history import random_history
from tests.projections.test_views import dump
from tests.support import open_ledger

pytestmark = pytest.mark.slow


def test_reads_wait_for_the_worker(store, tmp_path):
    env = {**service_env(store), "PROJECTIONS_MODE": "worker"}
    token = {"Authorization": f"Bearer {issue_token(env, 'coordinator', 'ada')}"}
    server, projector = Server(env, tmp_path / "api.log"), worker(env, tmp_path / "worker.log")
    server.start()
    projector.start()
    try:
        created = requests.post(f"{server.url}/v1/relationships", headers=token, timeout=10,
                                json={"program_id": "p", "mentor_id": "a", "mentee_id": "b"})
        listed = requests.get(f"{server.url}/v1/relationships?min_position={created.headers['X-Position']}",
                              headers=token, timeout=10)
        assert listed.status_code == 200, (tmp_path / "worker.log").read_text()
        assert [r["id"] for r in listed.json()["items"]] == [created.json()["id"]]
    finally:
        projector.stop()
        server.stop()


def test_a_worker_killed_mid_batch_leaves_every_event_counted_once(store, tmp_path):
    ledger = open_ledger(store, str(tmp_path))
    random_history(ledger, seed=31, relationships=40, commands=1500)
    head = ledger.position()
    env = {**service_env(store), "PROJECTIONS_BATCH_SIZE": "20"}
    projections = Projections(ledger)
    kills_while_busy = 0
    for _ in range(3):
        before = min(projections.positions().values())
        projector = worker(env, tmp_path / "worker.log")
        projector.start()
        target = min(before + 200, head)
        _wait_until(lambda target=target: min(projections.positions().values()) >= target, 60)
        projector.stop(signal.SIGKILL)
        kills_while_busy += min(projections.positions().values()) < head
    assert kills_while_busy >= 1, "the worker was never killed while it still had work"
    projector = worker(env, tmp_path / "worker.log")
    projector.start()
    _wait_until(lambda: min(projections.positions().values()) >= head, 60)
    projector.stop()
    assert min(projections.positions().values()) == head, (tmp_path / "worker.log").read_text()[-2000:]
    live = dump(projections)
    for name in VIEW_CLASSES:
        projections.rebuild(name)
    assert dump(projections) == live
    ledger.close()


def _wait_until(condition, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)


def test_workers_for_different_views_run_at_once_and_one_view_has_one_worker(postgres_store, tmp_path):
    from tests.e2e.processes import Process, compose_command

    ledger = open_ledger(postgres_store, str(tmp_path))
    random_history(ledger, seed=5, relationships=20, commands=400)
    head = ledger.position()
    projections = Projections(ledger)
    env = service_env(postgres_store)

    def for_views(views: str, log: str) -> Process:
        return Process([*compose_command("projector"), "--poll-interval", "0.2", "--views", views], env,
                       tmp_path / log)

    workers = [for_views("audit_trail,skills_growth", "a.log"), for_views("relationship_health,relationship_index",
                                                                         "b.log")]
    for process in workers:
        process.start()
    _wait_until(lambda: min(projections.positions().values()) >= head, 60)
    second = for_views("audit_trail", "c.log")
    second.start()
    _wait_until(lambda: "standing by" in (tmp_path / "c.log").read_text(), 30)
    try:
        assert min(projections.positions().values()) == head
        assert "another projection worker is active for audit_trail; standing by" in (tmp_path / "c.log").read_text()
        assert "for audit_trail, skills_growth" in (tmp_path / "a.log").read_text()
    finally:
        for process in (*workers, second):
            process.stop()
        ledger.close()


def test_views_rebuild_in_parallel_processes_to_the_same_rows(store, tmp_path):
    import subprocess

    from tests.e2e.processes import BIN, ROOT

    ledger = open_ledger(store, str(tmp_path))
    random_history(ledger, seed=9, relationships=15, commands=300)
    projections = Projections(ledger)
    projections.catch_up()
    before, generations = dump(projections), {name: projections.view(name).generation for name in VIEW_CLASSES}
    env = {**service_env(store), "LEDGER_SIGNING_KEY": ledger.signing_key.hex()}  # one deployment, one key
    result = subprocess.run([str(BIN / "flask"), "--app", "wsgi", "projections", "rebuild", "--processes", "2"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert {name: projections.view(name).generation for name in VIEW_CLASSES} == {
        name: generation + 1 for name, generation in generations.items()}
    assert dump(projections) == before
    ledger.close()
