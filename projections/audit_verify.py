"""Verifying the audit trail against the event store: recompute the chain, find the first disagreement."""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable, Iterator
from itertools import zip_longest
from typing import Any

from domain.relationship import MentorshipRelationship
from projections.audit_chain import GENESIS, entry_for, row_hash, seal
from projections.base import Item

Progress = Callable[[int, int], None]  # (entries checked, position reached)


def verify_chain(events: Iterator[Item], entries: Iterator[dict[str, Any]],
                 anchor: tuple[int, str] | None = None, genesis: str = GENESIS) -> dict[str, Any]:
    """Walk stored events and trail entries side by side; stop at the first position that disagrees.

    ``anchor`` is a (position, hash) an auditor kept from an earlier head: the
    recomputed chain must pass through it, proving nothing before it changed.
    """
    programs: dict[str, str] = {}
    previous, checked, anchor_seen = genesis, 0, anchor is None
    for item, entry in zip_longest(events, entries):
        problem, position = _compare(item, entry, programs, previous)
        if problem:
            return _failed(checked, position, problem)
        previous = entry["hash"]
        checked += 1
        if anchor is not None and entry["position"] == anchor[0]:
            if entry["hash"] != anchor[1]:
                return _failed(checked, anchor[0], "the chain no longer passes through the anchored head")
            anchor_seen = True
    if not anchor_seen:
        return _failed(checked, anchor[0], "the anchored head is no longer in the chain")
    return {"ok": True, "entries_checked": checked, "first_mismatch": None, "problem": None}


def _compare(item: Item | None, entry: dict[str, Any] | None, programs: dict[str, str],
             previous: str) -> tuple[str | None, int | None]:
    if item is None:
        return "the trail has an entry for an event no longer in the store", entry["position"]
    if entry is None:
        return "a stored event is missing from the trail", item.position
    if item.position != entry["position"]:
        return "stored events and trail entries are not in the same order", min(item.position, entry["position"])
    if item.event is None:
        return "the stored event cannot be read", item.position
    key = str(item.event.relationship_id)
    if isinstance(item.event, MentorshipRelationship.RelationshipStarted):
        programs[key] = item.event.program_id
    expected = entry_for(item.event, item.position, programs.get(key, ""), previous)
    if {name: entry.get(name) for name in expected} != expected:
        return "the stored event or its trail entry was altered", item.position
    return None, None


def verify_sealed(records: Iterator[tuple[int, str, bytes, Any]], rows: Iterator[tuple], key: bytes,
                  anchor: tuple[int, str] | None = None, previous: str = GENESIS,
                  on_started: Callable[[tuple], None] | None = None, started_topic: str = "",
                  progress: Progress | None = None) -> dict[str, Any]:
    """The fast walk, for a trail whose entries are all sealed: per entry, the chain hash recomputed from the
    entry's stored columns, and its seal checked against the event's stored bytes (nothing is
    decoded). ``records`` are (position, topic, state, aggregate id); ``rows``, the trail's ``SEALED_COLUMNS``.
    ``previous`` is the hash of the entry before the first one walked (a checkpoint's, or the genesis).
    """
    checked, anchor_seen = 0, anchor is None
    for record, row in zip_longest(records, rows):
        if record is None:
            return _failed(checked, row[0], "the trail has an entry for an event no longer in the store")
        if row is None:
            return _failed(checked, record[0], "a stored event is missing from the trail")
        position, topic, state = record[0], record[1], record[2]
        if position != row[0]:
            return _failed(checked, min(position, row[0]), "stored events and trail entries are not in the same order")
        entry_hash = row[11]
        if (row[10] != previous or row_hash(*row[:10], previous) != entry_hash
                or not hmac.compare_digest(row[12] or "", seal(key, position, topic, state, entry_hash))):
            return _failed(checked, position, "the stored event or its trail entry was altered")
        if on_started is not None and topic == started_topic:
            on_started(record)
        previous = entry_hash
        checked += 1
        if checked % 5_000 == 0:
            time.sleep(0)  # let other requests of a gevent worker run during a long walk
            if progress is not None and checked % 50_000 == 0:
                progress(checked, position)
        if anchor is not None and position == anchor[0]:
            if entry_hash != anchor[1]:
                return _failed(checked, anchor[0], "the chain no longer passes through the anchored head")
            anchor_seen = True
    if not anchor_seen:
        return _failed(checked, anchor[0], "the anchored head is no longer in the chain")
    return {"ok": True, "entries_checked": checked, "first_mismatch": None, "problem": None,
            "last": (position if checked else None, previous)}


def _failed(checked: int, position: int | None, problem: str) -> dict[str, Any]:
    return {"ok": False, "entries_checked": checked, "first_mismatch": position, "problem": problem}
