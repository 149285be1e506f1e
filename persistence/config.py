"""From DATABASE_URL to the environment an eventsourcing application is built from."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

DEFAULT_SQLITE_FILE = "mentorship-ledger.sqlite3"
POSTGRES_MODULE = "persistence.postgres"
SQLITE_MODULE = "persistence.sqlite"  # the library's, keeping to the file first opened


class DatabaseURLError(ValueError):
    """DATABASE_URL names a store the ledger cannot use."""


def store_env(database_url: str | None, instance_path: str) -> dict[str, str]:
    """The persistence settings for ``database_url``; unset means an SQLite file in the instance folder."""
    if not database_url:
        return sqlite_env(os.path.join(instance_path, DEFAULT_SQLITE_FILE))
    scheme = urlsplit(database_url).scheme
    if scheme == "sqlite":
        return sqlite_env(sqlite_path(database_url))
    if scheme in ("postgres", "postgresql"):
        return {"PERSISTENCE_MODULE": POSTGRES_MODULE, "POSTGRES_DSN": database_url}
    raise DatabaseURLError(
        f"DATABASE_URL must start with sqlite:/// or postgresql://, not {scheme or database_url!r}"
    )


def sqlite_path(database_url: str) -> str:
    """``sqlite:///relative/file`` or ``sqlite:////absolute/file`` (three slashes, then the path)."""
    prefix = "sqlite:///"
    if not database_url.startswith(prefix) or len(database_url) == len(prefix):
        raise DatabaseURLError("An SQLite DATABASE_URL looks like sqlite:///path/to/file.sqlite3")
    return database_url[len(prefix):]


def sqlite_env(path: str) -> dict[str, str]:
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    return {
        "PERSISTENCE_MODULE": SQLITE_MODULE,
        "SQLITE_DBNAME": path,
        "SQLITE_LOCK_TIMEOUT": "10",
    }
