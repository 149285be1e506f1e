"""Bringing a store written before the privacy scheme under it: copy and transform into a new store.

Events are forever, so the old store is never rewritten: every event is read from it in store order and
written to a new, empty store as the scheme stores it (people as subjects, texts encrypted under each
relationship's key), with the same aggregate ids, versions and times. The tokens are copied; snapshots are
not (they are derived); the views are built afresh. The new store's audit chain starts from the old store's
head — its first entry's ``prev_hash`` is the old head's hash — so a head kept from the old store still
proves what came before, and the old store (kept read-only, or archived) proves the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask

from domain.ledger import MentorshipLedger
from domain.principal import AUDITOR, Principal
from persistence.config import store_env
from persistence.stores import token_store_for
from projections.service import Projections


class MigrationError(Exception):
    """The migration cannot start (nothing is written)."""


def migrate_store(app: Flask, target_url: str, progress: Callable[[int], None] | None = None) -> list[str]:
    """Copy the app's store into the empty store at ``target_url`` under the privacy scheme; what was done."""
    source: MentorshipLedger = app.extensions["ledger"]
    if source.vault.private:
        raise MigrationError("this store is already under the privacy scheme")
    queries = app.extensions["queries"]
    checked = queries.verify_audit(Principal("migration", AUDITOR))
    if not checked["ok"]:
        raise MigrationError(f"the store does not verify ({checked}); migrate a store that does")
    trail = app.extensions["projections"].view("audit_trail")
    with trail.store.transaction(write=False) as cursor:
        head = trail.head(cursor)
    env = {**source.env, **store_env(target_url, app.instance_path)}
    for name in ("SQLITE_DBNAME", "POSTGRES_DSN", "PERSISTENCE_MODULE"):
        if name not in store_env(target_url, app.instance_path):
            env.pop(name, None)
    target = MentorshipLedger(env=env)
    try:
        if target.recorder.max_notification_id():
            raise MigrationError("the new store must be empty")
        if not target.vault.private:
            raise MigrationError("the new store is not under the privacy scheme")
        target.vault.set_anchor(head["position"], head["hash"])
        copied = _copy_events(source, target, progress)
        tokens = _copy_tokens(source, target)
        Projections(target).catch_up()
        verified = _verify(target)
    finally:
        target.close()
    return [f"copied {copied} events and {tokens} tokens",
            f"the new chain continues from the old head: position {head['position']}, hash {head['hash']}",
            f"the new store verifies: {verified}",
            "point DATABASE_URL at the new store; keep the old one read-only (it proves the chain before the "
            "head), or archive it and delete it when no erasure must reach back into it"]


def _copy_events(source: MentorshipLedger, target: MentorshipLedger, progress: Callable[[int], None] | None) -> int:
    after, copied = 0, 0
    while True:
        batch = source.recorder.select_notifications(start=after, limit=500, inclusive_of_start=False)
        if not batch:
            return copied
        target.recorder.insert_events([target.mapper.to_stored_event(source.mapper.to_domain_event(n))
                                       for n in batch])
        copied += len(batch)
        after = batch[-1].id
        if progress is not None:
            progress(copied)


def _copy_tokens(source: MentorshipLedger, target: MentorshipLedger) -> int:
    """Tokens as stored (hashes only): callers keep using the ones they hold."""
    old, new = token_store_for(source), token_store_for(target)
    with old.datastore.transaction(commit=False) as cursor:
        cursor.execute(f"SELECT prefix, token_hash, principal_id, role, created_at, revoked_at FROM {old.table}")
        rows = [tuple(row) for row in cursor.fetchall()]
    with new.datastore.transaction(commit=True) as cursor:
        for row in rows:
            cursor.execute(f"INSERT INTO {new.table} (prefix, token_hash, principal_id, role, created_at, revoked_at) "
                           f"VALUES ({', '.join(new.p for _ in row)})", row)
    return len(rows)


def _verify(target: MentorshipLedger) -> Any:
    from projections.queries import LedgerQueries

    answer = LedgerQueries(target, Projections(target)).verify_audit(Principal("migration", AUDITOR))
    return answer["ok"]
