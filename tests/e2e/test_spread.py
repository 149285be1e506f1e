"""Both cores at work: the production server spreads connections over its workers (api.serving.Spread).

The two gevent workers share one listening socket and the first to wake accepts; keep-alive connections then
stay where they landed. Before, a burst of them (a proxy's pool, a benchmark) could all land on one worker,
which served them on one core while the other idled."""

from __future__ import annotations

import http.client
import os
import signal
import time
from pathlib import Path

import pytest

from tests.e2e.processes import Server, service_env

pytestmark = pytest.mark.slow


def held_by_worker(server: Server) -> dict[int, int]:
    """How many established connections to the server's port each worker process holds (from /proc)."""
    port = f"{server.port:04X}"
    established = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[1].endswith(":" + port) and fields[3] == "01":
                established.add(fields[9])
    held = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if parent != server.process.pid:
                continue
            sockets = {os.readlink(fd)[8:-1] for fd in (entry / "fd").iterdir() if os.readlink(fd).startswith("socket:")}
        except OSError:
            continue
        held[int(entry.name)] = len(sockets & established)
    return held


def burst(server: Server, count: int) -> list[http.client.HTTPConnection]:
    """``count`` keep-alive connections opened at once, then a request on each."""
    connections = [http.client.HTTPConnection("127.0.0.1", server.port, timeout=10) for _ in range(count)]
    for connection in connections:
        connection.connect()
    for connection in connections:
        connection.request("GET", "/healthz")
    for connection in connections:
        answer = connection.getresponse()
        answer.read()
        assert answer.status == 200
    return connections


def keep_alive(server: Server) -> http.client.HTTPConnection:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.request("GET", "/healthz")
    answer = connection.getresponse()
    answer.read()
    assert answer.status == 200
    return connection


@pytest.fixture
def server(store, tmp_path):
    server = Server(service_env(store), tmp_path / "server.log")
    server.start()
    yield server
    server.stop()


def test_a_burst_of_keep_alive_connections_is_held_evenly_by_the_workers(server):
    """Held 8 and 8 (before: 9 or 10 of 16 on one worker, 7 to 9 of 12, in every burst tried). The worker
    holding more waits for the other at most 50 ms: on a machine busy enough to keep the other from running
    that long, one burst may end 9 and 7, so a second burst is allowed."""
    shares = []
    for _ in range(2):
        connections = burst(server, 16)
        try:
            shares.append(sorted(held_by_worker(server).values()))
        finally:
            for connection in connections:
                connection.close()
        if shares[-1] == [8, 8]:
            return
        time.sleep(0.5)  # the closed connections given back
    raise AssertionError(f"not held evenly: {shares}")


def test_a_worker_that_stopped_answering_is_not_waited_for(server):
    """A stuck worker (here: stopped) holds fewer connections than the other, which leaves it new ones only
    while its loop still turns: every new connection is answered, promptly, by the worker that answers."""
    first = keep_alive(server)
    held = held_by_worker(server)
    (busy,) = [pid for pid, n in held.items() if n == 1]
    (stuck,) = [pid for pid in held if pid != busy]
    os.kill(stuck, signal.SIGSTOP)
    connections = []
    try:
        for _ in range(6):
            started = time.monotonic()
            connections.append(keep_alive(server))
            assert time.monotonic() - started < 1.0
        assert held_by_worker(server) == {busy: 7, stuck: 0}
    finally:
        os.kill(stuck, signal.SIGCONT)
        first.close()
        for connection in connections:
            connection.close()

