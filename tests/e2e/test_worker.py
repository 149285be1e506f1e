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
