"""deploy/nginx.conf, run with Debian's nginx in front of the production command, as compose runs it.

Skipped when nginx is not installed, unless LEDGER_REQUIRE_NGINX=1 (CI installs nginx-light and sets it).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.e2e.processes import ROOT, Server, free_port, issue_token, service_env, slow_client

pytestmark = pytest.mark.slow

SLOW_CLIENTS = 50
PROBES = 15


class Proxy:
    def __init__(self, upstream_port: int, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        config = (ROOT / "deploy/nginx.conf").read_text()
        for old, new in (("server api:8000;", f"server 127.0.0.1:{upstream_port};"),
                         ("listen 8080;", f"listen 127.0.0.1:{self.port};"),
                         ("pid /tmp/nginx.pid;", f"pid {directory}/nginx.pid;")):
            assert old in config
            config = config.replace(old, new)
        for temp in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (directory / temp).mkdir(parents=True, exist_ok=True)
            config = config.replace("http {", f"http {{\n    {temp}_temp_path {directory}/{temp};", 1)
        self.config = directory / "nginx.conf"
        self.config.write_text(config.replace("worker_processes auto;", "worker_processes 1;\nuser root;"))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        subprocess.run([nginx_binary(), "-c", str(self.config), "-p", str(self.directory)], check=True, timeout=30)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("nginx did not start")

    def stop(self) -> None:
        subprocess.run([nginx_binary(), "-c", str(self.config), "-p", str(self.directory), "-s", "stop"],
                       timeout=30, check=False)


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if found is None:
        if os.environ.get("LEDGER_REQUIRE_NGINX") == "1":
            pytest.fail("nginx is not installed (LEDGER_REQUIRE_NGINX is set)")
        pytest.skip("nginx is not installed (apt-get install nginx-light)")
    return found


@pytest.fixture
def stack(sqlite_store, tmp_path) -> Iterator[tuple[Server, Proxy, dict[str, str]]]:
    nginx_binary()
    env = service_env(sqlite_store)
    server = Server(env, tmp_path / "server.log")
    server.start()
    proxy = Proxy(server.port, tmp_path / "nginx")
    proxy.start()
    yield server, proxy, env
    proxy.stop()
    server.stop()


def assert_problem(response: requests.Response, status: int, slug: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    body = response.json()
    assert (body["status"], body["type"]) == (status, f"urn:mentorship-ledger:problem:{slug}")


def test_requests_pass_through_the_proxy(stack):
    server, proxy, env = stack
    token = issue_token(env, "coordinator", "ada")
    started = requests.post(f"{proxy.url}/v1/relationships", headers={"Authorization": f"Bearer {token}"},
                            json={"program_id": "p", "mentor_id": "mentor-7", "mentee_id": "mentee-12"}, timeout=10)
    assert started.status_code == 201 and started.headers["ETag"] == '"1"'
    refused = requests.post(f"{proxy.url}/v1/relationships", json={}, timeout=10)
    assert_problem(refused, 401, "unauthenticated")  # the API's own problems pass through unchanged


def test_slow_clients_never_reach_the_api(stack):
    server, proxy, _ = stack
    stop, opened = threading.Event(), []
    threads = [threading.Thread(target=slow_client, args=(proxy.port, stop, opened, n % 2 == 0), daemon=True)
               for n in range(SLOW_CLIENTS)]
    try:
        for thread in threads:
            thread.start()
        while len(opened) < SLOW_CLIENTS:
            time.sleep(0.05)
        answered = []
        for _ in range(PROBES):
            try:
                answered.append(requests.get(f"{proxy.url}/healthz", timeout=2).status_code)
            except requests.RequestException as error:
                answered.append(type(error).__name__)
            stop.wait(0.3)
        assert answered == [200] * PROBES
    finally:
        stop.set()
        for sock in opened:
            sock.close()
        for thread in threads:
            thread.join(5)
    # The API saw the probes only: the slow requests were never handed on.
    log = server.log.read_text()
    assert log.count('"GET /healthz HTTP/1.0" 200') + log.count('"GET /healthz HTTP/1.1" 200') >= PROBES
    assert "POST /v1/relationships" not in log


def test_the_proxy_refuses_in_problem_json(stack):
    server, proxy, _ = stack
    assert_problem(requests.post(f"{proxy.url}/v1/relationships", data=b"{" + b" " * 70_000 + b"}",
                                 headers={"Content-Type": "application/json"}, timeout=10), 413, "body-too-large")
    assert_problem(requests.get(f"{proxy.url}/v1/{'a' * 20_000}", timeout=10), 414, "uri-too-long")
    assert_problem(requests.get(f"{proxy.url}/healthz", headers={"X-Big": "b" * 20_000}, timeout=10),
                   431, "headers-too-large")
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n")  # two Host headers: malformed
        head = sock.recv(65536).decode("latin-1")
    assert head.startswith("HTTP/1.1 400") and "application/problem+json" in head
    server.stop()
    assert_problem(requests.get(f"{proxy.url}/healthz", timeout=10), 503, "unavailable")


def test_a_flood_from_one_address_is_answered_by_the_proxy(stack):
    server, proxy, _ = stack
    session = requests.Session()
    answers = [session.get(f"{proxy.url}/healthz", timeout=10) for _ in range(400)]
    statuses = [answer.status_code for answer in answers]
    assert statuses[:100] == [200] * 100  # the burst
    refused = [answer for answer in answers if answer.status_code == 429]
    assert len(refused) > 100, statuses
    assert_problem(refused[0], 429, "too-many-requests")
    assert refused[0].headers["Retry-After"] == "1"
    assert server.log.read_text().count("/healthz") == statuses.count(200)  # the refused never reached the API
