"""Fields of the HTTP contract that know their own rules: times, names, free text, list cursors."""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import date, datetime, timezone
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from api.http import rfc3339
from domain.identifiers import MAX_LENGTH, identifier_problem, normalised

MAX_NUMBER = 2**62  # positions and versions are 64-bit in the store
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
NOT_A_CURSOR = "Not a cursor from this list."


def no_control_characters(value: str) -> None:
    """Names and ids are single-line, printable text."""
    if CONTROL.search(value):
        raise ValidationError("Control characters are not allowed here.")


def no_control_characters_in_text(value: str) -> None:
    """Free text may hold tabs and line breaks, but no other control characters (NUL above all)."""
    if CONTROL_IN_TEXT.search(value):
        raise ValidationError("Control characters other than tab and line breaks are not allowed.")


def name(max_length: int) -> list:
    return [validate.Length(min=1, max=max_length), no_control_characters]


def text(max_length: int, min_length: int = 0) -> list:
    return [validate.Length(min=min_length, max=max_length), no_control_characters_in_text]


class Identifier(fields.String):
    """An id chosen by a program (participant, program, actor), normalised to NFC.

    Where an id is created (``new=True``) it is held to ``domain.identifiers``' rules, so that every id
    accepted is usable on every endpoint; where one is looked for (a filter), any single-line text up to
    the length is looked for, so ids kept by earlier releases can still be found.
    """

    def __init__(self, *, new: bool = False, **kwargs: Any) -> None:
        kwargs.setdefault("validate", name(MAX_LENGTH))
        super().__init__(**kwargs)
        self.new = new

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        given = normalised(super()._deserialize(value, attr, data, **kwargs))
        # (the length is the validators' to report, as for every other field)
        problem_text = identifier_problem(given) if self.new and 1 <= len(given) <= MAX_LENGTH else None
        if problem_text is not None:
            raise ValidationError(problem_text)
        return given


# The times and days the service can represent and compute with (a day of margin at each end, so that a time
# in any offset, or a day plus one, stays inside what Python's datetime holds).
EARLIEST = datetime(1, 1, 2, tzinfo=timezone.utc)
LATEST = datetime(9999, 12, 30, 23, 59, 59, 999999, tzinfo=timezone.utc)
OUT_OF_RANGE = "Give a time between 0001-01-02T00:00:00Z and 9999-12-30T23:59:59.999999Z."


class UTCDateTime(fields.DateTime):
    """RFC 3339 times; offsets are converted to UTC, times without one are refused, as are times out of range."""

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else rfc3339(value)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> datetime:
        if not isinstance(value, str):
            raise ValidationError("Not a valid RFC 3339 time.")
        try:
            moment = datetime.fromisoformat(value.upper())  # RFC 3339 allows a lowercase t and z
        except ValueError:
            raise ValidationError("Not a valid RFC 3339 time.") from None
        if moment.tzinfo is None:
            raise ValidationError("Give the time with a UTC offset or Z.")
        try:
            utc = moment.astimezone(timezone.utc)
        except OverflowError:
            raise ValidationError(OUT_OF_RANGE) from None
        if not EARLIEST <= utc <= LATEST:
            raise ValidationError(OUT_OF_RANGE)
        return utc


class Day(fields.Date):
    """An ISO 8601 calendar day between 0001-01-02 and 9999-12-30."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> date:
        if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise ValidationError("Give the day as YYYY-MM-DD.")
        day = super()._deserialize(value, attr, data, **kwargs)
        if not EARLIEST.date() <= day <= LATEST.date():
            raise ValidationError("Give a day between 0001-01-02 and 9999-12-30.")
        return day


class Cursor(fields.String):
    """The opaque cursor of one list: the list's own position, as base64url JSON, checked against ``shape``.

    Loaded, it is the position (a dict); anything this service did not make is a
    422 naming the ``cursor`` field, like any other malformed field.
    """

    def __init__(self, shape: type[Schema], **kwargs: Any) -> None:
        super().__init__(metadata={"description": "The `next` of the previous page.", "maxLength": 500}, **kwargs)
        self.shape = shape

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> dict[str, Any]:
        encoded = super()._deserialize(value, attr, data, **kwargs)
        if not 1 <= len(encoded) <= 500 or CONTROL.search(encoded):
            raise ValidationError(NOT_A_CURSOR)
        try:
            state = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
        except (ValueError, binascii.Error):
            raise ValidationError(NOT_A_CURSOR) from None
        if not isinstance(state, dict):
            raise ValidationError(NOT_A_CURSOR)
        try:
            return self.shape().load(state)
        except ValidationError:
            raise ValidationError(NOT_A_CURSOR) from None

    @staticmethod
    def encode(state: dict[str, Any]) -> str:
        """The cursor that brings a caller back to ``state`` (plain JSON values only)."""
        raw = json.dumps(state, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")


STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")


class CanonicalUUID(fields.String):
    """A UUID in its canonical text form (the only ids our cursors carry), kept as text."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        text_value = super()._deserialize(value, attr, data, **kwargs)
        if not re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", text_value):
            raise ValidationError("Not a UUID.")
        return text_value


class AfterPosition(Schema):
    """Where a list in store or version order stopped."""

    after = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=MAX_NUMBER))


class AfterStart(Schema):
    """Where a list in (time, id) order stopped."""

    started_at = fields.String(required=True, validate=validate.Regexp(STAMP))
    id = CanonicalUUID(required=True)


class AfterScore(Schema):
    """Where a worst-first list stopped, and the moment all its pages are scored at."""

    score = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=100))
    id = CanonicalUUID(required=True)
    as_of = fields.Float(required=True, validate=validate.Range(min=EARLIEST.timestamp(), max=LATEST.timestamp()))
