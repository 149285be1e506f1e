"""`flask --app wsgi demo`: an empty store becomes a program worth looking at, made by the real commands."""

from __future__ import annotations

import pytest

from projections.health.score import STATUSES
from tests.api.conftest import build_service


@pytest.fixture
def demo(store, tmp_path):
    service = build_service(store, tmp_path, PROJECTIONS_MODE="inline")
    service.app.extensions["tokens"].list()  # (tokens issued by build_service stay: the store has no events yet)
    result = service.app.test_cli_runner().invoke(args=["demo"])
    yield service, result
    service.app.extensions["ledger"].close()


def test_the_demo_fills_an_empty_store_with_every_health_status_and_prints_working_tokens(demo):
    service, result = demo
    assert result.exit_code == 0, result.output
    lines = [line.split("\t") for line in result.stdout.splitlines() if line.count("\t") == 3]
    assert [role for role, *_ in lines] == ["coordinator", "auditor", "participant", "participant"]
    tokens = {principal: token for _, principal, token, _ in lines}
    coordinator = {"Authorization": f"Bearer {tokens[lines[0][1]]}"}
    rows = service.client.get("/v1/health?limit=500", headers=coordinator).json["items"]
    assert {row["status"] for row in rows} == set(STATUSES)  # every status is represented
    assert len(rows) >= 30 and {row["program_id"] for row in rows} == {"spring-2026", "autumn-2026"}
    assert sum(row["actions"]["overdue"] for row in rows) > 0
    both_ways = [row for row in rows if row["feedback_given"]["by_mentor"] and row["feedback_given"]["by_mentee"]]
    assert len(both_ways) >= 20
    assert service.client.get("/v1/audit/verify", headers=coordinator).json["ok"] is True
    mentee = lines[3][1]
    own = {"Authorization": f"Bearer {tokens[mentee]}"}
    assert service.client.get(f"/v1/participants/{mentee}/growth", headers=own).json["skills"]
    mine = service.client.get("/v1/relationships", headers=own).json["items"]
    state = service.client.get(f"/v1/relationships/{mine[0]['id']}", headers=own).json
    assert any(f["recipient_id"] == mentee and f["received_at"] is None for f in state["feedback"])
    assert any(a["owner_id"] == mentee and a["status"] == "open" for a in state["actions"])
    first = rows[0]
    events = service.client.get(f"/v1/relationships/{first['relationship_id']}/events?limit=500",
                                headers=coordinator).json["items"]
    times = [e["recorded_at"] for e in events]
    assert times == sorted(times) and times[0] < times[-1]  # made with a moving clock


def test_the_demo_refuses_a_store_that_is_not_empty(demo):
    service, _ = demo
    again = service.app.test_cli_runner().invoke(args=["demo"])
    assert again.exit_code != 0 and "not empty" in again.output
