"""docker-compose.yml and the Dockerfile, checked against what the application reads and provides.

No Docker engine runs here; the e2e tests start the compose commands themselves
(tests/e2e/processes.py takes them from this file).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

from api import create_app
from api.settings import ENVIRONMENT_SETTINGS

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def names_read_by(path: str, prefix: str) -> set[str]:
    return set(re.findall(rf"\b({prefix}_[A-Z_]+)\b", (ROOT / path).read_text()))


KNOWN_VARIABLES = (set(ENVIRONMENT_SETTINGS) | names_read_by("persistence/postgres.py", "POSTGRES")
                   | names_read_by("gunicorn.conf.py", "GUNICORN"))


def test_the_four_services_are_there():
    assert set(SERVICES) == {"db", "api", "projector", "proxy"}


def test_only_the_proxy_is_published_and_it_runs_the_tested_nginx_configuration():
    proxy = SERVICES["proxy"]
    assert proxy["image"].startswith("nginx:")
    assert proxy["volumes"] == ["./deploy/nginx.conf:/etc/nginx/nginx.conf:ro"]
    assert proxy["depends_on"]["api"]["condition"] == "service_healthy"
    published = {name: service.get("ports") for name, service in SERVICES.items() if service.get("ports")}
    assert published == {"proxy": ["8000:8080"]}
    assert SERVICES["api"]["expose"] == ["8000"]
    nginx = (ROOT / "deploy/nginx.conf").read_text()
    assert "server api:8000;" in nginx and "listen 8080;" in nginx


def test_the_database_is_postgres_16_on_a_named_volume_with_a_healthcheck():
    db = SERVICES["db"]
    assert db["image"].startswith("postgres:16")
    volume = db["volumes"][0].split(":")[0]
    assert volume in COMPOSE["volumes"]
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])


def test_api_and_projector_wait_for_a_healthy_database():
    for name in ("api", "projector"):
        assert SERVICES[name]["depends_on"]["db"]["condition"] == "service_healthy"


def test_the_api_runs_gunicorn_on_the_wsgi_app_and_checks_readiness():
    api = SERVICES["api"]
    assert api["command"][0] == "gunicorn" and api["command"][-1] == "wsgi:app"
    assert "/readyz" in " ".join(api["healthcheck"]["test"])


def test_the_projector_runs_the_projection_worker_command(tmp_path):
    command = SERVICES["projector"]["command"]
    assert command[:3] == ["flask", "--app", "wsgi"]
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite3"})
    group = app.cli.get_command(None, command[3])
    assert group is not None and group.get_command(None, command[4]) is not None
    app.extensions["ledger"].close()


def test_every_environment_variable_is_one_the_application_reads():
    for name in ("api", "projector"):
        assert set(SERVICES[name]["environment"]) <= KNOWN_VARIABLES, name


def test_the_database_url_points_at_the_db_service_with_its_credentials():
    db_env = SERVICES["db"]["environment"]
    url = SERVICES["api"]["environment"]["DATABASE_URL"]
    expected = f"postgresql://{db_env['POSTGRES_USER']}:{db_env['POSTGRES_PASSWORD']}@db:5432/{db_env['POSTGRES_DB']}"
    assert url == expected == SERVICES["projector"]["environment"]["DATABASE_URL"]


def test_the_image_is_slim_runs_as_a_non_root_user_and_holds_every_package():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim", dockerfile, re.M)
    user = re.findall(r"^USER (\S+)", dockerfile, re.M)
    assert user and user[-1] not in ("root", "0")
    found = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    packages = [pattern.rstrip("*") for pattern in found["include"]]
    assert set(packages) == {"domain", "projections", "persistence", "api"}
    for package in packages:
        assert re.search(rf"^COPY {package} ", dockerfile, re.M), package
    assert "wsgi.py" in dockerfile and "gunicorn.conf.py" in dockerfile


def test_the_signing_key_is_shared_outlives_the_containers_and_stays_out_of_the_database():
    # The API signs snapshots and verifies; the worker seals audit entries: one key for both.
    assert SERVICES["api"]["volumes"] == SERVICES["projector"]["volumes"] == ["instance:/app/instance"]
    assert "instance" in COMPOSE["volumes"]
    assert all("instance" not in volume for volume in SERVICES["db"]["volumes"])
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "mkdir -p /app/instance && chown ledger:ledger /app/instance" in dockerfile


def test_each_worker_moves_the_loaded_application_out_of_the_garbage_collectors_reach():
    """gunicorn.conf.py freezes what the worker holds once the application is loaded: full collections then
    walk only what requests made (a 50 ms pause of every connection of the worker became 3.5 ms)."""
    import gc
    import os
    import runpy
    from unittest import mock

    with mock.patch.dict(os.environ):  # the file sets defaults in the environment: not for the other tests
        settings = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert gc.get_freeze_count() == 0
    logged = []
    worker = mock.Mock(pid=4321, log=mock.Mock(info=lambda *args: logged.append(args[0] % args[1:])))
    try:
        settings["post_worker_init"](worker)
        assert gc.get_freeze_count() > 1000
    finally:
        gc.unfreeze()
    assert logged == ["Worker ready (pid: 4321)"]  # what the tests' and benchmarks' server waits for
