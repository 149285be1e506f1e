"""Group commit: the commands of a gevent worker that reach the store together share one transaction.

Under the production server (gevent workers, ``api.serving``) a worker's connections are greenlets. On SQLite
each command used to record its events in a transaction of its own: one commit, one flush to disk (``fsync``)
and one turn on the file's write lock, which the other worker waits for, per command. ``GroupCommit`` wraps a
recorder's ``insert_events``: a greenlet about to write first lets the greenlets already runnable take their
turn (SQLite's calls do not yield, so only then can others reach the store too); those that do queue, and the
writer records the whole queue in one call, one transaction, each command's events contiguous and in the
order they came. Every command is answered only once the transaction holding its events has committed,
exactly as before: nothing acknowledged is lost.

A batch is all or nothing. If the store refuses it as a conflict (one command lost a race on a
relationship's version, or on an Idempotency-Key), each command of it is written again on its own, so that
only the loser fails, with its own error. Any other failure (the store unreachable or busy) is every
command's failure, as it would have been for each alone: none is written twice.

It works on either store, but is installed on SQLite only (``api.create_app``): on PostgreSQL, measured, it
left the commands' rate as it was and doubled their p99 at 32 connections (README, release 0.3.8).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import gevent
import gevent.lock
from eventsourcing.persistence import IntegrityError, StoredEvent

Insert = Callable[..., Sequence[int] | None]

# The most events written in one transaction: a burst of large commands is split, not one long write.
MAX_EVENTS = 500


class _Member:
    """One command's events waiting for, or written in, a group's transaction."""

    __slots__ = ("events", "done", "ids", "error")

    def __init__(self, events: Sequence[StoredEvent]) -> None:
        self.events = events
        self.done = False
        self.ids: Sequence[int] | None = None
        self.error: BaseException | None = None


class GroupCommit:
    """``insert_events`` of a recorder, with the writes of concurrent greenlets grouped (module docstring)."""

    def __init__(self, insert: Insert) -> None:
        self.insert = insert
        self._queue: list[_Member] = []
        self._turn = gevent.lock.Semaphore()  # one writer at a time; the others wait cooperatively
        self.transactions = 0  # how many writes were made: fewer than the commands when they are grouped
        self.commands = 0

    def __call__(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        if not stored_events or any(value is not None for value in kwargs.values()):
            return self.insert(stored_events, **kwargs)  # tracked writes (a process's position): never grouped
        member = _Member(stored_events)
        self._queue.append(member)
        with self._turn:
            if not member.done:
                gevent.idle()  # the greenlets runnable now run: those about to write queue behind this one
            while not member.done:
                self._write(self._take())
        if member.error is not None:
            raise member.error
        return member.ids

    def _take(self) -> list[_Member]:
        """The queue's oldest commands up to MAX_EVENTS (at least one)."""
        taken, size = 0, 0
        for member in self._queue:
            if taken and size + len(member.events) > MAX_EVENTS:
                break
            taken, size = taken + 1, size + len(member.events)
        batch, self._queue = self._queue[:taken], self._queue[taken:]
        return batch

    def _write(self, batch: list[_Member]) -> None:
        self.commands += len(batch)
        try:
            if len(batch) == 1:
                self._alone(batch[0])
                return
            self.transactions += 1
            try:
                ids = self.insert([event for member in batch for event in member.events], tracking=None)
            except IntegrityError:  # the batch was refused whole: each again alone, only the loser fails
                for member in batch:
                    self._alone(member)
                return
            except BaseException as error:  # what each command alone would have met (store down, busy)
                for member in batch:
                    member.error = error
                return
            start = 0
            for member in batch:
                member.ids = None if ids is None else list(ids[start:start + len(member.events)])
                start += len(member.events)
        finally:
            for member in batch:
                member.done = True

    def _alone(self, member: _Member) -> None:
        self.transactions += 1
        try:
            member.ids = self.insert(member.events, tracking=None)
        except BaseException as error:  # handed to the command's own greenlet, raised there
            member.error = error


def group_commits(recorder: Any) -> GroupCommit:
    """Group the writes of ``recorder`` (an application recorder) from now on; the ``GroupCommit`` installed."""
    grouped = GroupCommit(recorder.insert_events)
    recorder.insert_events = grouped
    return grouped
