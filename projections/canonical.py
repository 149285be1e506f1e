"""Canonical JSON: one byte string per value, so hashes computed anywhere agree."""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, timezone
from typing import Any
from uuid import UUID


def plain(value: Any) -> Any:
    """UUIDs and times as strings (times in UTC with a Z), containers recursively."""
    if isinstance(value, date | UUID):
        return _scalar(value)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def fixed_stamp(moment: datetime) -> str:
    """A UTC time as fixed-width RFC 3339 (four-digit year, microseconds always shown): text order is time order.

    This is how times are served, stored in views and compared in filters, for every year from 1 to 9999.
    """
    return moment.astimezone(timezone.utc).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def stamp(moment: datetime) -> str:
    """A UTC time as fixed-width RFC 3339 (microseconds always shown), so text order is time order."""
    utc = moment.astimezone(timezone.utc)
    if utc.year < 1000:  # strftime did not pad such years, and chained data keeps its first spelling
        return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return utc.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _scalar(value: Any) -> str:
    """A time, date or UUID as canonical JSON spells it (also the JSON encoder's fallback)."""
    if isinstance(value, datetime):
        return stamp(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} has no canonical JSON form")


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_scalar)


def canonical(value: Any) -> bytes:
    """The same bytes as ``json.dumps(plain(value), sort_keys=True, ...)``, without walking the value in Python.

    Dictionary keys must be strings, as they are in everything decoded from
    JSON (events, entries): the encoder sorts keys as they are, ``plain``
    sorts them as text.
    """
    return _ENCODER.encode(value).encode("utf-8")


def sha256(value: Any) -> str:
    return hashlib.sha256(canonical(value)).hexdigest()
