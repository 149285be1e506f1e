"""A throwaway PostgreSQL server of the tests' own, which they may crash and restart at will."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg2

from tests.e2e.processes import free_port


def bindir() -> Path | None:
    """Where initdb and pg_ctl are (PATH first, then Debian's versioned folders)."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(candidates[-1]).parent if candidates else None


class PrivateCluster:
    """initdb into a temporary folder, started on a free port; stop(), crash() and start() again."""

    def __init__(self, **settings: str) -> None:
        self.bin = bindir()
        if self.bin is None:
            raise FileNotFoundError("no PostgreSQL server binaries (initdb) on this machine")
        self.port = free_port()
        self.data = Path(tempfile.mkdtemp(prefix="ledger-pg-")) / "data"
        self.settings = {"fsync": "on", "listen_addresses": "127.0.0.1", "max_connections": "100", **settings}
        self._as_owner([str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres"],
                       prepare=True)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        options = " ".join(f"-c {k}={v}" for k, v in self.settings.items()) + f" -p {self.port} -k {self.data}"
        self._as_owner([str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.data / "server.log"),
                        "-o", options, "-w", "-t", "60", "start"])
        self.wait()

    def stop(self, mode: str = "fast") -> None:
        """``immediate`` is a crash: no checkpoint, no flush of WAL still in memory."""
        self._as_owner([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop"])

    def crash(self) -> None:
        self.stop("immediate")

    def wait(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                psycopg2.connect(self.url, connect_timeout=2).close()
                return
            except psycopg2.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def destroy(self) -> None:
        try:
            self.stop("immediate")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.data.parent, ignore_errors=True)

    def _as_owner(self, command: list[str], prepare: bool = False) -> None:
        """PostgreSQL refuses to run as root: as root, run it as the postgres user."""
        if os.geteuid() == 0:
            if prepare:
                subprocess.run(["chown", "-R", "postgres", str(self.data.parent)], check=True)
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
