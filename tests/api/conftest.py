"""An API under test: the Flask test client, one token per kind of caller."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from api import create_app
from tests.support import SteppingClock

CALLERS = {
    "coordinator": ("ada", "coordinator"),
    "auditor": ("audrey", "auditor"),
    "mentor": ("mentor-7", "participant"),
    "mentee": ("mentee-12", "participant"),
    "outsider": ("mentor-99", "participant"),
}


@dataclass
class Service:
    """The app, its client and a bearer token for each caller in CALLERS."""

    app: Flask
    client: FlaskClient
    tokens: dict[str, str] = field(default_factory=dict)

    def headers(self, who: str | None, **extra: str) -> dict[str, str]:
        headers = {k.replace("_", "-"): v for k, v in extra.items()}
        if who is not None:
            headers["Authorization"] = f"Bearer {self.tokens[who]}"
        return headers

    def post(self, who: str | None, path: str, body: Any = None, **headers: str):
        return self.client.post(path, json=body, headers=self.headers(who, **headers))

    def get(self, who: str | None, path: str, **headers: str):
        return self.client.get(path, headers=self.headers(who, **headers))

    def start(self, **overrides: Any) -> dict[str, Any]:
        body = {"program_id": "spring-2026", "mentor_id": "mentor-7", "mentee_id": "mentee-12",
                "goals": ["Lead a design review", "Public speaking"], **overrides}
        response = self.post("coordinator", "/v1/relationships", body)
        assert response.status_code == 201, response.json
        return response.json

    def give(self, rid: str, who: str = "mentor", **overrides: Any) -> dict[str, Any]:
        body = {"content": "Your design review was clear; slow down on the trade-offs.", "kind": "improvement",
                "skills": ["presenting", "system design"],
                "action_items": [{"description": "Prepare a trade-off table", "due_on": "2026-02-01"}],
                **overrides}
        response = self.post(who, f"/v1/relationships/{rid}/feedback", body)
        assert response.status_code == 201, response.json
        return response.json


def build_service(store, tmp_path, **config: Any) -> Service:
    app = create_app({
        "TESTING": True,
        "DATABASE_URL": store.database_url,
        "STORE_ENV": store.extra_env,
        "CLOCK": SteppingClock(),
        "COMMANDS_PER_MINUTE": 0,  # no flood limit, unless a test sets one (tests/api/test_flood.py)
        **config,
    })
    service = Service(app, app.test_client())
    for who, (principal, role) in CALLERS.items():
        service.tokens[who] = app.extensions["tokens"].issue(principal, role)
    return service


@pytest.fixture
def service(store, tmp_path):
    service = build_service(store, tmp_path)
    yield service
    service.app.extensions["ledger"].close()


@pytest.fixture
def sqlite_service(sqlite_store, tmp_path):
    service = build_service(sqlite_store, tmp_path)
    yield service
    service.app.extensions["ledger"].close()
