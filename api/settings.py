"""Configuration, read from the environment (a .env file works too) and overridable in create_app."""

from __future__ import annotations

import os
from typing import Any

ENVIRONMENT_SETTINGS = {
    # name: (default, parser)
    "DATABASE_URL": ("", str),
    "MAX_BODY_BYTES": (64 * 1024, int),
    "MAX_HEADER_BYTES": (16 * 1024, int),
    "SNAPSHOT_INTERVAL": (100, int),
    # inline: the API process brings views up to date itself (default on SQLite);
    # worker: `flask projections run` does (default on PostgreSQL).
    "PROJECTIONS_MODE": ("", str),
    "READ_YOUR_WRITES_TIMEOUT": (3.0, float),
    # Embedded mode: after a command, views catch up within so many seconds, the commands of that moment
    # together (0: after each command, before it is answered). Reads catch up first either way.
    # gunicorn.conf.py sets 0.05 for the production command.
    "CATCH_UP_WITHIN": (0.0, float),
    "PROJECTIONS_BATCH_SIZE": (500, int),
    # Commands one caller may send to one relationship (api/limits.py): a burst, then so many a minute.
    # 0 switches the limit off.
    "COMMANDS_PER_MINUTE": (120.0, float),
    "COMMAND_BURST": (30, int),
    # The pages' session cookie is sent over HTTPS only (set it behind TLS).
    "SECURE_COOKIES": (False, lambda raw: raw.strip().lower() in ("1", "true", "yes")),
}


def from_environment(environ: dict[str, str] | None = None) -> dict[str, Any]:
    environ = os.environ if environ is None else environ
    settings = {}
    for name, (default, parse) in ENVIRONMENT_SETTINGS.items():
        raw = environ.get(name)
        settings[name] = parse(raw) if raw not in (None, "") else default
    return settings
