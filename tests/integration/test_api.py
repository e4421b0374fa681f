"""The JSON API: bearer tokens, my tasks, task forms, completion (200/422/403/409), cases."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from app.extensions import db
from app.models import ApiToken, HumanTask, TaskStatus
from app.services.demo import DEMO_PASSWORD
from tests.helpers import good_scorecard


def _token(client: FlaskClient, username: str) -> dict[str, str]:
    response = client.post("/api/v1/tokens", json={"username": username,
                                                    "password": DEMO_PASSWORD})
    assert response.status_code == 201, response.json
    return {"Authorization": f"Bearer {response.json['token']}"}


@pytest.fixture
def started(client, org):  # noqa: ANN001, ANN201
    response = client.post("/api/v1/cases", json={"process": "goal_setting", "subject": "KP-00003"},
                           headers=_token(client, "hr1"))
    assert response.status_code == 201, response.json
    return response.json


def _open_task_id(case_id: int) -> int:
    db.session.expire_all()
    return db.session.scalar(select(HumanTask.id).where(
        HumanTask.case_id == case_id, HumanTask.status == TaskStatus.OPEN))


def test_a_token_is_issued_for_good_credentials_and_stored_only_as_a_hash(client, org) -> None:
    response = client.post("/api/v1/tokens", json={"username": "emp1", "password": DEMO_PASSWORD})
    assert response.status_code == 201
    token = response.json["token"]
    stored = db.session.scalar(select(ApiToken))
    assert stored.token_hash != token and len(stored.token_hash) == 64


@pytest.mark.parametrize("body, status", [
    ({"username": "emp1", "password": "wrong"}, 401),
    ({"username": "nobody", "password": "x"}, 401),
    ({"username": "emp1"}, 422),
])
def test_bad_credentials_get_a_json_error(client, org, body, status) -> None:
    response = client.post("/api/v1/tokens", json=body)
    assert response.status_code == status
    assert response.is_json and response.json["error"]


def test_a_body_that_is_not_json_is_a_400(client, org) -> None:
    response = client.post("/api/v1/tokens", data="username=emp1",
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400 and "JSON object" in response.json["error"]


@pytest.mark.parametrize("header", [None, "Bearer nonsense", "Basic ZW1wMTpw"])
def test_the_api_needs_a_valid_bearer_token(client, org, header) -> None:
    headers = {"Authorization": header} if header else {}
    response = client.get("/api/v1/tasks", headers=headers)
    assert response.status_code == 401 and response.is_json


def test_an_unknown_api_route_answers_json(client, org) -> None:
    response = client.get("/api/v1/nothing-here", headers=_token(client, "emp1"))
    assert response.status_code == 404 and response.is_json


def test_starting_a_case_returns_it_with_its_open_task(started) -> None:
    assert started["status"] == "running" and started["process"] == "goal_setting"
    assert started["subject"]["employee_number"] == "KP-00003"
    [task] = started["open_tasks"]
    assert (task["name"], task["assignee"]) == ("design_scorecard", "ro1")
    assert [e["type"] for e in started["audit_events"]] == ["case_started", "task_assigned"]


@pytest.mark.parametrize("body, status", [
    ({"process": "goal_setting", "subject": "KP-00003"}, 403),  # as emp2: not HR
    ({"process": "goal_setting"}, 422),
    ({"process": "no_such_process", "subject": "KP-00003"}, 404),
    ({"process": "goal_setting", "subject": "KP-99999"}, 404),
])
def test_starting_a_case_errors(client, org, body, status) -> None:
    user = "emp2" if status == 403 else "hr1"
    response = client.post("/api/v1/cases", json=body, headers=_token(client, user))
    assert response.status_code == status and response.json["error"]


def test_my_tasks_and_the_task_form(client, started) -> None:
    ro1 = _token(client, "ro1")
    [task] = client.get("/api/v1/tasks", headers=ro1).json["tasks"]
    assert task["title"] == "Design scorecard" and task["subject"] == "Ayesha Khan"
    detail = client.get(f"/api/v1/tasks/{task['id']}", headers=ro1).json
    assert detail["form"]["key"] == "scorecard_design"
    assert detail["form"]["fields"][0]["name"] == "kpis"
    assert detail["case_data"]["subject"]["employee_number"] == "KP-00003"
    assert client.get("/api/v1/tasks", headers=_token(client, "emp1")).json["tasks"] == []


def test_completing_with_bad_data_is_422_with_field_errors(client, started) -> None:
    task_id = started["open_tasks"][0]["id"]
    bad = good_scorecard()[:2]
    response = client.post(f"/api/v1/tasks/{task_id}/complete", json={"data": {"kpis": bad}},
                           headers=_token(client, "ro1"))
    assert response.status_code == 422
    assert "3 to 8 KPIs" in response.json["errors"]["kpis"][0]
    assert _open_task_id(started["id"]) == task_id


def test_completing_without_a_data_object_is_400(client, started) -> None:
    task_id = started["open_tasks"][0]["id"]
    response = client.post(f"/api/v1/tasks/{task_id}/complete", json={"kpis": []},
                           headers=_token(client, "ro1"))
    assert response.status_code == 400


@pytest.mark.parametrize("username", ["emp1", "cso1", "hr1", "admin"])
def test_completing_someone_elses_task_is_403(client, started, username) -> None:
    task_id = started["open_tasks"][0]["id"]
    response = client.post(f"/api/v1/tasks/{task_id}/complete",
                           json={"data": {"kpis": good_scorecard()}},
                           headers=_token(client, username))
    assert response.status_code == 403
    assert client.get(f"/api/v1/tasks/{task_id}",
                      headers=_token(client, username)).status_code == 403


def test_completing_twice_is_409(client, started) -> None:
    task_id = started["open_tasks"][0]["id"]
    ro1 = _token(client, "ro1")
    body = {"data": {"kpis": good_scorecard()}}
    first = client.post(f"/api/v1/tasks/{task_id}/complete", json=body, headers=ro1)
    assert first.status_code == 200 and first.json["task"]["status"] == "completed"
    second = client.post(f"/api/v1/tasks/{task_id}/complete", json=body, headers=ro1)
    assert second.status_code == 409 and "already" in second.json["error"]


def test_the_whole_flow_over_the_api(client, started) -> None:
    case_id = started["id"]
    steps = [
        ("ro1", {"kpis": good_scorecard()}),
        ("emp1", {"decision": "agree"}),
        ("cso1", {"decision": "approve", "comment": "Good balance"}),
    ]
    for username, data in steps:
        task_id = _open_task_id(case_id)
        response = client.post(f"/api/v1/tasks/{task_id}/complete", json={"data": data},
                               headers=_token(client, username))
        assert response.status_code == 200, response.json
    case = client.get(f"/api/v1/cases/{case_id}", headers=_token(client, "emp1")).json
    assert case["status"] == "completed" and case["open_tasks"] == []
    assert case["data"]["countersign_comment"] == "Good balance"
    completions = [e for e in case["audit_events"] if e["type"] == "task_completed"]
    assert [e["actor"] for e in completions] == ["ro1", "emp1", "cso1"]


@pytest.mark.parametrize("username, status", [
    ("emp1", 200), ("ro1", 200), ("hr1", 200), ("emp2", 403), ("fin1", 403)])
def test_case_visibility_over_the_api(client, started, username, status) -> None:
    response = client.get(f"/api/v1/cases/{started['id']}", headers=_token(client, username))
    assert response.status_code == status


def test_an_unknown_case_is_404(client, org) -> None:
    assert client.get("/api/v1/cases/424242", headers=_token(client, "hr1")).status_code == 404
