"""The audit trail as pure functions: an entry for each event, its summary, and the hash chain.

Each entry's ``hash`` is SHA-256 over the canonical JSON of its content
(position, relationship, program, version, type, actor, role, time, summary,
a digest of the event's data) together with ``prev_hash``, the hash of the
entry before it in store order. The first entry's ``prev_hash`` is 64 zeros.
Changing, removing or reordering any event changes every hash after it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from domain.events import short
from domain.personal import SUBJECT, TEXT, WHO
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


# The canonical JSON of {"entry": content, "prev_hash": ...} (keys sorted, no spaces, UTF-8), written as a
# template: the same bytes as ``chain_hash`` makes, without building and walking dictionaries.
_ENTRY = ('{"entry":{"actor":%s,"actor_role":%s,"data_sha256":%s,"position":%d,"program_id":%s,'
          '"recorded_at":%s,"relationship_id":%s,"summary":%s,"type":%s,"version":%d},"prev_hash":%s}')
_text = json.encoder.encode_basestring  # what the canonical encoder (ensure_ascii=False) uses for strings
_sha256 = hashlib.sha256
_hmac_digest = hmac.digest


def row_hash(position: Any, relationship_id: Any, program_id: Any, version: Any, kind: Any, actor: Any,
             actor_role: Any, recorded_at: Any, summary: Any, data_sha256: Any, prev_hash: Any) -> str:
    """``chain_hash`` of an entry given as its stored columns (tests hold the two to the same bytes)."""
    if type(position) is int and type(version) is int:
        try:  # encode_basestring refuses anything but text: other types take the canonical way below
            return _sha256((_ENTRY % (
                _text(actor), _text(actor_role), _text(data_sha256), position, _text(program_id),
                _text(recorded_at), _text(relationship_id), _text(summary), _text(kind), version,
                _text(prev_hash))).encode()).hexdigest()
        except TypeError:
            pass
    content = {"position": position, "relationship_id": relationship_id, "program_id": program_id,
               "version": version, "type": kind, "actor": actor, "actor_role": actor_role,
               "recorded_at": recorded_at, "summary": summary, "data_sha256": data_sha256}
    return chain_hash(content, prev_hash)


def seal(key: bytes, position: int, topic: str, state: bytes, entry_hash: str) -> str:
    """HMAC-SHA256, with the signing key (never in the database), binding an entry to its event's stored bytes
    (type topic and state) at its position.

    Kept beside each entry, outside the chain (so heads taken before seals existed stay valid). With it,
    verification checks each event's bytes against its entry without decoding the event or recomputing its
    summary: whoever edits an event cannot make a matching seal without the key.
    """
    return _hmac_digest(key, f"{position}:{entry_hash}:{topic}\x00".encode() + state, "sha256").hex()



class PlainSay:
    """Names and text as the events hold them (events stored before the privacy scheme)."""

    @staticmethod
    def who(reference: Any) -> str:
        return str(reference)

    @staticmethod
    def text(value: Any) -> str | None:
        return short(value) if value else value


class StoredSay:
    """Names and text as stored under the privacy scheme: subjects and ciphertext, each marked, so that the
    summary is hashed as stored and named when read (``persistence.privacy.Vault.render``)."""

    @staticmethod
    def who(reference: Any) -> str:
        text = str(reference)
        return f"{WHO[0]}{text[1:]}{WHO[1]}" if SUBJECT.match(text) else text

    @staticmethod
    def text(value: Any) -> str | None:
        return f"{TEXT[0]}{value}{TEXT[1]}" if value else None


PLAIN, STORED = PlainSay(), StoredSay()


def summarise(event: Any) -> str:
    """One line a person can read: who did what (each event class says it in its own words)."""
    return event.summary(STORED if getattr(event, "as_stored", False) else PLAIN)
