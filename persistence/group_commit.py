"""Group commit: the commands of a gevent worker that reach the store together share one transaction.

Under the production server (gevent workers, ``api.serving``) a worker's connections are greenlets. On SQLite
each command used to record its events in a transaction of its own: one commit, one flush to disk (``fsync``)
and one turn on the file's write lock, which the other worker waits for, per command. ``GroupCommit`` wraps a
recorder's ``insert_events``: a greenlet about to write first lets the worker's other greenlets run until its
loop is idle (those runnable, and those whose requests have arrived meanwhile; at most ``GATHER_AT_MOST``),
since SQLite's calls do not yield and only then can others reach the store too; those that do queue, and the
writer records the whole queue in one call, one transaction, each command's events contiguous and in the
order they came. Every command is answered only once the transaction holding its events has committed,
exactly as before: nothing acknowledged is lost.

A batch is all or nothing. If the store refuses it as a conflict (one command lost a race on a
relationship's version, or on an Idempotency-Key), each command of it is written again on its own, so that
only the loser fails, with its own error. Any other failure (the store unreachable or busy, or one
command's events refused for another reason) is the failure of every command of that group, and none is
written again: a write that failed so may have committed. A command whose greenlet ends before its group is
written (the worker stopping) is taken out of the queue, never written later.

It works on either store, but is installed on SQLite only (``api.create_app``): on PostgreSQL, measured, it
left the commands' rate as it was and doubled their p99 at 32 connections (README, release 0.3.8).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import gevent
import gevent.event
from eventsourcing.persistence import IntegrityError, OperationalError, StoredEvent

Insert = Callable[..., Sequence[int] | None]

# The most events written in one transaction: a burst of large commands is split, not one long write.
MAX_EVENTS = 500
# The longest a writer gives the other greenlets before it writes (one that never lets the loop go idle, e.g.
# a long walk that only yields, must not hold every command of the worker).
GATHER_AT_MOST = 0.01


class _Member:
    """One command's events waiting for, or written in, a group's transaction."""

    __slots__ = ("events", "done", "ids", "error", "turn")

    def __init__(self, events: Sequence[StoredEvent]) -> None:
        self.events = events
        self.done = False
        self.ids: Sequence[int] | None = None
        self.error: BaseException | None = None
        self.turn = gevent.event.Event()  # set once written, or once handed the lead


class GroupCommit:
    """``insert_events`` of a recorder, with the writes of concurrent greenlets grouped (module docstring).

    One greenlet leads at a time: it writes the queue, itself included, and hands the lead to the oldest
    command still queued; the others wait on their own event, set as soon as they are written."""

    def __init__(self, insert: Insert) -> None:
        self.insert = insert
        self._queue: list[_Member] = []
        self._leading = False
        self.transactions = 0  # how many writes were made: fewer than the commands when they are grouped
        self.commands = 0

    def __call__(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        if not stored_events or any(value is not None for value in kwargs.values()):
            return self.insert(stored_events, **kwargs)  # tracked writes (a process's position): never grouped
        member = _Member(stored_events)
        self._queue.append(member)
        try:
            if self._leading:
                member.turn.wait()  # written by the leader, or handed the lead
            if not member.done:
                self._lead(member)
        except BaseException:
            if not member.done and member in self._queue:  # gone before it was written: it never will be
                self._queue.remove(member)
                if member.turn.is_set():  # it had been handed the lead: the next one takes it
                    self._hand_over()
            raise
        if member.error is not None:
            raise member.error
        return member.ids

    def _lead(self, member: _Member) -> None:
        self._leading = True
        try:
            # The greenlets that can run now do (up to GATHER_AT_MOST): those about to write queue behind this one.
            with gevent.Timeout(GATHER_AT_MOST, False):
                gevent.idle()
            while not member.done:
                batch = self._take()
                if not batch:
                    raise RuntimeError("a command to write is missing from the queue")
                self._write(batch)
        finally:
            self._hand_over()

    def _hand_over(self) -> None:
        """The lead to the oldest command queued, if any (it leads as soon as it runs)."""
        self._leading = bool(self._queue)
        if self._queue:
            self._queue[0].turn.set()

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
            except IntegrityError:  # the group was refused whole: each again alone, only the loser fails
                for member in batch:
                    self._alone(member)
                return
            except Exception as error:  # noqa: BLE001 - every command's failure (store busy or unreachable)
                for member in batch:
                    member.error = _own(error)
                return
            start = 0
            for member in batch:
                member.ids = None if ids is None else list(ids[start:start + len(member.events)])
                start += len(member.events)
        except BaseException:  # the writer itself interrupted: whether the write landed is not known
            for member in batch:
                if member.ids is None and member.error is None:
                    member.error = OperationalError("The write was interrupted; whether it was recorded is unknown.")
            raise
        finally:
            for member in batch:
                member.done = True
                member.turn.set()

    def _alone(self, member: _Member) -> None:
        self.transactions += 1
        try:
            member.ids = self.insert(member.events, tracking=None)
        except Exception as error:  # noqa: BLE001 - handed to the command's own greenlet, raised there
            member.error = error


def _own(error: Exception) -> Exception:
    """A copy of ``error`` for one command of a group (each greenlet raises its own; the original is its cause)."""
    try:
        copy = type(error)(*error.args)
    except Exception:  # noqa: BLE001 - an error that cannot be copied is shared as it is
        return error
    copy.__cause__ = error
    return copy


def group_commits(recorder: Any) -> GroupCommit:
    """Group the writes of ``recorder`` (an application recorder) from now on; the ``GroupCommit`` installed."""
    grouped = GroupCommit(recorder.insert_events)
    recorder.insert_events = grouped
    return grouped
