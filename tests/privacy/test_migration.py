"""A store written before the privacy scheme keeps working as it was, refuses erasure until migrated, and
migrates (copy and transform) into a new store that answers the same, continues the old chain, and erases."""

from __future__ import annotations

import json
import shutil

import pytest

from api import create_app
from tests.golden.test_golden import HERE, signing

RELEASE = "0.2.0"


def open_app(path, tmp_path):
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{path}", "PROJECTIONS_MODE": "inline",
                      "STORE_ENV": signing(RELEASE)})
    tokens = app.extensions["tokens"]
    headers = {role: {"Authorization": f"Bearer {tokens.issue(pid, role)}"}
               for pid, role in (("ada", "coordinator"), ("audrey", "auditor"))}
    return app, app.test_client(), headers


@pytest.fixture
def old_store(tmp_path):
    path = tmp_path / "old.sqlite3"
    shutil.copyfile(HERE / RELEASE / "ledger.sqlite3", path)
    return path


def test_an_old_store_refuses_erasure_until_migrated_then_the_new_store_answers_the_same(old_store, tmp_path):
    expected = json.loads((HERE / RELEASE / "expected.json").read_text())["sqlite"]
    old_app, old, headers = open_app(old_store, tmp_path)
    try:
        refused = old.post("/v1/participants/mentee-12/erasure", json={}, headers=headers["coordinator"])
        assert refused.status_code == 409 and refused.json["type"].endswith("store-not-migrated")
        ids = [item["id"] for item in old.get("/v1/relationships?limit=500", headers=headers["auditor"]).json["items"]]
        before = {rid: old.get(f"/v1/relationships/{rid}", headers=headers["auditor"]).json for rid in ids}
        events = {rid: old.get(f"/v1/relationships/{rid}/events?limit=500", headers=headers["auditor"]).json
                  for rid in ids}
        result = old_app.test_cli_runner().invoke(args=["privacy", "migrate", "--to",
                                                        f"sqlite:///{tmp_path / 'new.sqlite3'}"])
        assert result.exit_code == 0, result.output
        assert "the new store verifies: True" in result.output
    finally:
        old_app.extensions["ledger"].close()

    new_app, new, new_headers = open_app(tmp_path / "new.sqlite3", tmp_path)
    try:
        for rid in ids:  # the same answers, the same ids, versions and times
            assert new.get(f"/v1/relationships/{rid}", headers=new_headers["auditor"]).json == before[rid]
            copied = new.get(f"/v1/relationships/{rid}/events?limit=500", headers=new_headers["auditor"]).json
            assert without_keys(copied) == without_keys(events[rid])
            for old_event, new_event in zip(events[rid]["items"], copied["items"], strict=True):
                # a client's Idempotency-Key is kept as a keyed digest under the scheme (it may hold anything)
                assert (old_event["command_id"] is None) == (new_event["command_id"] is None)
                assert new_event["command_id"] is None or new_event["command_id"].startswith("h:")
        trail = new.get("/v1/audit?limit=500", headers=new_headers["auditor"]).json["items"]
        assert trail[0]["prev_hash"] == expected["audit_head"]["hash"]  # the new chain continues the old one
        assert new.get("/v1/audit/verify", headers=new_headers["auditor"]).json["ok"] is True
        growth = new.get("/v1/participants/mentee-12/growth", headers=new_headers["auditor"]).json
        assert growth == old_growth(expected)
        raw = (tmp_path / "new.sqlite3").read_bytes()
        assert b"Ship a project" not in raw and b"steady progress" not in raw  # texts are encrypted now
        assert b"Ship a project" in old_store.read_bytes()
        erased = new.post("/v1/participants/mentee-12/erasure", json={}, headers=new_headers["coordinator"])
        assert erased.status_code == 200, erased.json
        assert new.get("/v1/audit/verify", headers=new_headers["auditor"]).json["ok"] is True
        new_bytes = b"".join(p.read_bytes() for p in tmp_path.glob("new.sqlite3*"))
        assert b"mentee-12" not in new_bytes
    finally:
        new_app.extensions["ledger"].close()
    assert b"mentee-12" in old_store.read_bytes()  # the old store is not changed (archive or delete it)


def without_keys(page):
    return [{k: v for k, v in item.items() if k != "command_id"} for item in page["items"]]


def old_growth(expected):
    return {"participant_id": "mentee-12", **{k: v for k, v in expected["growth"]["mentee-12"].items()
                                            if k != "participant_id"}}
