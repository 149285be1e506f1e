"""Fuzzing the API from its own OpenAPI document (schemathesis), as every role, on both stores.

Every generated request, valid or not, must get an answer that is documented:
no 5xx, a documented status, the documented content type (problem+json for
errors) and a body matching the documented schema.
"""

from __future__ import annotations

import os

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
    print(f"fuzzed {cases} cases over {len(operations)} operations")
    assert cases >= 10 * len(operations)


def run_operation(service, operation, mode, known, examples: int) -> int:
    count = 0

    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode), role=st.sampled_from(ROLES), data=st.data())
    def check(case, role, data):
        nonlocal count
        for name in list(case.path_parameters or {}):
            if name in known and data.draw(st.booleans()):
                case.path_parameters[name] = data.draw(st.sampled_from(known[name]))
        response = case.call(headers={"Authorization": f"Bearer {service.tokens[role]}"})
        case.validate_response(response, checks=CHECKS)
        count += 1

    try:
        check()
    except Unsatisfiable:
        # An operation with nothing to make invalid (no parameters, no body) has no negative cases.
        assert mode == schemathesis.GenerationMode.NEGATIVE
    return count
