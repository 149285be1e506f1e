"""Opaque cursors for lists: {"items": [...], "next": "<cursor>" | null}."""

from __future__ import annotations

import base64
import json
import re
from typing import Any
from uuid import UUID

from flask_smorest import abort


def encode_cursor(state: dict[str, Any]) -> str:
    raw = json.dumps(state, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> dict[str, Any]:
    """The state a cursor carries; 422 for a cursor this service did not make."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        state = json.loads(raw)
    except ValueError:
        state = None
    if not isinstance(state, dict):
        abort(422, messages={"cursor": ["Not a cursor from this list."]})
    return state


STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")


def is_uuid(value: Any) -> bool:
    """True for a UUID in its canonical text form, the only ids a cursor of ours carries."""
    if not isinstance(value, str):
        return False
    try:
        return str(UUID(value)) == value
    except ValueError:
        return False
