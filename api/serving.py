"""The production server's worker: gunicorn's gevent worker, with psycopg2 made cooperative and gunicorn's own
refusals (a request line or headers over its limits, a malformed request) answered as problem+json, and a
store that does not answer when it starts waited for while answering 503 (``Unloaded``).

A gevent worker gives each connection a greenlet, not a thread: a client that sends its request slowly, or
not at all, holds only a few kilobytes, and every other request goes on being answered (gthread's workers
hand one of their few threads to each such connection). gunicorn.conf.py selects this worker.
"""

from __future__ import annotations

import json
import mmap
import os
import struct
import time
import weakref
from typing import Any

import gevent
from gevent.server import StreamServer
from gunicorn import util
from gunicorn.glogging import Logger
from gunicorn.workers import ggevent
from gunicorn.workers.ggevent import GeventWorker

from api.errors import HTTP_SLUGS, PROBLEM_BASE, PROBLEM_JSON
from api.http import SECURITY_HEADERS
from persistence.green import make_psycopg2_green
from persistence.pg_datastore import Startup, not_answering

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


LOAD_AGAIN = 1.0  # seconds between a waiting worker's loads of the application
SAY_AGAIN = 30.0  # seconds between its log lines while the store's answer stays the same


class Unloaded:
    """A worker's WSGI application while its application could not be loaded because the event store does not
    answer: ``api.create_unavailable_app`` (liveness 200, everything else 503); ``target``, once loaded,
    answers everything."""

    def __init__(self) -> None:
        from api import create_unavailable_app

        self.target: Any = None
        self.unavailable = create_unavailable_app()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        return (self.target or self.unavailable)(environ, start_response)


# The longest a worker serves the connections whose next request has already arrived before it looks at the
# network again (every other connection's new requests): a fair share, at the cost of one idle loop turn.
IO_TURN = 0.002


class Spread:
    """How many connections each worker of this gunicorn master holds, in memory the workers share (made when
    the master imports this module, before it forks them), so that a new connection goes to the worker holding
    fewest.

    The workers share one listening socket; the kernel wakes every worker waiting on it, and the first to run
    accepts. A burst of keep-alive connections (a proxy's pool, a benchmark) could so land mostly on one
    worker, which then served them on one core while the other idled, for as long as they lasted. Now a worker
    holding more connections than another *answering* worker leaves a waiting connection to it (looks again
    ``TURN`` later); ties accept. A worker answers while its loop turns: it writes its record every ``BEAT``
    from its loop, once its application is loaded, and clears it as it stops. One whose record is older than
    ``STALE`` (busy for that long, stuck, gone) is not waited for, and no connection is left waiting longer
    than ``PATIENCE`` in any case. The connections a worker holds are its server's greenlets (a connection
    that fails before its request, e.g. a TLS handshake, is given back with its greenlet)."""

    SLOTS = 64
    RECORD = struct.Struct("=qqd")  # pid (0: free), connections held, when its loop last turned (monotonic)
    BEAT, STALE, TURN, PATIENCE = 0.02, 0.1, 0.001, 0.05

    def __init__(self, clock: Any = time.monotonic) -> None:
        self.memory = mmap.mmap(-1, self.SLOTS * self.RECORD.size)
        self.clock = clock
        self._holders: weakref.WeakValueDictionary[int, Any] = weakref.WeakValueDictionary()  # master only
        self.slot: int | None = None
        self.pid = 0
        self.pool: Any = ()  # the worker's server's greenlets: one per connection it holds (SpreadServer)
        self._waiting_since: float | None = None  # since when a waiting connection has been left to others
        self._left_at = 0.0

    def claim(self, worker: Any) -> int | None:
        """In the master, as it makes a worker: a slot no living worker of it holds (None: all taken)."""
        for slot in range(self.SLOTS):
            if slot not in self._holders:
                self._holders[slot] = worker
                return slot
        return None

    def join(self, slot: int | None, pid: int) -> None:
        """In the worker, its application loaded: its slot, from now on."""
        self.slot, self.pid = slot, pid
        self.beat()

    def beat(self) -> None:
        if self.slot is not None:
            self.RECORD.pack_into(self.memory, self.slot * self.RECORD.size, self.pid, len(self.pool), self.clock())

    def leave(self) -> None:
        """The worker stops: its slot is free, and no one waits for it."""
        if self.slot is not None:
            self.RECORD.pack_into(self.memory, self.slot * self.RECORD.size, 0, 0, 0.0)

    def records(self) -> list[tuple[int, int, float]]:
        return [self.RECORD.unpack_from(self.memory, slot * self.RECORD.size) for slot in range(self.SLOTS)]

    def leave_to_another(self) -> bool:
        """Whether this worker leaves the connection waiting now to another worker (see the class)."""
        if self.slot is None:
            return False
        now, held = self.clock(), len(self.pool)
        fewer = any(pid and pid != self.pid and theirs < held and now - beat < self.STALE
                    for pid, theirs, beat in self.records())
        if fewer and (self._waiting_since is None or now - self._left_at > self.PATIENCE):
            self._waiting_since = now  # a connection begins to wait (the last one was taken meanwhile)
        if not fewer or now - self._waiting_since >= self.PATIENCE:
            self._waiting_since = None
            return False
        self._left_at = now
        return True


SPREAD = Spread()


class SpreadServer(StreamServer):
    """gevent's server, accepting a waiting connection only when ``SPREAD`` does not leave it to another worker."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        SPREAD.pool = self.pool

    def _do_read(self) -> None:
        if SPREAD.leave_to_another():
            self.stop_accepting()
            self._timer = self.loop.timer(Spread.TURN)
            self._timer.start(self._start_accepting_if_started)
            return
        super()._do_read()
        SPREAD.beat()  # the count others see, with the connection just accepted


class ProblemGeventWorker(GeventWorker):
    """gunicorn's gevent worker, cooperative down to PostgreSQL, refusing in problem+json, its connections
    spread over the workers (``Spread``)."""

    _polled = 0.0
    loaded = True  # the application is loaded (gunicorn.conf.py's post_worker_init says so in the log)
    unloaded: Unloaded | None = None
    _said: str | None = None  # the store's last answer the log told
    _said_at = 0.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.slot = SPREAD.claim(self)  # in the master, before it forks this worker

    def init_process(self) -> None:
        make_psycopg2_green()
        util.write_error = write_problem  # the one place gunicorn writes its own error pages
        super().init_process()

    def load_wsgi(self) -> None:
        """Load the application; if the event store does not answer, answer 503 meanwhile and load it again
        every ``LOAD_AGAIN`` seconds (``run``). A worker that failed to boot would stop the whole server: a
        restart while PostgreSQL is down would leave the port unanswered until someone starts it again. A
        wrong setting (a password refused, no such database) still fails the boot, at once."""
        Startup.patience = 0.0  # no waiting in a load: clients are answered meanwhile
        try:
            super().load_wsgi()
        except Exception as error:
            if not not_answering(error):
                raise
            self.wsgi = self.unloaded = Unloaded()
            self.loaded = False
            self._waiting(error)

    def _waiting(self, error: BaseException) -> None:
        """Say so in the log: at first, whenever the store's answer changes, and every ``SAY_AGAIN`` seconds."""
        reason = " ".join(str(error).split()) or type(error).__name__
        now = time.monotonic()
        if reason != self._said or now - self._said_at >= SAY_AGAIN:
            self._said, self._said_at = reason, now
            self.log.warning("Worker waiting for the event store (pid: %s), answering 503 meanwhile: %s",
                             self.pid, reason)

    def run(self) -> None:
        if self.cfg.workers > 1 and self.slot is not None and len(self.sockets) == 1:
            ggevent.StreamServer = SpreadServer  # the server gunicorn's run() makes, in this process only
        if self.unloaded is not None:
            gevent.spawn(self._load_when_reachable)
        else:
            self._join_spread()
        super().run()

    def _join_spread(self) -> None:
        """Take part in the spreading (``Spread``), the application loaded: a worker answering only 503 is not
        one to leave connections to."""
        if ggevent.StreamServer is SpreadServer:
            SPREAD.join(self.slot, os.getpid())
            gevent.spawn(self._beat)

    def _load_when_reachable(self) -> None:
        while self.alive:
            gevent.sleep(LOAD_AGAIN)
            try:
                application = self.app.wsgi()  # imports the application module again: a failed import left none
            except Exception as error:
                if not_answering(error):
                    self._waiting(error)
                    continue
                self.log.exception("Worker failed to load the application (pid: %s)", self.pid)
                self.alive = False  # this worker stops; the master starts another, which fails its boot loudly
                return
            self.unloaded.target = application
            self.loaded = True
            self._join_spread()
            self.cfg.post_worker_init(self)
            return

    def _beat(self) -> None:
        try:
            while self.alive:
                SPREAD.beat()
                gevent.sleep(Spread.BEAT)
        finally:
            SPREAD.leave()

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
