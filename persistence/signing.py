"""Snapshots the database cannot forge: each is signed with a key the database does not hold.

A snapshot is derived state: it saves loading a relationship's events from the first. Whoever can write to
the database could otherwise edit one (a participant swapped for an outsider) and have it served and obeyed,
while the events and the audit chain stay intact. So each stored snapshot carries an HMAC-SHA256 tag over
its identity (aggregate id, version, topic) and its state, made with the signing key; a snapshot whose tag
does not verify — edited, moved to another aggregate or version, or written by a release before signing —
is never used: the aggregate is loaded from its events instead, and ``/v1/audit/verify`` names it.

The key comes from ``LEDGER_SIGNING_KEY`` (64 hex digits), else from ``signing.key`` in the instance folder
(the Flask app's; else the SQLite file's folder; else ``./instance``), created on first use and readable by
its owner only. It never enters the database.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from eventsourcing.persistence import EventStore, Mapper, StoredEvent

from persistence.stores import delete_snapshots_before, delete_snapshots_of, delete_unsigned_snapshots

MAGIC = b"MLS1"
TAG_BYTES = 32
KEY_FILE = "signing.key"

log = logging.getLogger(__name__)


class UntrustedSnapshotError(ValueError):
    """A stored snapshot whose signature does not verify."""


def signing_key(env: Any, instance_path: str | None) -> bytes:
    """The key from the environment, else from the instance folder (made there the first time)."""
    return instance_key(env, "LEDGER_SIGNING_KEY", KEY_FILE, instance_path)


def instance_key(env: Any, variable: str, file_name: str, instance_path: str | None,
                 warning: str | None = None) -> bytes:
    """A 32-byte key from ``variable`` (64 hex digits), else from ``file_name`` in the instance folder, made
    there (readable by its owner only) the first time, with ``warning`` logged (``%s``: the file)."""
    given = (env.get(variable) or "").strip()
    if given:
        try:
            key = bytes.fromhex(given)
        except ValueError:
            raise OSError(f"{variable} must be 64 hexadecimal digits") from None
        if len(key) < 32:
            raise OSError(f"{variable} must be 64 hexadecimal digits")
        return key
    path = Path(instance_path or "instance") / file_name
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(32) + "\n")
        if warning:
            log.warning(warning, path)
    for _ in range(50):  # another process may be writing it this very moment
        text = path.read_text().strip()
        if len(text) == 64:
            return bytes.fromhex(text)
        time.sleep(0.01)
    raise OSError(f"{path} does not hold a key")


class SigningMapper(Mapper[Any]):
    """The library's mapper, with a tag over each stored snapshot's identity and state."""

    def __init__(self, key: bytes, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.key = key

    def tag(self, originator_id: Any, version: int, topic: str, state: bytes) -> bytes:
        head = f"{originator_id}\x00{version}\x00{topic}\x00".encode()
        return hmac.new(self.key, head + state, hashlib.sha256).digest()

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        stored = super().to_stored_event(domain_event)
        tag = self.tag(stored.originator_id, stored.originator_version, stored.topic, stored.state)
        return StoredEvent(originator_id=stored.originator_id, originator_version=stored.originator_version,
                           topic=stored.topic, state=MAGIC + tag + stored.state)

    def check(self, stored: StoredEvent) -> StoredEvent:
        """The stored snapshot without its tag, if the tag verifies; else UntrustedSnapshotError."""
        state = bytes(stored.state)
        if not state.startswith(MAGIC) or len(state) < len(MAGIC) + TAG_BYTES:
            raise UntrustedSnapshotError("not signed")
        tag, body = state[len(MAGIC):len(MAGIC) + TAG_BYTES], state[len(MAGIC) + TAG_BYTES:]
        expected = self.tag(stored.originator_id, stored.originator_version, stored.topic, body)
        if not hmac.compare_digest(tag, expected):
            raise UntrustedSnapshotError("signature does not verify")
        return StoredEvent(originator_id=stored.originator_id, originator_version=stored.originator_version,
                           topic=stored.topic, state=body)

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        return super().to_domain_event(self.check(stored_event))


class TrustedSnapshotStore(EventStore[Any]):
    """A snapshot store that yields only snapshots whose signature verifies, and keeps only the newest."""

    mapper: SigningMapper

    @property
    def signing_key(self) -> bytes:
        return self.mapper.key

    def keep_only_newest(self, originator_id: Any) -> None:
        """Delete the aggregate's older snapshots: loading needs only the newest."""
        newest = next(iter(self.recorder.select_events(originator_id, desc=True, limit=1)), None)
        if newest is not None:
            delete_snapshots_before(self.recorder, originator_id, newest.originator_version)

    def forget(self, originator_id: Any) -> None:
        """Delete every snapshot of the aggregate (one taken while an erasure ran: see ``take_snapshot``)."""
        delete_snapshots_of(self.recorder, [originator_id])

    def get(self, originator_id: Any, *, gt: int | None = None, lte: int | None = None, desc: bool = False,
            limit: int | None = None) -> Iterator[Any]:
        for stored in self.recorder.select_events(originator_id=originator_id, gt=gt, lte=lte, desc=desc,
                                                  limit=limit):
            try:
                yield self.mapper.to_domain_event(stored)
            except UntrustedSnapshotError as error:
                log.warning("snapshot %s@%s not used: %s", stored.originator_id, stored.originator_version, error)

    def untrusted(self, originator_ids: Iterator[Any]) -> Iterator[tuple[Any, int, str]]:
        """(aggregate id, version, why) of every stored snapshot of these aggregates that is not to be trusted."""
        for originator_id in originator_ids:
            for stored in self.recorder.select_events(originator_id=originator_id):
                try:
                    self.mapper.check(stored)
                except UntrustedSnapshotError as error:
                    yield originator_id, stored.originator_version, str(error)


def signed_snapshots(application: Any) -> TrustedSnapshotStore:
    """The ledger's snapshot store (``domain.ledger.SNAPSHOT_STORE``): signed with the deployment's key.

    Snapshots of releases before signing are derived state that will never be used: they are discarded.
    """
    env = application.env
    key = signing_key(env, env.get("INSTANCE_PATH") or _sqlite_folder(env))
    store = TrustedSnapshotStore(mapper=SigningMapper(key, transcoder=application.mapper.transcoder),
                                 recorder=application.factory.aggregate_recorder(purpose="snapshots"))
    delete_unsigned_snapshots(store.recorder, MAGIC)
    return store


def _sqlite_folder(env: Any) -> str | None:
    """The folder of the SQLite file, where the key is kept when no other place is given."""
    name = env.get("SQLITE_DBNAME") or ""
    if not name or ":memory:" in name or "mode=memory" in name:
        return None
    return os.path.dirname(os.path.abspath(name))
