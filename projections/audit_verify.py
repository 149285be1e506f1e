"""Verifying the audit trail against the event store: recompute the chain, find the first disagreement."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import zip_longest
from typing import Any

from domain.relationship import MentorshipRelationship
from projections.audit_chain import GENESIS, entry_for
from projections.base import Item


def verify_chain(events: Iterator[Item], entries: Iterator[dict[str, Any]],
                 anchor: tuple[int, str] | None = None) -> dict[str, Any]:
    """Walk stored events and trail entries side by side; stop at the first position that disagrees.

    ``anchor`` is a (position, hash) an auditor kept from an earlier head: the
    recomputed chain must pass through it, proving nothing before it changed.
    """
    programs: dict[str, str] = {}
    previous, checked, anchor_seen = GENESIS, 0, anchor is None
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


def _failed(checked: int, position: int | None, problem: str) -> dict[str, Any]:
    return {"ok": False, "entries_checked": checked, "first_mismatch": position, "problem": problem}
