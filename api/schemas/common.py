"""What every schema shares: strictness, problem details, pages, freshness."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.fields import MAX_NUMBER


class StrictSchema(Schema):
    """Unknown fields are refused (marshmallow's default), said here so no one changes it."""

    class Meta:
        unknown = "raise"


class ProblemSchema(Schema):
    """RFC 9457 problem details."""

    type = fields.String(required=True, metadata={"format": "uri"})
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()),
                         metadata={"description": "For validation problems: the messages of each field."})


class FreshnessQuerySchema(StrictSchema):
    min_position = fields.Integer(validate=validate.Range(min=0, max=MAX_NUMBER), metadata={
        "description": "Wait (a few seconds at most) until the view has processed this store position."})


def limit_field() -> fields.Integer:
    return fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


_PAGES: dict[type[Schema], type[Schema]] = {}


def page_of(item: type[Schema]) -> type[Schema]:
    """The schema of a page of ``item``s: ``{"items": [...], "next": "<cursor>" | null}``."""
    if item not in _PAGES:
        name = item.__name__.removesuffix("Schema") + "PageSchema"
        _PAGES[item] = Schema.from_dict({
            "items": fields.List(fields.Nested(item), required=True),
            "next": fields.String(required=True, allow_none=True,
                                  metadata={"description": "The cursor of the next page; null on the last."}),
        }, name=name)
    return _PAGES[item]
