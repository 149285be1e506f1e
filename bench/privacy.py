"""What the privacy scheme costs: commands, a rebuild of the views, and an erasure — with it and without.

    python -m bench.privacy [--store sqlite|postgres|both] [--commands 3000] [--events 100000]

"Without" is the same code with the store treated as one written before the scheme (people and texts stored
as given): the difference is the cost of pseudonymous subjects, per-relationship encryption and the names
put back when events are read. Commands run in process (the ledger directly, one thread); the rebuild
replays every event into fresh views; the erasure erases one participant of a populated store (on SQLite
it includes rebuilding the file, so that no deleted byte lingers).
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from bench.common import emit, machine
from bench.data import Store, populate
from domain.principal import COORDINATOR, Principal
from persistence.privacy import PrivateMapper, Vault, private_mapper
from persistence.stores import token_store_for
from projections.privacy import Privacy
from projections.queries import LedgerQueries
from projections.service import VIEW_CLASSES, Projections

PLAIN = "bench.privacy:plain_mapper"


class PlainVault(Vault):
    """A vault that treats every store as one written before the scheme: nothing is pseudonymised."""

    def settle(self, has_events: bool) -> None:
        self.private = False


def plain_mapper(application: Any) -> PrivateMapper:
    mapper = private_mapper(application)
    mapper.vault.__class__ = PlainVault
    return mapper


def commands(kind: str, scheme: bool, count: int) -> dict[str, Any]:
    store = Store(kind)
    ledger = store.ledger(**({} if scheme else {"MAPPER_TOPIC": PLAIN}))
    try:
        coordinator = Principal("ada", COORDINATOR)
        pairs = [(ledger.start_relationship(coordinator, program_id="p", mentor_id=f"mentor-{n}",
                                            mentee_id=f"mentee-{n}", goals=["Lead a review"]).aggregate_id, n)
                 for n in range(20)]
        timings = []
        for i in range(count):
            rid, n = pairs[i % len(pairs)]
            started = time.perf_counter()
            ledger.give_feedback(Principal(f"mentor-{n}", "participant"), rid,
                                 content="Clear and specific; keep going with the trade-off tables.",
                                 kind="improvement", skills=["presenting"],
                                 action_items=[{"description": "Prepare a trade-off table", "due_on": None}])
            timings.append(time.perf_counter() - started)
        reads = []
        for i in range(count // 3):
            rid, n = pairs[i % len(pairs)]
            started = time.perf_counter()
            ledger.get_relationship(Principal(f"mentor-{n}", "participant"), rid, limit=20)
            reads.append(time.perf_counter() - started)
        return {"commands_per_s": round(len(timings) / sum(timings)),
                "command_p50_ms": round(statistics.median(timings) * 1000, 3),
                "read_limit_20_p50_ms": round(statistics.median(reads) * 1000, 3)}
    finally:
        ledger.close()
        store.drop()


def rebuild(kind: str, scheme: bool, events: int) -> dict[str, Any]:
    store = Store(kind)
    ledger = store.ledger(**({} if scheme else {"MAPPER_TOPIC": PLAIN}))
    try:
        started = time.perf_counter()
        populate(ledger, relationships=max(1, events // 50), events_each=50)
        written = time.perf_counter() - started
        projections = Projections(ledger)
        started = time.perf_counter()
        for name in VIEW_CLASSES:
            projections.rebuild(name)
        rebuilt = time.perf_counter() - started
        answer = {"events": ledger.position(), "write_s": round(written, 2), "rebuild_all_views_s": round(rebuilt, 2)}
        if scheme:
            privacy = Privacy(ledger, LedgerQueries(ledger, projections), token_store_for(ledger))
            started = time.perf_counter()
            erased = privacy.erase(Principal("ada", COORDINATOR), "mentor-0")
            answer["erase_one_participant_s"] = round(time.perf_counter() - started, 2)
            answer["relationships_erased"] = erased["relationships"]
        return answer
    finally:
        ledger.close()
        store.drop()


def side_by_side_reads(rounds: int = 30) -> dict[str, float]:
    """One relationship of 151 events read with ?limit=20, with and without the scheme, interleaved in one
    process (SQLite): the ratio, without the drift of a shared machine between runs."""
    ledgers = {}
    for scheme in (False, True):
        store = Store("sqlite")
        ledger = store.ledger(**({} if scheme else {"MAPPER_TOPIC": PLAIN}))
        rid = ledger.start_relationship(Principal("ada", COORDINATOR), program_id="p", mentor_id="mentor-1",
                                        mentee_id="mentee-1", goals=["Lead a review"]).aggregate_id
        for _ in range(150):
            ledger.give_feedback(Principal("mentor-1", "participant"), rid,
                                 content="Clear and specific; keep going with the trade-off tables.",
                                 kind="improvement", skills=["presenting"],
                                 action_items=[{"description": "Prepare a trade-off table", "due_on": None}])
        ledgers[scheme] = (ledger, rid)
    times: dict[bool, list[float]] = {False: [], True: []}
    try:
        for _ in range(rounds):
            for scheme, (ledger, rid) in ledgers.items():
                started = time.perf_counter()
                for _ in range(10):
                    ledger.get_relationship(Principal("mentor-1", "participant"), rid, limit=20)
                times[scheme].append((time.perf_counter() - started) / 10)
    finally:
        for ledger, _ in ledgers.values():
            ledger.close()
    without, with_ = statistics.median(times[False]), statistics.median(times[True])
    return {"read_ms_without": round(without * 1000, 2), "read_ms_with": round(with_ * 1000, 2),
            "ratio": round(with_ / without, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--commands", type=int, default=3000)
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()
    kinds = ["sqlite", "postgres"] if args.store == "both" else [args.store]
    result: dict[str, Any] = {"machine": machine()}
    for kind in kinds:
        for scheme in (False, True):
            label = f"{kind} {'with' if scheme else 'without'} the privacy scheme"
            result[label] = {**commands(kind, scheme, args.commands), **rebuild(kind, scheme, args.events)}
            emit({label: result[label]})
    result["reads side by side (sqlite, one process)"] = side_by_side_reads()
    emit(result)


if __name__ == "__main__":
    main()
