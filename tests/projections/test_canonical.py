"""Canonical JSON: the bytes every audit hash is computed over must never change."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from uuid import UUID

from hypothesis import given, settings
from hypothesis import strategies as st

from projections.canonical import canonical, plain

zones = st.integers(-14 * 60, 14 * 60).map(lambda minutes: timezone(timedelta(minutes=minutes)))
scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
           | st.uuids() | st.dates()
           # times the service holds: within a day of the calendar's ends no offset may take them out of it (the
           # API refuses what would, tests/security/test_hostile_world.py)
           | st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=zones))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner)
                      | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20)


def by_walking(value):
    """How canonical JSON was first defined: convert in Python, then dump."""
    return json.dumps(plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@settings(max_examples=300, deadline=None)
@given(values)
def test_canonical_bytes_are_those_of_the_first_definition(value):
    assert canonical(value) == by_walking(value)


def test_known_bytes_stay_the_same():
    value = {"b": [UUID(int=1), datetime(2026, 1, 5, 10, 0, tzinfo=timezone(timedelta(hours=1))),
                   date(2026, 2, 1), ("é", 2.5)], "a": {"z": None, "y": True}}
    assert canonical(value) == (
        b'{"a":{"y":true,"z":null},"b":["00000000-0000-0000-0000-000000000001",'
        b'"2026-01-05T09:00:00.000000Z","2026-02-01",["\xc3\xa9",2.5]]}')


@settings(max_examples=300, deadline=None)
@given(st.datetimes(timezones=zones) | st.datetimes())
def test_times_are_spelled_as_strftime_spells_them(moment):
    from projections.canonical import stamp

    assert stamp(moment) == moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# -- the fast chain hash of a stored row is the chain hash ----------------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from projections.audit_chain import chain_hash, row_hash  # noqa: E402

ANY_TEXT = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=40)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(position=st.integers(0, 2**62), version=st.integers(0, 2**31), texts=st.lists(ANY_TEXT, min_size=9, max_size=9))
def test_the_hash_of_a_stored_row_is_the_canonical_chain_hash(position, version, texts):
    relationship_id, program_id, kind, actor, actor_role, recorded_at, summary, data_sha256, prev = texts
    content = {"position": position, "relationship_id": relationship_id, "program_id": program_id,
               "version": version, "type": kind, "actor": actor, "actor_role": actor_role,
               "recorded_at": recorded_at, "summary": summary, "data_sha256": data_sha256}
    assert row_hash(position, relationship_id, program_id, version, kind, actor, actor_role, recorded_at, summary,
                    data_sha256, prev) == chain_hash(content, prev)


def test_a_row_with_odd_types_is_hashed_the_canonical_way():
    odd = ("3", "r", "p", 1.5, "t", "a", "mentor", "2026-01-01T00:00:00.000000Z", "s", "d")
    content = dict(zip(("position", "relationship_id", "program_id", "version", "type", "actor", "actor_role",
                        "recorded_at", "summary", "data_sha256"), odd, strict=True))
    assert row_hash(*odd, "0" * 64) == chain_hash(content, "0" * 64)
