"""The rule by which the production server's workers spread connections (api.serving.Spread), on records
written by hand: a worker holding more leaves a new connection to one holding fewer that is answering."""

from __future__ import annotations

import pytest

from api.serving import Spread


class Held:
    """``held[0] = n``: the worker holds n connections (its server's pool of greenlets)."""

    def __init__(self, spread: Spread) -> None:
        self.spread = spread

    def __setitem__(self, _: int, count: int) -> None:
        self.spread.pool = [None] * count


@pytest.fixture
def spread():
    clock = [1000.0]
    spread = Spread(clock=lambda: clock[0])
    spread.join(0, 111)
    held = Held(spread)

    def other(theirs: int, beat_ago: float = 0.0, slot: int = 1, pid: int = 222) -> None:
        spread.RECORD.pack_into(spread.memory, slot * spread.RECORD.size, pid, theirs, clock[0] - beat_ago)

    return spread, other, clock, held


def test_a_worker_holding_more_leaves_a_new_connection_to_one_holding_fewer(spread):
    spread, other, _, held = spread
    held[0] = 3
    other(2)
    assert spread.leave_to_another()
    other(3)
    assert not spread.leave_to_another()  # ties accept
    held[0] = 2
    other(3)
    assert not spread.leave_to_another()


def test_a_worker_whose_loop_has_not_turned_lately_or_that_stopped_is_not_waited_for(spread):
    spread, other, _, held = spread
    held[0] = 3
    other(0, beat_ago=spread.STALE + 0.01)
    assert not spread.leave_to_another()
    other(0)
    assert spread.leave_to_another()
    spread.RECORD.pack_into(spread.memory, spread.RECORD.size, 0, 0, 0.0)  # what a stopping worker writes
    assert not spread.leave_to_another()


def test_no_connection_waits_longer_than_the_patience_and_the_next_one_waits_again(spread):
    spread, other, clock, held = spread
    held[0] = 3
    other(1)
    assert spread.leave_to_another()
    clock[0] += spread.PATIENCE * 0.6
    other(1)
    assert spread.leave_to_another()
    clock[0] += spread.PATIENCE * 0.6
    other(1)
    assert not spread.leave_to_another()  # waited long enough: taken here
    clock[0] += 10  # much later, the same counts: a new connection is left to the other again
    other(1)
    assert spread.leave_to_another()


def test_a_connection_taken_by_another_worker_ends_the_wait(spread):
    spread, other, clock, held = spread
    held[0] = 3
    other(1)
    assert spread.leave_to_another()
    clock[0] += spread.PATIENCE * 2  # the other took it; a new connection, while the counts still differ
    other(2)
    assert spread.leave_to_another()


def test_a_worker_writes_its_count_and_clears_its_slot_as_it_stops(spread):
    spread, _, clock, held = spread
    held[0] = 5
    spread.beat()
    assert spread.records()[0] == (111, 5, clock[0])
    spread.leave()
    assert spread.records()[0] == (0, 0, 0.0)


def test_a_worker_without_a_slot_never_leaves_a_connection():
    spread = Spread()
    assert spread.slot is None and not spread.leave_to_another()
