"""The real thing: gunicorn serving the app from its own process, stopped and started again."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """gunicorn on wsgi:app, in its own process group so it can be stopped whole."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(BIN / "gunicorn"), "--workers", "2", "--bind", f"127.0.0.1:{self.port}", "wsgi:app"],
                cwd=ROOT, env=self.env, start_new_session=True, stdout=log, stderr=log,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except requests.ConnectionError:
                time.sleep(0.1)
        self.stop()
        raise AssertionError("the server did not become ready:\n" + self.log.read_text()[-3000:])

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None:
            os.killpg(self.process.pid, sig)
            self.process.wait(30)
            self.process = None


def issue_token(env: dict[str, str], role: str, principal: str) -> str:
    result = subprocess.run(
        [str(BIN / "flask"), "--app", "wsgi", "tokens", "issue", "--role", role, "--principal", principal],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True, timeout=60,
    )
    return result.stdout.strip()


@pytest.fixture
def server_env(store, tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POSTGRES_", "DATABASE_URL"))}
    env.update({"DATABASE_URL": store.database_url, **store.extra_env})
    return env


def test_everything_written_survives_a_restart(server_env, tmp_path):
    coordinator = {"Authorization": f"Bearer {issue_token(server_env, 'coordinator', 'ada')}"}
    mentor = {"Authorization": f"Bearer {issue_token(server_env, 'participant', 'mentor-7')}"}
    mentee = {"Authorization": f"Bearer {issue_token(server_env, 'participant', 'mentee-12')}"}
    server = Server(server_env, tmp_path / "server.log")
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
