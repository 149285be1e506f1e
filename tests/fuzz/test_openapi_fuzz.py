"""Fuzzing the API from its own OpenAPI document (schemathesis), as every role, on both stores.

Every generated request, valid or not, must get an answer that is documented:
no 5xx, a documented status, the documented content type (problem+json for
errors) and a body matching the documented schema.
"""

from __future__ import annotations

import json
import os
from datetime import date, datetime
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import build_service

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
ROLES = ["coordinator", "auditor", "mentor", "mentee", "outsider"]
EXAMPLES = {"sqlite": int(os.environ.get("FUZZ_EXAMPLES", "30")), "postgres": int(os.environ.get("FUZZ_EXAMPLES", "10"))}


# Values that once reached a 500: lone surrogates in any string, RFC 3339 times from year 1 to 9999 with any
# offset up to +-14:00, calendar days from year 1 to 9999. The hostile pass puts them into positive cases.
SURROGATE_TEXT = st.builds(lambda before, lone, after: before + lone + after, st.text(max_size=4),
                           st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), st.text(max_size=4))


def _rfc3339(moment: datetime, offset_minutes: int) -> str:
    sign = "+" if offset_minutes >= 0 else "-"
    hours, minutes = divmod(abs(offset_minutes), 60)
    return moment.isoformat(timespec="microseconds") + f"{sign}{hours:02d}:{minutes:02d}"


EXTREME_TIMES = st.builds(_rfc3339, st.one_of(
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(1, 1, 3)),
    st.datetimes(min_value=datetime(9999, 12, 29), max_value=datetime(9999, 12, 31, 23, 59, 59)),
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31))), st.integers(-14 * 60, 14 * 60))
DAYS = st.one_of(st.dates(max_value=date(1, 1, 3)), st.dates(min_value=date(9999, 12, 29)), st.dates()).map(
    date.isoformat)
IN_BODIES = st.one_of(SURROGATE_TEXT, EXTREME_TIMES, DAYS)
IN_URLS = st.one_of(EXTREME_TIMES, DAYS)  # a URL carries bytes: a surrogate can only arrive as %ED%A0%80


def hostile(value: Any, data: Any, strategy: Any) -> Any:
    """``value`` with some of its strings (at any depth) replaced by hostile ones."""
    if isinstance(value, str):
        return data.draw(strategy) if data.draw(st.booleans()) else value
    if isinstance(value, dict):
        return {key: hostile(inner, data, strategy) for key, inner in value.items()}
    if isinstance(value, list):
        return [hostile(inner, data, strategy) for inner in value]
    return value


@pytest.fixture
def fuzzed(store, tmp_path):
    service = build_service(store, tmp_path, PROJECTIONS_MODE="inline")
    rid = service.start()["id"]
    given_feedback = service.give(rid)
    known = {
        "relationship_id": [rid],
        "feedback_id": [given_feedback["feedback_id"]],
        "action_id": [given_feedback["action_items"][0]["action_id"]],
        "participant_id": ["mentee-12", "mentor-7"],
    }
    schema = schemathesis.openapi.from_wsgi("/openapi.json", service.app)
    yield service, schema, known, EXAMPLES[store.kind]
    service.app.extensions["ledger"].close()


def test_every_operation_answers_as_documented_for_every_role(fuzzed):
    service, schema, known, examples = fuzzed
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 17
    cases = 0
    for operation in operations:
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
            cases += run_operation(service, operation, mode, known, examples)
        cases += run_operation(service, operation, schemathesis.GenerationMode.POSITIVE, known, examples,
                               with_hostile_values=True)
    print(f"fuzzed {cases} cases over {len(operations)} operations")
    assert cases >= 10 * len(operations)


def run_operation(service, operation, mode, known, examples: int, with_hostile_values: bool = False) -> int:
    count = 0

    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode), role=st.sampled_from(ROLES), data=st.data())
    def check(case, role, data):
        nonlocal count
        for name in list(case.path_parameters or {}):
            if name in known and data.draw(st.booleans()):
                case.path_parameters[name] = data.draw(st.sampled_from(known[name]))
        auth = {"Authorization": f"Bearer {service.tokens[role]}"}
        if with_hostile_values:
            # Sent by hand: schemathesis cannot hold a lone surrogate in a case it revalidates.
            body = hostile(case.body, data, IN_BODIES) if isinstance(case.body, dict | list) else None
            response = service.client.open(
                case.formatted_path, method=case.method, headers=auth,
                query_string=hostile(dict(case.query or {}), data, IN_URLS),
                data=None if body is None else json.dumps(body), content_type="application/json")
            assert response.status_code < 500, (case.method, case.formatted_path, body, response.get_data(True))
            if response.status_code >= 400:
                problem = response.get_json()
                assert response.mimetype == "application/problem+json" and problem["status"] == response.status_code
        else:
            response = case.call(headers=auth)
            case.validate_response(response, checks=CHECKS)
        count += 1

    try:
        check()
    except Unsatisfiable:
        # An operation with nothing to make invalid (no parameters, no body) has no negative cases.
        assert mode == schemathesis.GenerationMode.NEGATIVE
    return count
