"""The audit trail as pure functions: an entry for each event, its summary, and the hash chain.

Each entry's ``hash`` is SHA-256 over the canonical JSON of its content
(position, relationship, program, version, type, actor, role, time, summary,
a digest of the event's data) together with ``prev_hash``, the hash of the
entry before it in store order. The first entry's ``prev_hash`` is 64 zeros.
Changing, removing or reordering any event changes every hash after it.
"""

from __future__ import annotations

from typing import Any

from domain.representation import describe_event
from projections.canonical import plain, sha256

GENESIS = "0" * 64


def entry_for(event: Any, position: int, program_id: str, prev_hash: str) -> dict[str, Any]:
    """The audit entry of a relationship event at a position, chained to ``prev_hash``."""
    record = describe_event(event)
    content = {
        "position": position,
        "relationship_id": str(event.relationship_id),
        "program_id": program_id,
        "version": record["version"],
        "type": record["type"],
        "actor": record["actor"],
        "actor_role": record["actor_role"],
        "recorded_at": plain(record["recorded_at"]),
        "summary": summarise(event),
        "data_sha256": sha256({"command_id": record["command_id"], "data": record["data"]}),
    }
    return {**content, "prev_hash": prev_hash, "hash": chain_hash(content, prev_hash)}


def chain_hash(content: dict[str, Any], prev_hash: str) -> str:
    return sha256({"entry": content, "prev_hash": prev_hash})


class PlainSay:
    """Names and text as the events hold them."""

    @staticmethod
    def who(reference: Any) -> str:
        return str(reference)

    @staticmethod
    def text(value: Any) -> str | None:
        return value


PLAIN = PlainSay()


def summarise(event: Any) -> str:
    """One line a person can read: who did what (each event class says it in its own words)."""
    return event.summary(PLAIN)
