"""The real thing: the API under gunicorn, started as in production, killed and started again."""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

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


def _sockets(pid: int, port: int) -> dict[str, int]:
    """How many TCP sockets on ``port`` (listening, and connections accepted on it) process ``pid`` holds."""
    inodes = set()
    for fd in (Path("/proc") / str(pid) / "fd").iterdir():
        target = os.readlink(fd) if fd.is_symlink() else ""
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    held = {"listening": 0, "accepted": 0}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port, state, inode = int(fields[1].rsplit(":", 1)[1], 16), fields[3], fields[9]
        if local_port == port and inode in inodes:
            held["listening" if state == "0A" else "accepted"] += 1
    return held


def test_connections_opened_at_once_are_spread_over_the_workers(sqlite_store, tmp_path):
    """Keep-alive clients (nginx's upstream pool, a dashboard's HTTP client) open their connections at once
    and keep them: on one shared listening socket the worker that woke first took the whole burst (4 times in
    5, measured) and the other core sat idle. Each worker listens on its own socket of the port
    (SO_REUSEPORT), and the kernel spreads the connections over them; the master holds none."""
    server = Server(service_env(sqlite_store), tmp_path / "server.log")
    server.start()
    opened = []
    try:
        workers = [int(pid) for pid in (Path("/proc") / str(server.process.pid) / "task" / str(server.process.pid)
                                         / "children").read_text().split()]
        assert len(workers) == 2
        for _ in range(32):
            opened.append(socket.create_connection(("127.0.0.1", server.port), timeout=10))
        for sock in opened:  # each answered, and kept open (keep-alive)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        held = {pid: _sockets(pid, server.port) for pid in workers}
        assert _sockets(server.process.pid, server.port)["listening"] == 0
        assert all(h["listening"] == 1 for h in held.values()), held
        assert sum(h["accepted"] for h in held.values()) == 32, held
        # 32 connections hashed over two sockets all land on one with a chance of one in two thousand million.
        assert all(h["accepted"] > 0 for h in held.values()), held
    finally:
        for sock in opened:
            sock.close()
        server.stop()
