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
SUMMARY_LIMIT = 80


def entry_for(event: Any, position: int, program_id: str, prev_hash: str) -> dict[str, Any]:
    """The audit entry of a relationship event at a position, chained to ``prev_hash``."""
    record = describe_event(event)
    content = {
        "position": position,
        "relationship_id": str(event.originator_id),
        "program_id": program_id,
        "version": record["version"],
        "type": record["type"],
        "actor": record["actor"],
        "actor_role": record["actor_role"],
        "recorded_at": plain(record["recorded_at"]),
        "summary": summarise(record),
        "data_sha256": sha256({"command_id": record["command_id"], "data": record["data"]}),
    }
    return {**content, "prev_hash": prev_hash, "hash": chain_hash(content, prev_hash)}


def chain_hash(content: dict[str, Any], prev_hash: str) -> str:
    return sha256({"entry": content, "prev_hash": prev_hash})


def _short(text: str | None) -> str:
    if not text:
        return ""
    text = " ".join(text.split())
    return text if len(text) <= SUMMARY_LIMIT else text[: SUMMARY_LIMIT - 1] + "…"


def _because(reason: str | None) -> str:
    return f": {_short(reason)}" if reason else ""


def summarise(record: dict[str, Any]) -> str:
    """One line a person can read: who did what."""
    actor, data = record["actor"], record["data"]
    kind = record["type"]
    if kind == "RelationshipStarted":
        return (f"{actor} paired mentor {data['mentor_id']} with mentee {data['mentee_id']} "
                f"in program {data['program_id']}")
    if kind == "FeedbackGiven":
        items = len(data["action_items"])
        plural = "item" if items == 1 else "items"
        return (f"{actor} ({data['giver_role']}) gave {data['kind']} feedback to {data['recipient_id']} "
                f"with {items} action {plural}")
    if kind == "FeedbackReceived":
        rating = f" (usefulness {data['usefulness']})" if data.get("usefulness") else ""
        return f"{actor} acknowledged feedback {str(data['feedback_id'])[:8]}{rating}"
    if kind == "ActionCompleted":
        return f"{actor} completed action {str(data['action_id'])[:8]}"
    verbs = {"RelationshipPaused": "paused", "RelationshipResumed": "resumed", "RelationshipEnded": "ended"}
    return f"{actor} {verbs.get(kind, kind)} the relationship{_because(data.get('reason'))}"
