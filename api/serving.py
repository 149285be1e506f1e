"""The production server's worker: gunicorn's gevent worker, with psycopg2 made cooperative and gunicorn's own
refusals (a request line or headers over its limits, a malformed request) answered as problem+json.

A gevent worker gives each connection a greenlet, not a thread: a client that sends its request slowly, or
not at all, holds only a few kilobytes, and every other request goes on being answered (gthread's workers
hand one of their few threads to each such connection). gunicorn.conf.py selects this worker.
"""

from __future__ import annotations

import json
import time
from typing import Any

import gevent
from gunicorn import util
from gunicorn.glogging import Logger
from gunicorn.workers.ggevent import GeventWorker

from api.errors import HTTP_SLUGS, PROBLEM_BASE, PROBLEM_JSON
from api.http import SECURITY_HEADERS
from persistence.green import make_psycopg2_green

DETAILS = {
    400: "The request is malformed.",
    414: "The request line is longer than the server accepts.",
    431: "The request headers are larger than the server accepts.",
    500: "The service failed to answer this request.",
    501: "This transfer coding is not supported.",
}


def problem_bytes(status: int, reason: str) -> bytes:
    """A whole HTTP/1.1 response with a problem+json body, the connection closed after it."""
    body = json.dumps({
        "type": PROBLEM_BASE + HTTP_SLUGS.get(status, "error"),
        "title": reason,
        "status": status,
        "detail": DETAILS.get(status, reason),
    }).encode()
    headers = [f"HTTP/1.1 {status} {reason}", "Connection: close", f"Content-Type: {PROBLEM_JSON}",
               f"Content-Length: {len(body)}", "Cache-Control: no-store",
               *(f"{name}: {value}" for name, value in SECURITY_HEADERS.items())]
    return ("\r\n".join(headers) + "\r\n\r\n").encode("latin-1") + body


def write_problem(sock: Any, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn's ``util.write_error``, answering problem+json instead of an HTML page (``mesg`` is not sent:
    it echoes what the client sent)."""
    util.write_nonblock(sock, problem_bytes(status_int, reason))


# The longest a worker serves the connections whose next request has already arrived before it looks at the
# network again (every other connection's new requests): a fair share, at the cost of one idle loop turn.
IO_TURN = 0.002


class ProblemGeventWorker(GeventWorker):
    """gunicorn's gevent worker, cooperative down to PostgreSQL, refusing in problem+json."""

    _polled = 0.0

    def init_process(self) -> None:
        make_psycopg2_green()
        util.write_error = write_problem  # the one place gunicorn writes its own error pages
        super().init_process()

    def handle_request(self, listener_name: Any, req: Any, sock: Any, addr: Any) -> Any:
        """Let the other connections' greenlets run before each request. A keep-alive client whose next
        request is already waiting would otherwise be served again and again without the worker ever
        switching, while every other connection waits (at 8 connections, a p99 near a second).

        ``gevent.sleep(0)`` lets greenlets already runnable take their turn, but not the connections whose
        requests have arrived meanwhile: the network is looked at only once the loop has nothing else to
        run, and with fast answers that was 20-30 ms later (the p99 of a health page at 2 to 8 connections,
        its p50 1-3 ms). So at least every ``IO_TURN`` the request waits until the loop is idle, i.e. has
        looked at the network and run what arrived (``gevent.idle``); waiting so before every request would
        cost the cheapest answers half their rate."""
        now = time.monotonic()
        if now - self._polled > IO_TURN:
            self._polled = now
            gevent.idle()
        else:
            gevent.sleep(0)
        return super().handle_request(listener_name, req, sock, addr)


ACCESS_LOG_FORMAT = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms'


class AccessLogger(Logger):
    """gunicorn's logger; for the access log format of gunicorn.conf.py it builds only the fields that format
    names (gunicorn's own builds a dict of every header and every environ entry, for every request)."""

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> dict[str, Any]:
        if self.cfg.access_log_format != ACCESS_LOG_FORMAT:
            return super().atoms(resp, req, environ, request_time)
        status = resp.status
        sent = getattr(resp, "sent", None)
        return {"h": environ.get("REMOTE_ADDR", "-"), "m": environ.get("REQUEST_METHOD"),
                "U": environ.get("PATH_INFO"), "H": environ.get("SERVER_PROTOCOL"),
                "s": status.split(None, 1)[0] if isinstance(status, str) else status,
                "b": sent is not None and str(sent) or "-",
                "M": request_time.seconds * 1000 + int(request_time.microseconds / 1000)}
