"""A process starting (a server's worker, a command) while the projection worker writes the views: it takes no
lock on the view tables. ``CREATE INDEX IF NOT EXISTS`` locks its table before it finds the index there; taken
at start, in another order than a batch takes them, one of the two was killed as a deadlock, and a server whose
worker fails to boot stops."""

from __future__ import annotations

import threading

import psycopg2
import pytest

from projections.service import VIEW_CLASSES, Projections
from tests.support import open_ledger


def test_a_process_starting_while_a_batch_writes_every_view_table_waits_for_no_lock(store, tmp_path):
    if store.kind != "postgres":
        pytest.skip("SQLite has one writer at a time: a start waits for the batch's commit, as any write does")
    ledger = open_ledger(store, str(tmp_path))
    projections = Projections(ledger)
    tables = [view.table(logical) for view in projections.views() for logical in type(view).TABLES]
    assert len(tables) >= len(VIEW_CLASSES)
    batch = psycopg2.connect(store.database_url)
    try:
        with batch.cursor() as cursor:
            for table in tables:  # what a batch's inserts and updates hold until it commits
                cursor.execute(f"LOCK TABLE {table} IN ROW EXCLUSIVE MODE")
            starting = open_ledger(store, str(tmp_path))
            started = threading.Thread(target=Projections, args=(starting,), daemon=True)
            started.start()
            started.join(10)
            assert not started.is_alive(), "the start waited for the batch's locks"  # before: until it committed
    finally:
        batch.rollback()
        batch.close()
        started.join(10)
        starting.close()
        ledger.close()
