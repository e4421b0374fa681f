"""The OpenAPI document at /api/v1/openapi.json describes exactly the API the app serves, is a
valid OpenAPI 3.1 document, and requests generated from it (schemathesis, property-based) never
get a server error."""

from __future__ import annotations

import re
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select

from app.api.openapi import SORTS
from app.extensions import db
from app.models import HumanTask
from app.services import cases, queues
from tests.conftest import employee_of

CONVERTER = re.compile(r"<(?:[a-z_]+(?:\([^)]*\))?:)?([a-z_]+)>")
IGNORED_METHODS = {"HEAD", "OPTIONS"}


def _app_operations(app: Flask) -> set[tuple[str, str]]:
    operations = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1"):
            path = CONVERTER.sub(r"{\1}", rule.rule)
            operations |= {(method, path) for method in rule.methods - IGNORED_METHODS}
    return operations


def _document_operations(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in document["paths"].items()
            for method in item if method in {"get", "post", "put", "patch", "delete"}}


def test_the_document_names_every_api_route_and_nothing_else(app: Flask, client) -> None:
    document = client.get("/api/v1/openapi.json").json
    served = _app_operations(app)
    described = _document_operations(document)
    assert served - described == set(), "API routes missing from app/api/openapi.py"
    assert described - served == set(), "app/api/openapi.py describes routes that do not exist"


def test_the_document_is_valid_openapi_3_1(client) -> None:
    response = client.get("/api/v1/openapi.json")  # public: no token
    assert response.status_code == 200
    document = response.json
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_the_documented_queue_orders_are_the_ones_the_queue_knows() -> None:
    assert set(SORTS) == set(queues.SORTS)


def test_every_operation_but_sign_in_and_the_document_needs_a_token(client) -> None:
    document = client.get("/api/v1/openapi.json").json
    assert document["security"] == [{"bearerAuth": []}]
    public = {(m, p) for m, p in _document_operations(document)
              if document["paths"][p][m.lower()].get("security") == []}
    assert public == {("POST", "/api/v1/tokens"), ("GET", "/api/v1/openapi.json")}


def _token(client, username: str) -> str:
    response = client.post("/api/v1/tokens", json={"username": username,
                                                   "password": "meezan-demo"})
    assert response.status_code == 201, response.json
    return response.json["token"]


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


def _fuzz(operation: Any, token: str, task_ids: list[int], case_ids: list[int],
          calls: dict[str, int], failures: list[str]) -> None:
    """Run one operation's generated cases; a failed check is recorded, then the next
    operation runs."""
    strategy = st.one_of(operation.as_strategy(GenerationMode.POSITIVE),
                         operation.as_strategy(GenerationMode.NEGATIVE))

    @settings(max_examples=40, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def exercise(data: st.DataObject) -> None:
        case = data.draw(strategy)
        params = case.path_parameters or {}
        if "task_id" in params and data.draw(st.booleans()):
            params["task_id"] = data.draw(st.sampled_from(task_ids))
        if "case_id" in params and data.draw(st.booleans()):
            params["case_id"] = data.draw(st.sampled_from(case_ids))
        response = case.call(headers={"Authorization": f"Bearer {token}"})
        calls[operation.label] = calls.get(operation.label, 0) + 1
        case.validate_response(response, checks=CHECKS)

    try:
        exercise()
    except Exception as exc:  # noqa: BLE001 - reported by the test's assertion
        failures.append(f"{operation.label}: {exc}")


@pytest.mark.parametrize("username", ["ro1", "hr1", "admin"])
def test_generated_requests_never_get_a_server_error(app: Flask, org, username: str) -> None:
    """Every operation, with bodies, ids and query strings schemathesis derives from the document
    (valid and invalid), as a signed-in user; ids are often those of real tasks and cases."""
    cases.start_case("goal_setting", employee_of(org["emp1"]).id, org["hr1"])
    cases.start_case("goal_setting", employee_of(org["emp2"]).id, org["hr1"])
    task_ids = list(db.session.scalars(select(HumanTask.id)))
    case_ids = sorted({t.case_id for t in db.session.scalars(select(HumanTask))})
    token = _token(app.test_client(), username)
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    failures: list[str] = []
    calls: dict[str, int] = {}
    for result in schema.get_all_operations():
        _fuzz(result.ok(), token, task_ids, case_ids, calls, failures)
        db.session.rollback()
    assert failures == []
    # Schemathesis leaves out the document's own operation (fetched above to load it).
    assert set(calls) == {f"{m} {p}" for m, p in _document_operations(schema.raw_schema)} - {
        "GET /api/v1/openapi.json"}
    assert all(count >= 10 for count in calls.values()), calls


# What the property-based run found, pinned as plain specifications.


@pytest.fixture
def hr_headers(client, org) -> dict[str, str]:
    return {"Authorization": f"Bearer {_token(client, 'hr1')}"}


def test_times_in_api_answers_carry_their_utc_offset(client, org, hr_headers) -> None:
    case = client.post("/api/v1/cases", json={"process": "goal_setting", "subject": "KP-00003"},
                       headers=hr_headers).json
    assert case["started_at"].endswith("+00:00")
    assert all(e["occurred_at"].endswith("+00:00") for e in case["audit_events"])


@pytest.mark.parametrize("body", [
    {"process": "goal_setting", "subject": 2**40},
    {"process": "goal_setting", "subject": 0},
    {"process": "goal_setting", "subject": True},
])
def test_an_employee_id_out_of_range_is_a_validation_error(client, hr_headers, body) -> None:
    response = client.post("/api/v1/cases", json=body, headers=hr_headers)
    assert response.status_code == 422 and "subject" in response.json["errors"]


def test_bulk_refuses_ids_out_of_range_and_comments_that_are_not_text(client,
                                                                     hr_headers) -> None:
    too_big = client.post("/api/v1/tasks/bulk", json={"task_ids": [2**40], "action": "approve"},
                          headers=hr_headers)
    assert too_big.status_code == 422 and "task_ids" in too_big.json["errors"]
    listed = client.post("/api/v1/tasks/bulk",
                         json={"task_ids": [1], "action": "approve", "comment": ["x"]},
                         headers=hr_headers)
    assert listed.status_code == 422 and "comment" in listed.json["errors"]


def test_reassigning_to_a_user_id_out_of_range_asks_for_an_assignee(client, org,
                                                                    hr_headers) -> None:
    cases.start_case("goal_setting", employee_of(org["emp1"]).id, org["hr1"])
    task_id = db.session.scalar(select(HumanTask.id))
    response = client.post(f"/api/v1/tasks/{task_id}/reassign",
                           json={"to": 2**40, "reason": "transfer"}, headers=hr_headers)
    assert response.status_code == 422 and response.json["error"] == "Choose the assignee."


@pytest.mark.parametrize("query", ["unit=99999999999", "page=99999999999999999999",
                                   "due_before=9999-12-31"])
def test_queue_filters_out_of_range_fall_back_to_defaults(client, hr_headers, query) -> None:
    response = client.get(f"/api/v1/tasks?{query}", headers=hr_headers)
    assert response.status_code == 200 and "tasks" in response.json


def test_ids_beyond_the_database_range_in_a_path_are_not_found(client, hr_headers) -> None:
    assert client.get(f"/api/v1/tasks/{2**40}", headers=hr_headers).status_code == 404
    assert client.get(f"/api/v1/cases/{2**63}", headers=hr_headers).status_code == 404


@pytest.mark.parametrize("request_args", [
    {"path": "/api/v1/tokens", "json": {"username": "hr1\x00", "password": "x"}},
    {"path": "/api/v1/tasks?process=goal%00setting"},
    {"path": "/login", "data": {"username": "a\x00", "password": "b"}},
])
def test_text_with_nul_characters_is_refused_with_400(client, request_args) -> None:
    method = client.get if "json" not in request_args and "data" not in request_args \
        else client.post
    response = method(**request_args)
    assert response.status_code == 400
