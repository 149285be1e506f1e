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
           | st.uuids() | st.dates() | st.datetimes(timezones=zones))
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
