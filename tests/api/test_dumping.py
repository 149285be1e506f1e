"""Answers dumped by a schema's plan are exactly what marshmallow's own ``dump`` gives."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timezone
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import Schema, fields, post_dump

from api import create_app
from api.dumping import plan
from api.schemas.common import page_of
from api.schemas.relationships import RelationshipSchema
from api.schemas.views import AuditEntrySchema, HealthSchema


class Inner(Schema):
    name = fields.String()
    count = fields.Integer(dump_default=0)


class Shapes(Schema):
    text = fields.String()
    number = fields.Integer()
    as_text = fields.Integer(as_string=True)
    ratio = fields.Float()
    flag = fields.Boolean()
    raw = fields.Raw()
    stamp = fields.DateTime()
    day = fields.Date()
    ident = fields.UUID()
    renamed = fields.String(data_key="other-name")
    sourced = fields.String(attribute="elsewhere")
    dotted = fields.String(attribute="deep.value")
    defaulted = fields.String(dump_default="fallback")
    made = fields.Integer(dump_default=lambda: 7)
    inner = fields.Nested(Inner)
    inners = fields.List(fields.Nested(Inner))
    many_inner = fields.Nested(Inner, many=True)
    only_inner = fields.Nested(Inner, only=("name",))
    words = fields.List(fields.String())
    mapping = fields.Dict(keys=fields.String(), values=fields.Integer())
    constant = fields.Constant("always")
    method = fields.Method("twice")

    def twice(self, obj: object) -> int:
        return 2


class Hooked(Schema):
    name = fields.String()

    @post_dump
    def shout(self, data: dict, **_: object) -> dict:
        return {**data, "name": str(data.get("name", "")).upper()}


VALUES = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(-2, 2, allow_nan=False),
                   st.text(max_size=4), st.sampled_from([True, False, 1, 0, "1", "yes", 2.5, b"bytes"]))
INNER = st.fixed_dictionaries({}, optional={"name": st.one_of(st.none(), st.text(max_size=3), st.integers()),
                                           "count": st.one_of(st.none(), st.integers(), st.booleans())})
OBJECTS = st.fixed_dictionaries({}, optional={
    "text": VALUES, "number": st.one_of(st.none(), st.integers(), st.booleans(), st.floats(-9, 9)),
    "as_text": st.one_of(st.none(), st.integers()), "ratio": st.one_of(st.none(), st.integers(), st.floats(-1, 1)),
    "flag": VALUES, "raw": VALUES,
    "stamp": st.one_of(st.none(), st.datetimes(timezones=st.just(timezone.utc))),
    "day": st.one_of(st.none(), st.dates()), "ident": st.one_of(st.none(), st.uuids()),
    "renamed": VALUES, "elsewhere": VALUES, "deep": st.fixed_dictionaries({"value": st.text(max_size=3)}),
    "defaulted": VALUES, "made": st.one_of(st.none(), st.integers()),
    "inner": st.one_of(st.none(), INNER), "inners": st.one_of(st.none(), st.lists(INNER, max_size=3)),
    "many_inner": st.one_of(st.none(), st.lists(INNER, max_size=3)), "only_inner": st.one_of(st.none(), INNER),
    "words": st.one_of(st.none(), st.lists(st.one_of(st.text(max_size=3), st.integers()), max_size=3)),
    "mapping": st.one_of(st.none(), st.dictionaries(st.text(max_size=2), st.integers(), max_size=2)),
})


@settings(max_examples=300, deadline=None)
@given(OBJECTS)
def test_a_plan_dumps_what_marshmallow_dumps(obj: dict) -> None:
    schema = Shapes()
    assert plan(schema)(obj) == schema.dump(obj)


@settings(max_examples=100, deadline=None)
@given(st.lists(OBJECTS, max_size=4))
def test_a_plan_dumps_many_as_marshmallow_does(objs: list[dict]) -> None:
    schema = Shapes(many=True)
    assert plan(schema)(objs) == schema.dump(objs)
    assert plan(Shapes())(objs, many=True) == Shapes().dump(objs, many=True)


def test_objects_with_attributes_and_missing_keys_are_read_as_marshmallow_reads_them() -> None:
    schema = Shapes()
    obj = SimpleNamespace(text="a", number=3, inner=SimpleNamespace(name="n"), stamp=datetime(2026, 1, 2,
                                                                                              tzinfo=timezone.utc))
    assert plan(schema)(obj) == schema.dump(obj)
    assert plan(schema)({}) == schema.dump({})  # defaults, constants, methods
    assert plan(schema)({"day": date(2026, 2, 3), "ident": uuid.UUID(int=5)}) == \
        schema.dump({"day": date(2026, 2, 3), "ident": uuid.UUID(int=5)})


def test_schemas_with_dump_hooks_keep_marshmallows_path() -> None:
    schema = Hooked()
    assert plan(schema)({"name": "ada"}) == {"name": "ADA"}


def _health(i: int) -> dict:
    return {"relationship_id": str(uuid.UUID(int=i)), "program_id": "p", "score": 40 + i, "status": "at_risk",
            "lifecycle": "active", "position": 12, "feedback": {"by_mentor": i, "by_mentee": 1},
            "acknowledgement_rate": 0.5, "median_acknowledgement_hours": None, "signals": ["quiet"],
            "computed_at": datetime(2026, 11, 26, 12, tzinfo=timezone.utc)}


SAMPLES = {
    "health page": (page_of(HealthSchema)(), [{"items": [_health(i) for i in range(3)], "next": "abc"},
                                             {"items": [], "next": None}]),
    "relationship": (RelationshipSchema(), [{"relationship_id": uuid.UUID(int=9), "version": 3, "feedback": [],
                                             "actions": None}, {}]),
    "audit entry": (AuditEntrySchema(), [{"position": 4, "actor": "ada", "summary": None, "redacted": True}, {}]),
}


@pytest.mark.parametrize("name", SAMPLES)
def test_the_services_own_schemas_dump_the_same_through_their_plan(name: str) -> None:
    schema, samples = SAMPLES[name]
    for sample in samples:
        assert plan(schema)(sample) == schema.dump(sample)


def test_every_answer_schema_of_the_service_is_dumped_by_its_plan(tmp_path) -> None:
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path}/ledger.sqlite3"})
    planned = [view for name, view in app.view_functions.items() if name.startswith(("relationships.", "health."))]
    assert planned, "the API's views are registered"
    loads = [parameter["schema"] for view in planned
             for parameter in getattr(view, "_apidoc", {}).get("arguments", {}).get("parameters", [])]
    # Arguments are parsed by schemas made once (webargs would make an instance of a class per request).
    assert loads and all(isinstance(schema, Schema) for schema in loads)
    dumps = [schema for view in planned for schema in _schemas_in(view) if all(schema is not s for s in loads)]
    assert len(dumps) >= len(planned) and all("dump" in vars(schema) for schema in dumps)


def _schemas_in(function: object, seen: set | None = None) -> list[Schema]:
    """The schema instances a decorated view function holds (in its decorators' closures)."""
    seen = set() if seen is None else seen
    if id(function) in seen:
        return []
    seen.add(id(function))
    found = []
    for cell in getattr(function, "__closure__", None) or ():
        try:
            value = cell.cell_contents
        except ValueError:
            continue
        if isinstance(value, Schema):
            found.append(value)
        elif callable(value):
            found += _schemas_in(value, seen)
    return found


def test_query_arguments_loaded_from_nothing_are_each_schemas_defaults_fresh_for_each_request(tmp_path) -> None:
    """A request without a query string gets what its schema loads from nothing (kept once per schema): the
    same values marshmallow gives, a new dict each time (a view changing it changes no other request's), and
    a query string is still parsed and checked as before."""
    from flask import Flask

    from api.blueprint import StrictParser
    from api.schemas.relationships import RelationshipQuerySchema
    from api.schemas.views import HealthListQuerySchema

    parser = StrictParser()
    app = Flask(__name__)
    for schema in (HealthListQuerySchema(), RelationshipQuerySchema()):
        with app.test_request_context("/"):
            first = parser.parse(schema, location="query")
            first["mutated"] = True
        with app.test_request_context("/"):
            assert parser.parse(schema, location="query") == schema.load({})
    schema = HealthListQuerySchema()
    with app.test_request_context("/?limit=7"):
        assert parser.parse(schema, location="query")["limit"] == 7
    with app.test_request_context("/?limit=0"), pytest.raises(Exception) as refused:
        parser.parse(schema, location="query")
    assert getattr(refused.value, "code", None) == 422
    with app.test_request_context("/?unknown=1"), pytest.raises(Exception) as unknown:
        parser.parse(schema, location="query")
    assert getattr(unknown.value, "code", None) == 422
