"""The README's first calls, run as a newcomer would: its shell blocks, as written, against the service."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator

import pytest
import requests

from tests.e2e.processes import BIN, ROOT, free_port

pytestmark = pytest.mark.slow


def first_calls() -> list[str]:
    """The shell blocks of the section "First token, first calls"."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## First token, first calls", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", section, re.S)


def newcomer_env(tmp_path) -> dict[str, str]:
    """A newcomer's shell: the project's venv on PATH, the embedded store in a folder of its own."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "POSTGRES_"))},
            "DATABASE_URL": f"sqlite:///{tmp_path}/ledger.sqlite3", "PATH": f"{BIN}:{os.environ['PATH']}"}


@contextlib.contextmanager
def running(command: str, env: dict[str, str], log_path) -> Iterator[str]:
    """The development server started by a shell ``command`` (with a free port), until it answers; its URL."""
    port = free_port()
    log = log_path.open("wb")
    server = subprocess.Popen(["bash", "-c", f"{command} --port {port}"], cwd=ROOT, env=env, stdout=log,
                              stderr=log, start_new_session=True)
    try:
        for _ in range(100):
            try:
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(server.pid, 15)
        server.wait(10)
        log.close()


def test_the_first_calls_work_as_written(tmp_path):
    assert shutil.which("curl"), "curl is needed (the README's calls use it)"
    blocks = first_calls()
    assert len(blocks) == 2
    tokens, calls = blocks
    env = newcomer_env(tmp_path)
    with running(f"{BIN / 'flask'} --app wsgi run", env, tmp_path / "server.log") as base:
        # The blocks as written (the revoke line names a placeholder: it is the README's example of the command).
        tokens = "\n".join(line for line in tokens.splitlines() if "<token-or-prefix>" not in line)
        script = "set -euo pipefail\n" + tokens + "\n" + calls.replace("http://127.0.0.1:5000", base)
        script += '\necho "REL=$REL FEEDBACK=$FEEDBACK ACTION=$ACTION"\n'
        result = subprocess.run(["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert '"ok": true' in result.stdout or '"ok":true' in result.stdout
    ids = dict(part.split("=", 1) for part in result.stdout.strip().splitlines()[-1].split())
    assert all(re.fullmatch(r"[0-9a-f-]{36}", value) for value in ids.values()), ids
    assert "FeedbackReceived" in result.stdout and "ActionCompleted" in result.stdout


def test_the_demo_runs_as_written_and_its_tokens_open_the_pages(tmp_path):
    text = (ROOT / "README.md").read_text()
    section = text.split("## Try the demo", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```sh\n(.*?)```", section, re.S)
    demo_line, run_line = block.strip().splitlines()
    env = newcomer_env(tmp_path)
    made = subprocess.run(["bash", "-c", demo_line], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr[-2000:]
    tokens = [line.split("\t") for line in made.stdout.splitlines() if line.count("\t") == 3]
    assert [t[0] for t in tokens] == ["coordinator", "auditor", "participant", "participant"]
    with running(run_line, env, tmp_path / "server.log") as base:
        browser = requests.Session()
        form = browser.get(f"{base}/app/sign-in", timeout=5).text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
        signed = browser.post(f"{base}/app/sign-in", data={"token": tokens[0][2], "csrf_token": csrf}, timeout=5)
        assert signed.url.endswith("/app/program") and "Worst first" in signed.text
        assert requests.get(f"{base}/docs", timeout=5).status_code == 200
