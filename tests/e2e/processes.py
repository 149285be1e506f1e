"""The service's processes, started exactly as docker-compose.yml starts them, outside Docker."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def compose_command(service: str) -> list[str]:
    """A service's command from docker-compose.yml, with its program taken from this environment."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    command = list(compose["services"][service]["command"])
    return [str(BIN / command[0]), *command[1:]]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Process:
    """A process in its own process group, so that stopping it stops all of it (gunicorn's workers too)."""

    def __init__(self, command: list[str], env: dict[str, str], log: Path) -> None:
        self.command, self.env, self.log = command, env, log
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(self.command, cwd=ROOT, env=self.env, start_new_session=True,
                                            stdout=log, stderr=log)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None:
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:  # it stopped by itself
                pass
            self.process.wait(30)
            self.process = None


class Server(Process):
    """The API under gunicorn, as the compose ``api`` service runs it."""

    WORKERS = 2

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        super().__init__(compose_command("api"), {**env, "GUNICORN_BIND": f"127.0.0.1:{self.port}",
                                                  "GUNICORN_WORKERS": str(self.WORKERS)}, log)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def workers_ready(self) -> bool:
        """Every worker has loaded the application (gunicorn.conf.py logs it): a measurement or a test that
        starts before would find one worker answering for all, its connections kept on it."""
        with self.log.open("rb") as log:
            log.seek(self._log_from)
            return log.read().count(b"Worker ready (pid:") >= self.WORKERS

    def launch(self) -> None:
        """Start it, without waiting for it to be ready."""
        self._log_from = self.log.stat().st_size if self.log.exists() else 0  # a restart appends to the log
        super().start()

    def start(self) -> None:
        self.launch()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/readyz", timeout=1).status_code == 200 and self.workers_ready():
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise AssertionError("the server did not become ready:\n" + self.log.read_text()[-3000:])


def worker(env: dict[str, str], log: Path) -> Process:
    """The projection worker, as the compose ``projector`` service runs it."""
    return Process([*compose_command("projector"), "--poll-interval", "0.2"], env, log)


def issue_token(env: dict[str, str], role: str, principal: str) -> str:
    result = subprocess.run(
        [str(BIN / "flask"), "--app", "wsgi", "tokens", "issue", "--role", role, "--principal", principal],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True, timeout=60,
    )
    return result.stdout.strip()


def service_env(store) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POSTGRES_", "DATABASE_URL", "GUNICORN_"))}
    env.update({"DATABASE_URL": store.database_url, "COMMANDS_PER_MINUTE": "0", **store.extra_env})
    return env


def slow_client(port: int, stop: threading.Event, opened: list[socket.socket], body: bool = False) -> None:
    """A client that never finishes its request: a header line a second after the request line, or (``body``)
    whole headers and then a body one byte a second. Its socket goes into ``opened``; it stops with ``stop``."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    opened.append(sock)
    if body:
        sock.sendall(b"POST /v1/relationships HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 1000\r\n\r\n{")
    else:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    while not stop.wait(1.0):
        try:
            sock.sendall(b" " if body else b"X-Slow: 1\r\n")
        except OSError:
            return
