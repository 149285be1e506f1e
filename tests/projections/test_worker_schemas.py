"""Two deployments in schemas of one PostgreSQL database (POSTGRES_SCHEMA): each one's projection worker works.

Advisory locks belong to the whole database; their numbers were made from the view's name alone, so the worker
of the second deployment found "another projection worker active" and stood by for ever, its views never
caught up."""

from __future__ import annotations

import pytest

from projections.service import VIEW_CLASSES, Projections, WorkerLocks
from tests import pg
from tests.conftest import Store
from tests.support import open_ledger

pytestmark = pytest.mark.postgres


def test_workers_of_two_schemas_in_one_database_each_take_their_locks(tmp_path):
    pg.require_postgres()
    schemas = [pg.new_schema(), pg.new_schema()]
    ledgers, held = [], []
    try:
        for n, schema in enumerate(schemas):
            (tmp_path / str(n)).mkdir()
            ledgers.append(open_ledger(Store("postgres", pg.database_url(), {"POSTGRES_SCHEMA": schema}),
                                       str(tmp_path / str(n))))
        names = sorted(VIEW_CLASSES)
        said: list[str] = []
        for ledger in ledgers:
            locks = WorkerLocks(Projections(ledger).store, names, stop=lambda: bool(said), poll_interval=0.05,
                                log=said.append)
            assert locks.take(), said  # the second schema's worker is not kept waiting by the first's
            held.append(locks)
        assert said == []
        # In one schema, the locks still keep a second worker standing by.
        standby = WorkerLocks(Projections(ledgers[0]).store, names, stop=lambda: bool(said), poll_interval=0.05,
                              log=said.append)
        assert not standby.take()
        assert said == [f"another projection worker is active for {', '.join(names)}; standing by"]
    finally:
        for locks in held:
            locks.release()
        for ledger in ledgers:
            ledger.close()
        for schema in schemas:
            pg.drop_schema(schema)
