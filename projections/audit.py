"""The tamper-evident audit trail: every event of the record, chained by SHA-256, in store order."""

from __future__ import annotations

import hmac
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from domain.concern import Concern
from domain.registry import LEDGER_EVENTS
from domain.relationship import MentorshipRelationship
from projections.audit_chain import chain_hash, entry_for, seal
from projections.base import Item, View
from projections.store import Cursor

COLUMNS = ("position", "relationship_id", "program_id", "version", "type", "actor", "actor_role",
           "recorded_at", "summary", "data_sha256", "prev_hash", "hash")
CONTENT = COLUMNS[:-2]
SEALED_COLUMNS = (*COLUMNS, "seal")  # what the fast verification reads of each entry
# Kept beside each entry, outside the chain (derived from the events, checked by verify):
# the aggregate it is about, and who alone among participants may read it (a concern's raiser).
PRIVATE = ("aggregate_id", "private_to")


@dataclass(frozen=True)
class AuditFilter:
    """Which entries to list; every field optional. ``reader``: a participant, who sees no one else's concerns."""

    relationship_id: str | None = None
    program_id: str | None = None
    actor: str | None = None
    type: str | None = None
    since: str | None = None
    until: str | None = None
    reader: str | None = None

    def where(self) -> tuple[str, list[Any]]:
        clauses, params = [], []
        for column in ("relationship_id", "program_id", "actor", "type"):
            value = getattr(self, column)
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if self.since is not None:
            clauses.append("recorded_at >= ?")
            params.append(self.since)
        if self.until is not None:
            clauses.append("recorded_at < ?")
            params.append(self.until)
        if self.reader is not None:
            clauses.append("(private_to IS NULL OR private_to = ?)")
            params.append(self.reader)
        return " AND ".join(clauses) or "TRUE", params


class Remembered(OrderedDict):
    """A bounded memory (least recently used forgotten first), for what a long rebuild looks up again and again."""

    def __init__(self, limit: int = 50_000) -> None:
        super().__init__()
        self.limit = limit

    def remember(self, key: str, value: str | None) -> str | None:
        self[key] = value
        self.move_to_end(key)
        if len(self) > self.limit:
            self.popitem(last=False)
        return value


class AuditTrailView(View):
    """Audit entries keyed by store position, with the hash chain."""

    name = "audit_trail"
    VERSION = 3  # 2: concerns (kept private to their raiser) and check-ins; 3: seals, the verify checkpoint
    TABLES = {
        "audit_trail": (
            "position BIGINT PRIMARY KEY, relationship_id TEXT NOT NULL, program_id TEXT NOT NULL, "
            "version INTEGER NOT NULL, type TEXT NOT NULL, actor TEXT NOT NULL, actor_role TEXT NOT NULL, "
            "recorded_at TEXT NOT NULL, summary TEXT NOT NULL, data_sha256 TEXT NOT NULL, "
            "prev_hash TEXT NOT NULL, hash TEXT NOT NULL, aggregate_id TEXT NOT NULL, private_to TEXT, seal TEXT"
        ),
        # The last entry an incremental verification reached: (position, hash), sealed with the signing key.
        "audit_checkpoint": "id INTEGER PRIMARY KEY, position BIGINT NOT NULL, hash TEXT NOT NULL, seal TEXT NOT NULL",
    }
    INDEXES = (
        ("audit_by_relationship", "audit_trail", "relationship_id, position"),
        ("audit_by_program", "audit_trail", "program_id, position"),
        ("audit_by_actor", "audit_trail", "actor, position"),
        ("audit_by_type", "audit_trail", "type, position"),
        ("audit_by_time", "audit_trail", "recorded_at, position"),
    )
    QUERY_INDEXES = frozenset({"audit_by_program", "audit_by_actor", "audit_by_type", "audit_by_time"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._programs = Remembered()  # relationship -> program
        self._raisers = Remembered()  # concern -> the participant who raised it

    @staticmethod
    def handled() -> set[type]:
        return set(LEDGER_EVENTS)  # every event of the record has an entry

    def apply(self, cursor: Cursor, items: Sequence[Item]) -> None:
        if not items:
            return
        previous = self._last_hash(cursor)
        key = self.store.seal_key
        rows = []
        for item in items:
            event = item.event
            entry = entry_for(event, item.position, self._program(cursor, event), previous)
            previous = entry["hash"]
            sealed = seal(key, item.position, *item.stored, previous) if key and item.stored else None
            rows.append([*(entry[c] for c in COLUMNS), str(event.originator_id), self._private_to(cursor, event),
                         sealed])
        columns = (*COLUMNS, *PRIVATE, "seal")
        cursor.executemany(f"INSERT INTO {self.table('audit_trail')} ({', '.join(columns)}) "
                           f"VALUES ({', '.join('?' for _ in columns)})", rows)

    def _last_hash(self, cursor: Cursor) -> str:
        cursor.execute(f"SELECT hash FROM {self.table('audit_trail')} ORDER BY position DESC LIMIT 1")
        row = cursor.fetchone()
        return self.store.genesis if row is None else row[0]

    def _program(self, cursor: Cursor, event: Any) -> str:
        """The relationship's program: remembered from its start (bounded), else read from the trail."""
        key = str(event.relationship_id)
        if isinstance(event, MentorshipRelationship.RelationshipStarted):
            return self._programs.remember(key, event.program_id)
        if key in self._programs:
            return self._programs.remember(key, self._programs[key])
        cursor.execute(f"SELECT program_id FROM {self.table('audit_trail')} "
                       "WHERE relationship_id = ? ORDER BY position LIMIT 1", (key,))
        row = cursor.fetchone()
        return self._programs.remember(key, row[0] if row else "")

    def _private_to(self, cursor: Cursor, event: Any) -> str | None:
        """A concern's entries are for the participant who raised it (and overseers) alone."""
        key = str(event.originator_id)
        if isinstance(event, Concern.ConcernRaised):
            return self._raisers.remember(key, event.actor)
        if not isinstance(event, Concern.Event):
            return None
        if key in self._raisers:
            return self._raisers.remember(key, self._raisers[key])
        cursor.execute(f"SELECT private_to FROM {self.table('audit_trail')} WHERE relationship_id = ? "
                       "AND aggregate_id = ? ORDER BY position LIMIT 1", (str(event.relationship_id), key))
        row = cursor.fetchone()
        return self._raisers.remember(key, row[0] if row else None)

    # -- queries ----------------------------------------------------------------

    def page(self, cursor: Cursor, selection: AuditFilter, after: int, limit: int) -> list[dict[str, Any]]:
        where, params = selection.where()
        cursor.execute(
            f"SELECT {', '.join(COLUMNS)} FROM {self.table('audit_trail')} "
            f"WHERE {where} AND position > ? ORDER BY position LIMIT ?", [*params, after, limit])
        return [dict(zip(COLUMNS, row, strict=True)) for row in cursor.fetchall()]

    def stream(self, selection: AuditFilter, batch: int = 1000, columns: Sequence[str] = COLUMNS, after: int = 0
               ) -> Iterator[dict[str, Any]]:
        """Every entry of the selection after a position, a short transaction per batch (memory stays flat)."""
        while True:
            with self.store.transaction(write=False) as cursor:
                where, params = selection.where()
                cursor.execute(f"SELECT {', '.join(columns)} FROM {self.table('audit_trail')} "
                               f"WHERE {where} AND position > ? ORDER BY position LIMIT ?", [*params, after, batch])
                rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
            yield from rows
            if len(rows) < batch:
                return
            after = rows[-1]["position"]

    def sealed_rows(self, after: int = 0, up_to: int = 2**62, batch: int = 5000) -> Iterator[tuple]:
        """The entries in (after, up_to] as tuples of ``SEALED_COLUMNS``, a short transaction per batch."""
        while True:
            with self.store.transaction(write=False) as cursor:
                cursor.execute(f"SELECT {', '.join(SEALED_COLUMNS)} FROM {self.table('audit_trail')} "
                               "WHERE position > ? AND position <= ? ORDER BY position LIMIT ?", (after, up_to, batch))
                rows = cursor.fetchall()
            yield from rows
            if len(rows) < batch:
                return
            after = rows[-1][0]

    def prev_hash_after(self, cursor: Cursor, after: int) -> str | None:
        """The prev_hash of the first entry after a position (where a slice of the chain starts)."""
        cursor.execute(f"SELECT prev_hash FROM {self.table('audit_trail')} WHERE position > ? "
                       "ORDER BY position LIMIT 1", (after,))
        row = cursor.fetchone()
        return None if row is None else row[0]

    def all_sealed(self, cursor: Cursor, after: int = 0) -> bool:
        """Whether every entry after ``after`` carries a seal (entries written without the key do not)."""
        cursor.execute(f"SELECT 1 FROM {self.table('audit_trail')} WHERE position > ? AND seal IS NULL LIMIT 1",
                       (after,))
        return cursor.fetchone() is None

    def checkpoint(self, cursor: Cursor, key: bytes) -> tuple[int, str] | None:
        """Where the last incremental verification stopped, if its seal verifies and the entry is unchanged."""
        cursor.execute(f"SELECT position, hash, seal FROM {self.table('audit_checkpoint')} WHERE id = 1")
        row = cursor.fetchone()
        if row is None or not hmac.compare_digest(row[2], _checkpoint_seal(key, row[0], row[1])):
            return None
        cursor.execute(f"SELECT hash FROM {self.table('audit_trail')} WHERE position = ?", (row[0],))
        entry = cursor.fetchone()
        return (row[0], row[1]) if entry is not None and entry[0] == row[1] else None

    def keep_checkpoint(self, cursor: Cursor, key: bytes, position: int, entry_hash: str) -> None:
        cursor.execute(f"DELETE FROM {self.table('audit_checkpoint')} WHERE id = 1")
        cursor.execute(f"INSERT INTO {self.table('audit_checkpoint')} (id, position, hash, seal) VALUES (1, ?, ?, ?)",
                       (position, entry_hash, _checkpoint_seal(key, position, entry_hash)))

    def head(self, cursor: Cursor) -> dict[str, Any]:
        cursor.execute(f"SELECT position, hash FROM {self.table('audit_trail')} ORDER BY position DESC LIMIT 1")
        row = cursor.fetchone()
        cursor.execute(f"SELECT COUNT(*) FROM {self.table('audit_trail')}")
        count = cursor.fetchone()[0]
        return {"position": row[0] if row else 0, "hash": row[1] if row else self.store.genesis, "entries": count}


def _checkpoint_seal(key: bytes, position: int, entry_hash: str) -> str:
    return hmac.digest(key, f"checkpoint:{position}:{entry_hash}".encode(), "sha256").hex()


def recompute(entry: dict[str, Any]) -> str:
    """The hash an entry must have, from its own content and its prev_hash."""
    return chain_hash({c: entry[c] for c in CONTENT}, entry["prev_hash"])
