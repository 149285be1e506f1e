"""Many clients on one relationship at once, through the real server: applied once, or refused."""

from __future__ import annotations

import threading
import uuid
from collections import Counter

import pytest
import requests

from api import create_app
from tests.e2e.processes import Server, service_env

pytestmark = pytest.mark.slow


class Clients:
    def __init__(self, url: str, tokens: dict[str, str]) -> None:
        self.url, self.tokens = url, tokens

    def post(self, who: str, path: str, body: dict, **headers: str) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.tokens[who]}", **{k.replace("_", "-"): v for k, v in headers.items()}}
        return requests.post(f"{self.url}{path}", json=body, headers=headers, timeout=30)

    def race(self, calls: list) -> list[requests.Response]:
        """Run the calls at the same moment; their answers, in order."""
        barrier = threading.Barrier(len(calls))
        answers: list = [None] * len(calls)

        def run(index: int, call) -> None:
            barrier.wait()
            answers[index] = call()

        threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return answers


@pytest.fixture
def world(store, tmp_path):
    env = {**service_env(store), "PROJECTIONS_MODE": "worker"}
    app = create_app({"DATABASE_URL": store.database_url, "STORE_ENV": store.extra_env})
    tokens = {who: app.extensions["tokens"].issue(principal, role) for who, principal, role in [
        ("coordinator", "ada", "coordinator"), ("mentor", "mentor-7", "participant"),
        ("mentee", "mentee-12", "participant")]}
    server = Server(env, tmp_path / "api.log")
    server.start()
    clients = Clients(server.url, tokens)
    rid = clients.post("coordinator", "/v1/relationships",
                       {"program_id": "p", "mentor_id": "mentor-7", "mentee_id": "mentee-12"}).json()["id"]
    yield clients, rid, app.extensions["ledger"]
    server.stop()
    app.extensions["ledger"].close()


def feedback_body(n: int) -> dict:
    return {"content": f"note {n}", "kind": "general", "action_items": [{"description": f"step {n}"}]}


def events(ledger, rid) -> list:
    return list(ledger.events.get(uuid.UUID(rid)))


def test_racing_feedback_is_all_applied(world):
    clients, rid, ledger = world
    answers = clients.race([lambda n=n: clients.post("mentor" if n % 2 else "mentee",
                                                     f"/v1/relationships/{rid}/feedback", feedback_body(n))
                            for n in range(12)])
    assert Counter(a.status_code for a in answers) == {201: 12}
    assert sorted(a.json()["version"] for a in answers) == list(range(2, 14))
    assert len(events(ledger, rid)) == 13


def test_racing_receipts_and_completions_apply_once_each(world):
    clients, rid, ledger = world
    given = [clients.post("mentor", f"/v1/relationships/{rid}/feedback", feedback_body(n)).json() for n in range(4)]
    calls = []
    for item in given:
        receipt = f"/v1/relationships/{rid}/feedback/{item['feedback_id']}/receipt"
        completion = f"/v1/relationships/{rid}/actions/{item['action_items'][0]['action_id']}/completion"
        calls += [lambda p=receipt: clients.post("mentee", p, {"usefulness": 3})] * 3
        calls += [lambda p=completion, w=who: clients.post(w, p, {}) for who in ("mentee", "coordinator", "mentee")]
    answers = clients.race(calls)
    assert Counter(a.status_code for a in answers) == {201: 8, 409: 16}
    kinds = Counter(type(e).__name__ for e in events(ledger, rid))
    assert (kinds["FeedbackReceived"], kinds["ActionCompleted"]) == (4, 4)


def test_the_same_key_sent_twice_at_once_is_applied_once(world):
    clients, rid, ledger = world
    keys = [str(uuid.uuid4()) for _ in range(6)]
    calls = [lambda k=k, n=n: clients.post("mentor", f"/v1/relationships/{rid}/feedback", feedback_body(n),
                                           Idempotency_Key=k)
             for n, k in enumerate(keys) for _ in range(2)]
    answers = clients.race(calls)
    assert all(a.status_code == 201 for a in answers)
    for first, second in zip(answers[::2], answers[1::2], strict=True):
        assert first.json() == second.json()
    stored = Counter(e.command_id for e in events(ledger, rid) if e.command_id)
    assert stored == {ledger.stored_key(k): 1 for k in keys}  # (kept as keyed digests)


def test_if_match_lets_exactly_one_of_the_racers_win(world):
    clients, rid, ledger = world
    answers = clients.race([lambda n=n: clients.post("mentor", f"/v1/relationships/{rid}/feedback",
                                                     feedback_body(n), If_Match='"1"') for n in range(6)])
    assert Counter(a.status_code for a in answers) == {201: 1, 412: 5}
    assert len(events(ledger, rid)) == 2
