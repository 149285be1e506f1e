"""The projections of a ledger: keeping views up to date, waiting for them, rebuilding them."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import IntegrityError, OperationalError

from domain.ledger import MentorshipLedger
from persistence.pg_datastore import STORE_ERRORS, Startup
from persistence.sqlite import StoreFileChangedError
from projections.audit import AuditTrailView
from projections.base import (
    GENERATIONS_TABLE,
    TRACKING_TABLE,
    View,
    create_bookkeeping,
    live_generation,
    live_version,
    process_together,
    record_version,
    tracked,
)
from projections.feed import read_batch
from projections.growth import SkillsGrowthView
from projections.health import rank as hr
from projections.health.view import HealthView
from projections.index import RelationshipIndexView
from projections.store import ViewStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ride:
    """A read of a view made in the statement a request makes anyway (its token's): ``sql``, a subquery in
    PostgreSQL's %s marks, its ``params``, and what it reads: (the view's name, its generation, the query's
    values)."""

    sql: str
    params: tuple[Any, ...]
    key: tuple[str, int, Any]

VIEW_CLASSES: dict[str, type[View]] = {
    cls.name: cls for cls in (AuditTrailView, HealthView, SkillsGrowthView, RelationshipIndexView)
}
Progress = Callable[[str, int, int], None]


class ProjectionsNotCaughtUpError(TimeoutError):
    """A view did not reach the asked-for position in time."""


class Projections:
    """All views of one ledger, in the same database as its events."""

    def __init__(self, ledger: MentorshipLedger, batch_size: int = 500) -> None:
        self.ledger = ledger
        self.store = ViewStore(ledger.factory)
        self.store.seal_key = ledger.signing_key
        if ledger.vault.anchor is not None:  # a store migrated under the privacy scheme continues the old chain
            self.store.genesis = ledger.vault.anchor[1]
        self.batch_size = batch_size
        self._views: dict[tuple[str, int], View] = {}
        # One catch-up at a time in this process. Under gevent this lock is gevent's: a request that finds a
        # catch-up under way waits by yielding, instead of meeting the other's SQLite write lock, whose busy
        # wait would block the whole worker (threads wait their turn here too, instead of retrying).
        self._catching_up = threading.Lock()
        # A catch-up this process has promised within a moment (``catch_up_soon``), until it starts.
        self._soon: threading.Timer | None = None
        self._soon_lock = threading.Lock()
        # The views' live generations as read at the start of the current request (with its token), if it did.
        self._request = threading.local()
        # The views' live generations as this process last read them with a token: what a read riding along
        # with the next token is made for (``ride_along``); checked against what that token's statement reads.
        self._seen_live: dict[str, int] = {}
        # Every view had processed the store up to here when this process last caught up all of them; and
        # no health ranking is due to change before this moment (epoch seconds) unless an event arrives.
        self._caught_up_to, self._ranked_until = -1, 0.0
        self._ranked_ahead: tuple[int, float] | None = None  # (health generation, moment) last ranked ahead from
        create_bookkeeping(self.store)
        for name in VIEW_CLASSES:
            if self.store.postgres:  # a deadlock or lock timeout with a batch of another process: tried again
                Startup.wait_out(lambda name=name: self._ensure_live(name))
            else:
                self._ensure_live(name)
        for name, cls in VIEW_CLASSES.items():
            if self._live_version(name) < cls.VERSION:
                self.rebuild(name, only_if_older=True)  # tables of an older shape: replay into the new one

    # -- views --------------------------------------------------------------------

    def view(self, name: str) -> View:
        """The live generation of a view (it changes only when a rebuild switches over)."""
        generation = (getattr(self._request, "live", None) or {}).get(name)
        if generation is None:
            with self.store.transaction(write=False) as cursor:
                generation = live_generation(cursor, self.store, name)
        return self._instance(name, generation or 1)

    @property
    def live_sql(self) -> str:
        """A subquery answering every view's live generation and how far it has got, as ``name=N:P,...`` (P -1:
        not yet tracked), to ride along with a query a request makes anyway (see ``note_live``)."""
        joined = "string_agg" if self.store.postgres else "group_concat"
        generations, tracking = self.store.table(GENERATIONS_TABLE), self.store.table(TRACKING_TABLE)
        return (f"(SELECT {joined}(g.name || '=' || g.live || ':' || COALESCE(t.position, -1), ',') "
                f"FROM {generations} AS g LEFT JOIN {tracking} AS t ON t.name = g.name || '@' || g.live)")

    def note_live(self, answer: str | None) -> None:
        """The answer of ``live_sql`` read at the start of this request; None (unknown, or the request is over):
        ask the store."""
        live, positions = None, None
        if answer:
            live, positions = {}, {}
            for part in answer.split(","):
                name, _, noted = part.partition("=")
                generation, _, position = noted.partition(":")
                live[name], at = int(generation), int(position or -1)
                positions[(name, live[name])] = at if at >= 0 else None
            self._seen_live = live
        self._request.live = live
        self._request.positions = positions
        self._request.along = None

    def forget_noted_positions(self) -> None:
        """The views may have moved since the request's token was read: this request caught up (embedded mode;
        even when it found nothing to do, another greenlet may have caught up after the token was read) or
        waited for them (``wait_for``)."""
        self._request.positions = None
        self._request.along = None

    def ride_along(self, name: str, what: Any, read: Callable[[View], tuple[str, tuple[Any, ...]] | None]
                   ) -> Ride | None:
        """A read of view ``name`` to make with this request's token, in the same statement (one round trip):
        ``read`` gives the subquery for a generation of the view (None: the view cannot ride); ``what`` says
        what it reads (the query's values), for ``read_along``. Made for the generation this process last saw
        live; None before it saw one."""
        generation = self._seen_live.get(name)
        if generation is None:
            return None
        made = read(self._instance(name, generation))
        return None if made is None else Ride(made[0], made[1], (name, generation, what))

    def note_along(self, ride: Ride, answer: Any) -> None:
        """What ``ride`` read with this request's token (after ``note_live`` has noted that statement's views)."""
        self._request.along = (ride.key, answer)

    def read_along(self, view: View, what: Any) -> tuple[Any] | None:
        """(answer,) of the read of ``what`` that rode along with this request's token for ``view``, if one
        did and it still stands: read from the generation that statement found live, and the views not moved
        for this request since (``forget_noted_positions``); else None: read ``view`` itself."""
        noted = getattr(self._request, "along", None)
        if noted is None or getattr(self._request, "positions", None) is None:
            return None
        key, answer = noted
        if key != (view.name, view.generation, what) \
                or (getattr(self._request, "live", None) or {}).get(view.name) != view.generation:
            return None
        return (answer,)

    def position_of(self, view: View) -> int | None:
        """How far ``view`` has got: as read with this request's token if it was (the request's moment; see
        ``forget_noted_positions``), else from the store."""
        noted = getattr(self._request, "positions", None)
        if noted is not None and (view.name, view.generation) in noted:
            return noted[(view.name, view.generation)]
        with view.store.statement() as cursor:
            return view.position(cursor)

    def views(self) -> list[View]:
        return [self.view(name) for name in VIEW_CLASSES]

    def _instance(self, name: str, generation: int) -> View:
        key = (name, generation)
        if key not in self._views:
            self._views[key] = VIEW_CLASSES[name](self.store, generation)
        return self._views[key]

    def _ensure_live(self, name: str) -> None:
        with self.store.transaction(write=True) as cursor:
            self._serialise_schema_changes(cursor)
            generation = live_generation(cursor, self.store, name)
            if generation is None:
                generation = 1
                cursor.execute(f"INSERT INTO {self.store.table(GENERATIONS_TABLE)} (name, live) VALUES (?, ?)",
                               (name, generation))
                record_version(cursor, self.store, name, VIEW_CLASSES[name].VERSION)
            elif live_version(cursor, self.store, name) < VIEW_CLASSES[name].VERSION:
                return  # an older shape: rebuilt (not altered) by the caller
            self._instance(name, generation).create_tables(cursor)

    def _live_version(self, name: str) -> int:
        with self.store.transaction(write=False) as cursor:
            return live_version(cursor, self.store, name)

    def _serialise_schema_changes(self, cursor: Any) -> None:
        if self.store.postgres:
            cursor.execute("SELECT pg_advisory_xact_lock(?)", (self.store.lock_key("projections schema"),))

    # -- keeping up ---------------------------------------------------------------

    def catch_up(self, views: list[View] | None = None, progress: Progress | None = None) -> int:
        """Process every event the views have not seen, in batches; returns how many events were read."""
        with self._catching_up:
            return self._catch_up(views, progress)

    def catch_up_soon(self, within: float) -> None:
        """Embedded mode, after a command: catch up within ``within`` seconds, on a timer of this process (a
        greenlet under gevent), so that the commands of that moment are applied as one batch instead of one
        catch-up each. Nothing waits on it: every read catches up first anyway (``catch_up_for_read``).
        ``within`` 0: catch up now."""
        if within <= 0:
            self.catch_up()
            return
        with self._soon_lock:
            if self._soon is not None:
                return  # a catch-up is promised and has not started: it will read this command's events
            timer = threading.Timer(within, self._catch_up_promised)
            timer.daemon = True
            timer.start()  # promised only once started: a timer that cannot start promises nothing
            self._soon = timer

    def _catch_up_promised(self) -> None:
        with self._soon_lock:
            self._soon = None  # from here on a command promises a new one: this one may have read too early
        try:
            self.catch_up()
        except Exception:  # noqa: BLE001 - the commands are committed; the next read or command catches up
            log.warning("views could not catch up after commands", exc_info=True)

    def cancel_soon(self) -> None:
        """Drop a promised catch-up that has not started (the ledger is closing)."""
        with self._soon_lock:
            timer, self._soon = self._soon, None
        if timer is not None:
            timer.cancel()

    def catch_up_for_read(self) -> None:
        """Embedded mode, before a read: catch up, unless the store's position this request read with its token
        shows nothing written since this process last caught up (then only re-rank health if it is due)."""
        self.forget_noted_positions()
        noted = self.ledger.noted_position()
        if noted is None or noted > self._caught_up_to:
            self.catch_up()
        elif self.ledger.clock().timestamp() >= self._ranked_until:
            with self._catching_up:
                self._rerank(self.views())

    def _catch_up(self, views: list[View] | None, progress: Progress | None) -> int:
        live = views is None  # the live views, all of them (not a rebuild's fresh generations)
        views = views if views is not None else self.views()
        start = min(tracked(views))
        read = 0
        # On PostgreSQL the next batch is read while this one is applied: the
        # server works on one while Python works on the other. (SQLite works
        # in this process, so reading ahead only contends with applying.)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="read-ahead") as reader:
            if self.store.postgres:
                ahead = reader.submit(read_batch, self.ledger, start, self.batch_size)
            else:
                ahead = _done(read_batch(self.ledger, start, self.batch_size))
            while True:
                items = ahead.result()
                if not items:
                    self._rerank(views, stale=read > 0)
                    if live:
                        self._caught_up_to = max(self._caught_up_to, start)
                    return read
                start = items[-1].position
                if self.store.postgres:
                    ahead = reader.submit(read_batch, self.ledger, start, self.batch_size)
                else:
                    ahead = _done(read_batch(self.ledger, start, self.batch_size))
                self._process(views, items)
                read += len(items)
                if progress is not None:
                    progress(",".join(v.name for v in views), start, self.ledger.position())

    def _rerank(self, views: list[View], *, stale: bool = False) -> None:
        """Bring stale health rankings up to date, so worst-first pages read an index (see health_rank); in the
        last minutes before midnight, rank for midnight what will be stale then (no slow first minutes).
        ``stale``: events were just applied (their rankings are stale: no need to ask)."""
        now = self.ledger.clock()
        for view in views:
            if not isinstance(view, HealthView):
                continue
            ahead_from = hr.next_midnight(now).timestamp() - hr.AHEAD
            ahead = (view.generation, ahead_from)
            due_ahead = now.timestamp() >= ahead_from and ahead != self._ranked_ahead
            if not (stale or due_ahead):
                with view.store.transaction(write=False) as cursor:
                    until = view.ranking_until(cursor)  # stale rows, if any, make it no later than now
                stale = until is not None and until <= now.timestamp()
            if stale or due_ahead:
                with view.store.transaction(write=True) as cursor:
                    view.lock(cursor)
                    view.rerank(cursor, now)
                    if due_ahead:
                        view.rank_ahead(cursor, now)
                    until = view.ranking_until(cursor)
                if due_ahead:
                    self._ranked_ahead = ahead
            due = [until if until is not None else float("inf")]
            if ahead != self._ranked_ahead:
                due.append(ahead_from)
            self._ranked_until = min(due)

    @staticmethod
    def _process(views: list[View], items: list) -> None:
        for attempt in range(5):
            try:
                process_together(views, items)
                return
            except (IntegrityError, OperationalError):
                # Another process tracked these events first (or held the lock): look again.
                if attempt == 4:
                    raise
                time.sleep(0.05 * (attempt + 1))

    def positions(self) -> dict[str, int]:
        """How far each live view has got."""
        views = self.views()
        return dict(zip((view.name for view in views), tracked(views), strict=True))

    def wait_for(self, position: int, names: list[str] | None = None, timeout: float = 3.0) -> None:
        """Block until the views have processed ``position``; ProjectionsNotCaughtUpError otherwise."""
        self.forget_noted_positions()
        deadline = time.monotonic() + timeout
        wanted = names or list(VIEW_CLASSES)
        delay = 0.01
        while True:
            positions = self.positions()
            if all(positions[name] >= position for name in wanted):
                return
            if time.monotonic() >= deadline:
                raise ProjectionsNotCaughtUpError(f"views have not reached position {position} yet")
            time.sleep(delay)
            delay = min(delay * 2, 0.2)

    def lag(self) -> dict[str, int]:
        head = self.ledger.position()
        return {name: head - position for name, position in self.positions().items()}

    # -- rebuilding ---------------------------------------------------------------

    def rebuild(self, name: str, progress: Progress | None = None, *, only_if_older: bool = False) -> int:
        """Replay every event into a fresh generation of a view, then switch queries over to it.

        One rebuild of a view at a time, across processes; ``only_if_older``: unless
        another process rebuilt it to the current shape meanwhile.
        """
        return self.rebuild_together([name], progress, only_if_older=only_if_older)[name]

    def rebuild_together(self, names: list[str], progress: Progress | None = None, *,
                         only_if_older: bool = False) -> dict[str, int]:
        """Rebuild several views from one reading of the store: each event is read and decoded once for all
        of them (a rebuild's reading is a third of its work), each view in its own fresh generation, each
        switched over once it has caught up. The new generation of each view, by name.

        The same lock per view as ``rebuild``, taken in the order of the names (no two rebuilds wait on each
        other in a circle)."""
        names = sorted(set(names))
        with contextlib.ExitStack() as locks:
            for name in names:
                locks.enter_context(self.store.exclusive(f"rebuild {name}"))
            current = [name for name in names
                       if only_if_older and self._live_version(name) >= VIEW_CLASSES[name].VERSION]
            rebuilt = self._rebuild([name for name in names if name not in current], progress)
            return {**{name: self.view(name).generation for name in current}, **rebuilt}

    def _rebuild(self, names: list[str], progress: Progress | None) -> dict[str, int]:
        if not names:
            return {}
        olds: dict[str, int] = {}
        fresh: dict[str, View] = {}
        with self.store.transaction(write=True) as cursor:
            self._serialise_schema_changes(cursor)
            for name in names:
                olds[name] = live_generation(cursor, self.store, name) or 1
                fresh[name] = self._instance(name, olds[name] + 1)
                fresh[name].drop_tables(cursor)
                fresh[name].create_tables(cursor, query_indexes=False)
        self.catch_up(list(fresh.values()), progress)
        with self.store.transaction(write=True) as cursor:
            for view in fresh.values():
                view.create_tables(cursor)  # now the indexes only queries use
        for view in fresh.values():
            self._analyse(view)
        waiting = list(names)
        while waiting:
            waiting = [name for name in waiting if not self._switch(name, olds[name], fresh[name])]
            if waiting:
                self.catch_up([fresh[name] for name in waiting], progress)
        with self.store.transaction(write=True) as cursor:
            for name in names:
                self._instance(name, olds[name]).drop_tables(cursor)
        return {name: view.generation for name, view in fresh.items()}

    def _analyse(self, view: View) -> None:
        """Give PostgreSQL's planner statistics for freshly filled tables before queries use them."""
        if self.store.postgres:
            with self.store.transaction(write=True) as cursor:
                for logical in view.TABLES:
                    cursor.execute(f"ANALYZE {view.table(logical)}")

    def _switch(self, name: str, old: int, fresh: View) -> bool:
        with self.store.transaction(write=True) as cursor:
            if (fresh.position(cursor) or 0) < self.ledger.position():
                return False
            cursor.execute(f"UPDATE {self.store.table(GENERATIONS_TABLE)} SET live = ? WHERE name = ? AND live = ?",
                           (fresh.generation, name, old))
            record_version(cursor, self.store, name, fresh.VERSION)
        return True

    # -- running as a worker ------------------------------------------------------------

    def run(self, stop: Callable[[], bool], poll_interval: float = 1.0, log: Callable[[str], None] = print,
            names: list[str] | None = None) -> None:
        """Keep these views (all by default) up to date until ``stop()`` says so; wakes on NOTIFY on PostgreSQL.

        On PostgreSQL each view has its own lock: workers for different views run at once (one per core),
        and a second worker for a view stands by until the first stops.
        """
        names = sorted(names or VIEW_CLASSES)
        with self._exclusive(stop, poll_interval, log, names) as held, self._wakeups() as wait:
            while not stop():
                try:
                    if not held():  # the locks' connection was lost (the store restarted): taken again first
                        continue
                    read = self.catch_up([self.view(name) for name in names])
                    if read:
                        log(f"processed {read} events; positions {self.positions()}")
                except StoreFileChangedError:
                    raise  # the SQLite file went: nothing to wait for (the process must be restarted)
                except STORE_ERRORS as error:  # running: any of them is waited out, as before
                    log(f"store unavailable ({' '.join(str(error).split())}); retrying")
                    time.sleep(poll_interval)
                    continue
                if not read:  # woken by new events, or when a ranking is due to change (midnight: on the second)
                    due_in = self._ranked_until - self.ledger.clock().timestamp()
                    wait(min(poll_interval, due_in) if due_in > 0 else poll_interval)

    @contextlib.contextmanager
    def _exclusive(self, stop: Callable[[], bool], poll_interval: float, log: Callable[[str], None],
                   names: list[str]) -> Iterator[Callable[[], bool]]:
        """On PostgreSQL, one active worker per view (``WorkerLocks``); yields whether they are held."""
        if not self.store.postgres:
            yield lambda: True
            return
        locks = WorkerLocks(self.store, names, stop, poll_interval, log)
        try:
            if locks.take():
                yield locks.keep
            else:
                yield lambda: False  # stopped while standing by
        finally:
            locks.release()

    @contextlib.contextmanager
    def _wakeups(self) -> Iterator[Callable[[float], None]]:
        """A wait that ends early when new events are committed (PostgreSQL LISTEN), else a sleep."""
        if not self.store.postgres:
            yield time.sleep
            return
        listener = self.ledger.recorder.listener()
        try:
            yield listener.wait
        finally:
            listener.close()


class WorkerLocks:
    """One active projection worker per view on PostgreSQL: an advisory lock per view, all or none held, on a
    connection of its own; another worker stands by until they are free. Session locks last as long as their
    connection: when it is lost (PostgreSQL restarted), they are taken again before any more work, standing by
    if another worker took them meanwhile. A store away while standing by is waited for, not fatal."""

    def __init__(self, store: ViewStore, names: list[str], stop: Callable[[], bool], poll_interval: float,
                 log: Callable[[str], None]) -> None:
        self.pool = store.datastore.pool
        self.keys = [store.lock_key(f"projection worker {name}") for name in names]
        self.names, self.stop, self.poll_interval, self.log = names, stop, poll_interval, log
        self.conn: Any = None

    def take(self) -> bool:
        """Hold every lock (True), or stop asking when ``stop()`` says so (False)."""
        announced = False
        while not self.stop():
            try:
                if self._try():
                    return True
                if not announced:
                    self.log(f"another projection worker is active for {', '.join(self.names)}; standing by")
                    announced = True
            except STORE_ERRORS as error:
                self._drop()
                self.log(f"store unavailable ({' '.join(str(error).split())}); retrying")
            time.sleep(self.poll_interval)
        return False

    def _try(self) -> bool:
        if self.conn is None:
            self.conn = self.pool.get()
        with self.conn.raw.cursor() as cursor:
            held = []
            for key in self.keys:
                cursor.execute("SELECT pg_try_advisory_lock(%s)", (key,))
                if not cursor.fetchone()[0]:
                    break
                held.append(key)
            if len(held) == len(self.keys):
                return True
            for key in held:
                cursor.execute("SELECT pg_advisory_unlock(%s)", (key,))
            return False

    def keep(self) -> bool:
        """The locks are still held (their connection answers); else taken again (False: stopped meanwhile)."""
        try:
            with self.conn.raw.cursor() as cursor:
                cursor.execute("SELECT 1")
            return True
        except STORE_ERRORS:
            self._drop()
            self.log("the connection holding this worker's locks was lost; taking them again")
            return self.take()

    def _drop(self) -> None:
        if self.conn is not None:
            self.pool.put(self.conn, broken=True)
            self.conn = None

    def release(self) -> None:
        self._drop()


def _done(result: Any) -> Future:
    future: Future = Future()
    future.set_result(result)
    return future
