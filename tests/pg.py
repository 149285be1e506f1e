"""A real PostgreSQL for the tests: found through TEST_DATABASE_URL, one fresh schema per test.

Without a reachable server the PostgreSQL tests are skipped, unless
LEDGER_REQUIRE_POSTGRES=1, which turns that skip into a failure (CI sets it).
"""

from __future__ import annotations

import functools
import os
import uuid
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import pytest

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/mentorship_ledger_test"


def required() -> bool:
    return os.environ.get("LEDGER_REQUIRE_POSTGRES", "").lower() in ("1", "true", "yes")


def database_url() -> str:
    return os.environ.get("TEST_DATABASE_URL") or DEFAULT_URL


@functools.cache
def _reachable() -> str | None:
    """None when the test database is there (created if need be), else why not."""
    url = database_url()
    parts = urlsplit(url)
    dbname = parts.path.lstrip("/")
    try:
        psycopg2.connect(url, connect_timeout=3).close()
        return None
    except psycopg2.OperationalError as error:
        if f'"{dbname}" does not exist' not in str(error):
            return str(error).strip()
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    try:
        conn = psycopg2.connect(maintenance, connect_timeout=3)
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{dbname}"')
        conn.close()
    except psycopg2.Error as error:
        return str(error).strip()
    return None


def require_postgres() -> None:
    """Skip (or, when PostgreSQL is required, fail) unless the test database answers."""
    problem = _reachable()
    if problem is None:
        return
    message = f"no PostgreSQL at {database_url()}: {problem}"
    if required():
        pytest.fail(message + " (LEDGER_REQUIRE_POSTGRES is set)")
    pytest.skip(message)


def new_schema() -> str:
    return "t_" + uuid.uuid4().hex[:16]


def drop_schema(schema: str) -> None:
    conn = psycopg2.connect(database_url(), connect_timeout=3)
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    conn.close()


def execute(schema: str, statement: str, params: tuple = ()) -> list[tuple]:
    """Run SQL in a test's schema, straight on the database (for tampering and inspection)."""
    conn = psycopg2.connect(database_url(), connect_timeout=3)
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute(f'SET search_path TO "{schema}"')
        cursor.execute(statement, params)
        rows = cursor.fetchall() if cursor.description else []
    conn.close()
    return rows
