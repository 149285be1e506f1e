"""Opaque cursors for lists: {"items": [...], "next": "<cursor>" | null}."""

from __future__ import annotations

import base64
import json
from typing import Any

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
