"""The real thing: the API under gunicorn, started as in production, killed and started again."""

from __future__ import annotations

import signal

import pytest
import requests

from tests.e2e.processes import Server, issue_token, service_env

pytestmark = pytest.mark.slow


def test_everything_written_survives_a_restart(store, tmp_path):
    env = service_env(store)
    coordinator = {"Authorization": f"Bearer {issue_token(env, 'coordinator', 'ada')}"}
    mentor = {"Authorization": f"Bearer {issue_token(env, 'participant', 'mentor-7')}"}
    mentee = {"Authorization": f"Bearer {issue_token(env, 'participant', 'mentee-12')}"}
    server = Server(env, tmp_path / "server.log")
    server.start()
    try:
        start = requests.post(f"{server.url}/v1/relationships", headers={**coordinator, "Idempotency-Key": "s-1"},
                              json={"program_id": "p", "mentor_id": "mentor-7", "mentee_id": "mentee-12"}, timeout=10)
        rid = start.json()["id"]
        given = requests.post(f"{server.url}/v1/relationships/{rid}/feedback", headers=mentor, timeout=10,
                              json={"content": "Well run.", "kind": "strength",
                                    "action_items": [{"description": "Write it up"}]}).json()
        receipt = requests.post(f"{server.url}/v1/relationships/{rid}/feedback/{given['feedback_id']}/receipt",
                                headers=mentee, json={"usefulness": 5}, timeout=10)
        assert (start.status_code, receipt.status_code) == (201, 201)

        server.stop(signal.SIGKILL)
        server.start()

        state = requests.get(f"{server.url}/v1/relationships/{rid}", headers=mentee, timeout=10)
        assert state.status_code == 200 and state.headers["ETag"] == '"3"'
        assert state.json()["feedback"][0]["usefulness"] == 5
        again = requests.post(f"{server.url}/v1/relationships", headers={**coordinator, "Idempotency-Key": "s-1"},
                              json={"program_id": "p", "mentor_id": "mentor-7", "mentee_id": "mentee-12"}, timeout=10)
        assert (again.status_code, again.json()) == (201, start.json())
        events = requests.get(f"{server.url}/v1/relationships/{rid}/events", headers=coordinator, timeout=10).json()
        assert [e["type"] for e in events["items"]] == ["RelationshipStarted", "FeedbackGiven", "FeedbackReceived"]
    finally:
        server.stop()
