"""Answers dumped by a plan made once per schema: the output of ``Schema.dump``, without its per-value lookups.

marshmallow finds, for every field of every object it dumps, the accessor, the attribute name, the default and
the field's formatting, through several calls each. A read answer of fifty health rows has some six hundred
values; those calls were the largest part of answering it. ``plan`` resolves them once per schema and calls each
field's own ``_serialize`` directly (skipping it for values it would return unchanged: a ``str`` in a
``String``, an ``int`` in an ``Integer``, a ``bool`` in a ``Boolean``), so the output is the same value for
value. Schemas with dump hooks or their own ``get_attribute``, and fields that read no attribute or reach into
nested attributes, keep marshmallow's own path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from marshmallow import Schema, fields, missing, utils
from marshmallow.decorators import POST_DUMP, PRE_DUMP

Dump = Callable[[Any], Any]
Convert = Callable[[Any, str, Any], Any]
_ABSENT = object()


def plan(schema: Schema) -> Callable[..., Any]:
    """A function with ``schema.dump``'s signature and output."""
    if (schema._hooks[PRE_DUMP] or schema._hooks[POST_DUMP]  # noqa: SLF001 - marshmallow keeps hooks here
            or type(schema).get_attribute is not Schema.get_attribute):
        return schema.dump
    one = _object_dump(schema)

    def dump(obj: Any, *, many: bool | None = None) -> Any:
        many = schema.many if many is None else bool(many)
        if many:
            return None if obj is None else [one(each) for each in obj]
        return one(obj)

    return dump


def _object_dump(schema: Schema) -> Dump:
    steps = [_step(schema, name, field) for name, field in schema.dump_fields.items()]
    dict_class = schema.dict_class

    def one(obj: Any) -> Any:
        result = dict_class()
        for key, take in steps:
            value = take(obj)
            if value is not missing:
                result[key] = value
        return result

    return one


def _step(schema: Schema, name: str, field: fields.Field) -> tuple[str, Dump]:
    key = field.data_key if field.data_key is not None else name
    source = name if field.attribute is None else field.attribute
    if not field._CHECK_ATTRIBUTE or "." in source:  # noqa: SLF001
        return key, lambda obj: field.serialize(name, obj, accessor=schema.get_attribute)
    convert, default = _converter(field), field.dump_default

    def take(obj: Any) -> Any:
        if type(obj) is dict:
            value = obj.get(source, _ABSENT)
            if value is _ABSENT:  # as marshmallow's accessor does: a missing key falls back to an attribute
                value = getattr(obj, source, missing)
        else:
            value = utils.get_value(obj, source, missing)
        if value is missing:
            value = default() if callable(default) else default
            if value is missing:
                return missing
        return convert(value, name, obj)

    return key, take


def _converter(field: fields.Field) -> Convert:
    """``field._serialize``, short-cut for values it would return unchanged."""
    serialize = field._serialize  # noqa: SLF001 - the field's own formatting, as Field.serialize calls it
    kind = type(field)
    same: type | None = {fields.String: str, fields.Raw: object, fields.Boolean: bool}.get(kind)
    if kind in (fields.Integer, fields.Float) and not field.as_string:
        same = int if kind is fields.Integer else float
    if same is object:
        return lambda value, attr, obj: value
    if same is not None:
        return lambda value, attr, obj: value if value is None or type(value) is same else serialize(value, attr, obj)
    if kind is fields.Nested and not field.only and not field.exclude:
        nested = plan(field.schema)
        many = field.schema.many or field.many
        return lambda value, attr, obj: None if value is None else nested(value, many=many)
    if kind is fields.List:
        inner = _converter(field.inner)
        return lambda value, attr, obj: None if value is None else [inner(each, attr, obj) for each in value]
    return serialize
