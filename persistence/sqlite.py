"""The library's SQLite persistence module, with the store's file kept to the one first opened.

Select it with ``PERSISTENCE_MODULE=persistence.sqlite`` (what ``DATABASE_URL=sqlite:///…`` and the default
set). Everything is the library's (``eventsourcing.sqlite``) but the datastore, which notices when the file
at ``SQLITE_DBNAME`` is no longer the file this process opened: removed, or replaced by another (a restore
moved over it, a volume mounted again). SQLite would go on writing to the file it holds open, where nobody
reads once the process ends — every write accepted meanwhile lost — while connections opened afterwards
read and write the new file. From then on the process refuses every use of the store
(``StoreFileChangedError``, an ``OperationalError``: 503 from the API, ``/readyz`` not ready), and says so
once in its log; restarting it opens what is at the path then.

The file is looked at (a ``stat``, about a microsecond) before each connection is handed out and again just
before each write commits; only a change during a commit itself can go unseen. Every look is made: a
connection opened after the file went would make a new, empty store at the path.
A file overwritten in place (``cp`` onto it) keeps its identity and is not seen: that corrupts any SQLite
database in use. Nor is the write-ahead log (``-wal``) removed alone: SQLite itself removes it when the last
connection of any process closes, so its absence tells nothing (README, "Open work").
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import unquote, urlsplit

import eventsourcing.sqlite as library
from eventsourcing.persistence import OperationalError
from eventsourcing.utils import Environment, EnvType

log = logging.getLogger(__name__)


class StoreFileChangedError(OperationalError):
    """The SQLite file at the store's path is not the one this process opened."""


class StoreFile:
    """The identity (device, inode) of an SQLite store's file as first opened, and whether it still holds."""

    def __init__(self, db_name: str) -> None:
        self.path = file_path(db_name)  # not its "-wal": SQLite removes that when the last connection closes
        self.identity: tuple[int, int] | None = None
        self.changed: str | None = None  # once noticed, what is wrong (the process refuses the store then)
        self._lock = threading.Lock()

    def _identity(self) -> tuple[int, int] | None:
        try:
            status = os.stat(self.path)
        except FileNotFoundError:
            return None
        return status.st_dev, status.st_ino

    def opened(self) -> None:
        """A connection is open: the file, once it exists (SQLite makes it at the first statement), is the one to
        keep to."""
        if self.identity is None and self.changed is None:
            with contextlib.suppress(OSError):  # said by ``check``
                self.identity = self._identity()

    def check(self) -> None:
        """Raise StoreFileChangedError if the file at the path is not the one opened, no longer exists or can no
        longer be reached."""
        if self.changed is None:
            problem = self._problem()
            if problem is None:
                return
            with self._lock:
                if self.changed is None:
                    self.changed = problem
                    log.error(problem)
        raise StoreFileChangedError(self.changed)

    def _problem(self) -> str | None:
        if self.identity is None:
            return None  # not opened yet: the first connection opens (or creates) whatever is there
        try:
            now = self._identity()
        except OSError as error:
            what = f"made unreachable ({error.strerror})"
        else:
            if now == self.identity:
                return None
            what = "removed" if now is None else "replaced by another file"
        return (f"The SQLite file {self.path} was {what} while this process had it open: the store is refused "
                "from now on (writes would go where nobody reads them). Restart the service once the right file "
                "is at the store's path, with no -wal or -shm file beside it but its own (README, \"The SQLite "
                "file\").")


def file_path(db_name: str) -> str:
    """The file an SQLite database name opens: a path, or the path of a ``file:`` URI."""
    if db_name.startswith("file:"):
        return unquote(urlsplit(db_name).path)
    return db_name


class SQLiteFileDatastore(library.SQLiteDatastore):
    """The library's datastore, refusing connections and commits once its file is gone (module docstring), and
    closing only once no thread is using a connection.

    The library's pool closes the connections in use too; SQLite's, closed while another thread runs a
    statement on it (a view catching up, an erasure compacting the file), crashes the process (a segmentation
    fault, seen when a ledger was closed while it finished an erasure). Closing waits for the connections
    other threads hold (not its own thread's: those cannot come back while it waits), at most
    ``CLOSE_PATIENCE`` seconds."""

    CLOSE_PATIENCE = 30.0

    def __init__(self, db_name: str, **options: object) -> None:
        super().__init__(db_name, **options)  # type: ignore[arg-type]
        self.file = StoreFile(db_name)
        self._holders: dict[int, int] = {}  # thread (greenlet under gevent) -> connections it holds
        self._returned = threading.Condition()

    @contextmanager
    def get_connection(self, *, commit: bool) -> Iterator[library.SQLiteConnection]:
        self.file.check()
        holder = threading.get_ident()
        with self._returned:
            self._holders[holder] = self._holders.get(holder, 0) + 1
        try:
            with super().get_connection(commit=commit) as connection:
                self.file.opened()
                yield connection
        finally:
            with self._returned:
                left = self._holders.pop(holder) - 1
                if left:
                    self._holders[holder] = left
                self._returned.notify_all()

    def close(self) -> None:
        closer = threading.get_ident()
        with self._returned:
            if not self._returned.wait_for(lambda: not self._holders.keys() - {closer}, timeout=self.CLOSE_PATIENCE):
                log.warning("closing the SQLite store while other threads still use %d connections",
                            sum(n for t, n in self._holders.items() if t != closer))
        super().close()

    @contextmanager
    def transaction(self, *, commit: bool) -> Iterator[library.SQLiteCursor]:
        with super().transaction(commit=commit) as cursor:
            yield cursor
            if commit:
                self.file.check()  # raised here, the transaction rolls back instead of committing


def check_store_file(datastore: object) -> None:
    """Before a commit or a read made outside the datastore's own transactions (views, one-statement reads):
    raise StoreFileChangedError if its file is gone. Nothing for in-memory stores and PostgreSQL."""
    file = getattr(datastore, "file", None)
    if file is not None:
        file.check()


def opened_store_file(datastore: object) -> None:
    """A connection to the datastore's file was opened outside its pool (``persistence.stores.SQLiteReads``)."""
    file = getattr(datastore, "file", None)
    if file is not None:
        file.opened()


class SQLiteFileFactory(library.SQLiteFactory):
    """The library's SQLite factory, with ``SQLiteFileDatastore`` for a store in a file."""

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        built = self.datastore
        if built.pool.is_sqlite_memory_mode:
            return
        self.datastore = SQLiteFileDatastore(
            built.pool.db_name, lock_timeout=built.pool.lock_timeout,
            single_row_tracking=built.single_row_tracking, originator_id_type=built.originator_id_type)
        built.close()
