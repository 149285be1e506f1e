"""The health statuses of the contract (projections/health/score.py STATUSES) as the health list's filter."""

from __future__ import annotations

import pytest

CONTRACT_STATUSES = ["thriving", "healthy", "needs_attention", "at_risk", "dormant", "paused", "ended", "too_early"]


@pytest.mark.parametrize("status", CONTRACT_STATUSES)
def test_the_health_list_filters_by_every_status_of_the_contract(sqlite_service, status):
    rid = sqlite_service.start()["id"]  # brand new, nothing given yet: too early to judge
    response = sqlite_service.get("coordinator", f"/v1/health?status={status}")
    assert response.status_code == 200
    assert [item["relationship_id"] for item in response.json["items"]] == ([rid] if status == "too_early" else [])


def test_a_status_outside_the_contract_is_not_a_filter(sqlite_service):
    response = sqlite_service.get("coordinator", "/v1/health?status=fine")
    assert (response.status_code, list(response.json["errors"])) == (422, ["status"])
