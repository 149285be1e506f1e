"""The documented production command against hostile clients: slow and idle connections, chunked bodies over
the limit, tokens in URLs, requests gunicorn itself refuses."""

from __future__ import annotations

import json
import re
import socket
import threading
import time

import pytest
import requests

from tests.e2e.processes import Server, issue_token, service_env, slow_client

pytestmark = pytest.mark.slow

SLOW_CLIENTS = 50
IDLE_CLIENTS = 50
PROBES = 15


def test_slow_and_idle_clients_do_not_keep_anyone_else_waiting(store, tmp_path):
    server = Server(service_env(store), tmp_path / "server.log")
    server.start()
    stop, opened = threading.Event(), []
    threads = [threading.Thread(target=slow_client, args=(server.port, stop, opened), daemon=True)
               for _ in range(SLOW_CLIENTS)]
    try:
        for thread in threads:
            thread.start()
        for _ in range(IDLE_CLIENTS):
            opened.append(socket.create_connection(("127.0.0.1", server.port), timeout=30))
        while len(opened) < SLOW_CLIENTS + IDLE_CLIENTS:
            time.sleep(0.05)
        answered = []
        for _ in range(PROBES):  # each probe on a new connection, as a load balancer's would be
            try:
                answered.append(requests.get(f"{server.url}/healthz", timeout=2).status_code)
            except requests.RequestException as error:
                answered.append(type(error).__name__)
            stop.wait(0.3)
        assert answered == [200] * PROBES, server.log.read_text()[-2000:]
    finally:
        stop.set()
        for sock in opened:
            sock.close()
        for thread in threads:
            thread.join(5)
        server.stop()


def chunked_post(port: int, path: str, token: str, body: bytes, chunk: int = 8192) -> tuple[int, dict]:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n"
                     "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                     .encode())
        try:
            for start in range(0, len(body), chunk):
                piece = body[start:start + chunk]
                sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server may answer and close before the whole body is sent
        answer = b""
        while True:
            try:
                data = sock.recv(65536)
            except OSError:
                break
            if not data:
                break
            answer += data
    head, _, payload = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(payload or b"{}")


def test_chunked_bodies_over_the_limit_are_413_and_nothing_is_stored(store, tmp_path):
    env = service_env(store)
    token = issue_token(env, "coordinator", "ada")
    server = Server(env, tmp_path / "server.log")
    server.start()
    try:
        start = json.dumps({"program_id": "p", "mentor_id": "mentor-7", "mentee_id": "mentee-12"}).encode()
        padded = start[:-1] + b" " * (70 * 1024) + b"}"  # valid JSON, over the 64 KiB limit
        cut_then_garbage = start + b" " * (64 * 1024 - len(start)) + b"garbage" * 100
        for body in (padded, cut_then_garbage, b"{" + b" " * (10 * 1024 * 1024)):
            status, answer = chunked_post(server.port, "/v1/relationships", token, body)
            assert (status, answer.get("type")) == (413, "urn:mentorship-ledger:problem:body-too-large")
        status, answer = chunked_post(server.port, "/v1/relationships", token, start)
        assert status == 201 and answer["mentee_id"] == "mentee-12"
        ready = requests.get(f"{server.url}/readyz", headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert ready.json()["position"] == 1  # the one event of the one relationship accepted
    finally:
        server.stop()


def test_tokens_in_urls_never_reach_the_access_log_and_refusals_are_problem_json(store, tmp_path):
    env = service_env(store)
    token = issue_token(env, "auditor", "audrey")
    server = Server(env, tmp_path / "server.log")
    server.start()
    try:
        secret = token.rsplit("_", 1)[1]
        assert requests.get(f"{server.url}/v1/audit?access_token={token}&actor=someone.private",
                            timeout=10).status_code == 401
        long_line = requests.get(f"{server.url}/v1/{'a' * 9000}", timeout=10)
        huge_header = requests.get(f"{server.url}/healthz", headers={"X-Big": "b" * 40_000}, timeout=10)
        for refused, status in ((long_line, 414), (huge_header, 431)):
            assert refused.status_code == status
            assert refused.headers["Content-Type"] == "application/problem+json"
            assert refused.headers["X-Content-Type-Options"] == "nosniff"
            assert refused.json()["status"] == status and "aaaa" not in refused.text
        # The access log line of the request is there, without its query string.
        assert requests.get(f"{server.url}/healthz?probe=1", timeout=10).status_code == 200
    finally:
        server.stop()
    log = server.log.read_text()
    assert '"GET /v1/audit HTTP/1.1" 401' in log and '"GET /healthz HTTP/1.1" 200' in log
    assert secret not in log and "someone.private" not in log and "access_token" not in log
    assert re.search(r'^127\.0\.0\.1 "GET /healthz HTTP/1\.1" 200 \d+ \d+ms$', log, re.MULTILINE)
