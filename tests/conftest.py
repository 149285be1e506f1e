"""Fixtures shared by every test: the two stores, each clean for each test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from tests import pg

# One deployment, one signing key: every ledger the tests open, in this process or in the processes they
# start, signs snapshots and seals audit entries with it (tests/projections/test_signing.py covers the key
# file a deployment without the variable gets).
os.environ.setdefault("LEDGER_SIGNING_KEY", "5e" * 32)
# Likewise one master key (tests/privacy/test_keys.py covers the key file made without the variable).
os.environ.setdefault("LEDGER_MASTER_KEY", "6d" * 32)


@dataclass
class Store:
    """Where a test keeps its events: an SQLite file, or a fresh schema in PostgreSQL."""

    kind: str
    database_url: str
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def schema(self) -> str:
        return self.extra_env.get("POSTGRES_SCHEMA", "")


def _sqlite_store(tmp_path) -> Store:
    return Store("sqlite", f"sqlite:///{tmp_path}/ledger.sqlite3")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request, tmp_path) -> Iterator[Store]:
    """Each test that takes ``store`` runs on SQLite and again on PostgreSQL."""
    if request.param == "sqlite":
        yield _sqlite_store(tmp_path)
        return
    yield from _postgres_store()


@pytest.fixture
def sqlite_store(tmp_path) -> Store:
    return _sqlite_store(tmp_path)


@pytest.fixture
def postgres_store() -> Iterator[Store]:
    yield from _postgres_store()


def _postgres_store() -> Iterator[Store]:
    pg.require_postgres()
    schema = pg.new_schema()
    yield Store("postgres", pg.database_url(), {"POSTGRES_SCHEMA": schema})
    pg.drop_schema(schema)

