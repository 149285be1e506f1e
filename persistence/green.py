"""psycopg2 under gevent: waiting for PostgreSQL yields to other greenlets instead of blocking the worker.

The production server (gunicorn with gevent workers, ``api.serving``) calls ``make_psycopg2_green`` in each
worker before the application is loaded. psycopg2 then runs every query through ``wait`` (its documented
wait-callback interface), so one slow query never holds up the other requests of the worker.
COPY is not available on such connections; ``is_green`` tells callers to use INSERTs instead.
"""

from __future__ import annotations

from typing import Any


def make_psycopg2_green() -> None:
    """Route psycopg2's waits through gevent's hub (idempotent)."""
    from psycopg2 import extensions

    extensions.set_wait_callback(wait)


def is_green() -> bool:
    """Whether psycopg2 runs through a wait callback (then COPY cannot be used)."""
    from psycopg2 import extensions

    return extensions.get_wait_callback() is not None


def wait(connection: Any, timeout: float | None = None) -> None:
    """Poll the connection until its operation completes, letting other greenlets run meanwhile."""
    from gevent.socket import wait_read, wait_write
    from psycopg2 import OperationalError, extensions

    while True:
        state = connection.poll()
        if state == extensions.POLL_OK:
            return
        if state == extensions.POLL_READ:
            wait_read(connection.fileno(), timeout=timeout)
        elif state == extensions.POLL_WRITE:
            wait_write(connection.fileno(), timeout=timeout)
        else:
            raise OperationalError(f"unexpected state from poll(): {state!r}")
