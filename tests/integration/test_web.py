"""The web layer: sign-in, CSRF on every form, who may open what, and bad input re-rendered."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, AuditEventType, Case, HumanTask, TaskStatus
from app.services import cases
from tests.conftest import employee_of
from tests.helpers import csrf_token, good_scorecard, login, logout, scorecard_formdata


@pytest.fixture
def case(org) -> Case:  # noqa: ANN001
    return cases.start_case("goal_setting", employee_of(org["emp1"]).id, org["hr1"])


def _open_task(case_id: int) -> HumanTask:
    db.session.expire_all()
    return db.session.scalar(select(HumanTask).where(
        HumanTask.case_id == case_id, HumanTask.status == TaskStatus.OPEN))


@pytest.mark.parametrize("path", ["/", "/tasks", "/cases", "/cases/new", "/cases/1", "/tasks/1"])
def test_pages_need_a_signed_in_user(client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_wrong_password_re_renders_the_login_form(client, org) -> None:
    token = csrf_token(client, "/login")
    response = client.post("/login", data={"username": "emp1", "password": "nope",
                                           "csrf_token": token})
    assert response.status_code == 401
    assert "Wrong username or password" in response.get_data(as_text=True)
    failed = db.session.scalar(select(AuditEvent).where(
        AuditEvent.event_type == AuditEventType.USER_LOGIN_FAILED))
    assert failed.details["username"] == "emp1"


def test_passwords_are_stored_hashed(org) -> None:
    assert all(not u.password_hash.startswith("meezan") and ":" in u.password_hash
               for u in org.values())


def test_a_post_without_csrf_token_is_refused(client, org) -> None:
    response = client.post("/login", data={"username": "emp1", "password": "meezan-demo"})
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True) or "expired" in response.get_data(as_text=True)


def test_completing_a_task_without_csrf_token_is_refused(client, org, case) -> None:
    login(client, "ro1")
    task = _open_task(case.id)
    response = client.post(f"/tasks/{task.id}", data=scorecard_formdata(good_scorecard()))
    assert response.status_code == 400
    assert _open_task(case.id).id == task.id


def test_login_ignores_an_offsite_next_url(client, org) -> None:
    token = csrf_token(client, "/login")
    response = client.post("/login?next=https://evil.example/", data={
        "username": "emp1", "password": "meezan-demo", "csrf_token": token})
    assert response.headers["Location"] == "/tasks"


def test_my_tasks_lists_only_my_actionable_tasks(client, org, case) -> None:
    login(client, "ro1")
    page = client.get("/tasks").get_data(as_text=True)
    assert "Design scorecard" in page and "Ayesha Khan" in page
    client.post("/logout", data={"csrf_token": csrf_token(client, "/tasks")})
    login(client, "emp1")
    page = client.get("/tasks").get_data(as_text=True)
    assert "Design scorecard" not in page and "Nothing is waiting for you" in page


@pytest.mark.parametrize("username", ["emp1", "emp2", "cso1", "hr1", "fin1", "admin"])
def test_only_the_assignee_may_open_or_complete_a_task(client, org, case, username) -> None:
    task = _open_task(case.id)
    login(client, username)
    assert client.get(f"/tasks/{task.id}").status_code == 403
    token = csrf_token(client, "/tasks")
    response = client.post(f"/tasks/{task.id}",
                           data={**scorecard_formdata(good_scorecard()), "csrf_token": token})
    assert response.status_code == 403
    assert _open_task(case.id).id == task.id


def test_an_unknown_task_is_404(client, org) -> None:
    login(client, "ro1")
    assert client.get("/tasks/999999").status_code == 404


def test_bad_scorecard_re_renders_with_messages_and_keeps_the_input(client, org, case) -> None:
    task = _open_task(case.id)
    login(client, "ro1")
    token = csrf_token(client, f"/tasks/{task.id}")
    bad = good_scorecard()
    bad[2]["kind"] = "quantity"
    bad[1]["weight"] = "twenty"
    response = client.post(f"/tasks/{task.id}",
                           data={**scorecard_formdata(bad), "csrf_token": token})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Not a valid integer value" in page
    assert 'value="Children fully immunised"' in page and 'value="twenty"' in page
    assert _open_task(case.id).id == task.id


def test_the_reporting_officer_designs_and_the_case_moves_to_the_employee(client, org, case):  # noqa: ANN201
    task = _open_task(case.id)
    login(client, "ro1")
    token = csrf_token(client, f"/tasks/{task.id}")
    blank = {"name": "", "kind": "", "unit": "", "target": "", "weight": ""}
    response = client.post(f"/tasks/{task.id}", data={
        **scorecard_formdata([*good_scorecard(), blank]), "csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/cases/{case.id}"
    nxt = _open_task(case.id)
    assert (nxt.task_name, nxt.assignee_id) == ("review_scorecard", org["emp1"].id)
    assert client.get(f"/tasks/{task.id}").status_code == 409  # done; cannot be reopened


def test_sending_back_without_a_comment_re_renders(client, org, case) -> None:
    from app.services import tasks
    from forms import formdata_from_json

    tasks.complete_task(org["ro1"], _open_task(case.id).id,
                        formdata_from_json({"kpis": good_scorecard()}))
    review = _open_task(case.id)
    login(client, "emp1")
    page = client.get(f"/tasks/{review.id}").get_data(as_text=True)
    assert "Children fully immunised" in page  # the employee sees the scorecard
    token = csrf_token(client, f"/tasks/{review.id}")
    response = client.post(f"/tasks/{review.id}", data={"decision": "return", "comment": "",
                                                        "csrf_token": token})
    assert response.status_code == 422
    assert "a comment is required" in response.get_data(as_text=True)


@pytest.mark.parametrize("username, status", [
    ("emp1", 200), ("ro1", 200), ("cso1", 200), ("hr1", 200), ("admin", 200),
    ("emp2", 403), ("fin1", 403), ("owner1", 403),
])
def test_case_page_is_for_participants_hr_and_admins(client, org, case, username, status) -> None:
    login(client, username)
    response = client.get(f"/cases/{case.id}")
    assert response.status_code == status
    if status == 200:
        page = response.get_data(as_text=True)
        assert "Design scorecard" in page and "Imran Khattak" in page  # step and assignee
        assert "started Goal setting (version 1)" in page


@pytest.mark.parametrize("username", ["emp1", "ro1", "cso1", "fin1", "owner1"])
def test_only_hr_and_admins_may_start_cases(client, org, username) -> None:
    login(client, username)
    assert client.get("/cases/new").status_code == 403


def test_hr_starts_a_case_from_the_form(client, org) -> None:
    login(client, "hr1")
    token = csrf_token(client, "/cases/new")
    emp1 = employee_of(org["emp1"])
    response = client.post("/cases/new", data={  # as picked from the suggestions
        "process_key": "goal_setting", "csrf_token": token,
        "subject": f"{emp1.full_name} — {emp1.designation} ({emp1.employee_number})"})
    assert response.status_code == 302
    case = db.session.scalar(select(Case))
    assert case.subject_employee_id == emp1.id and case.started_by_id == org["hr1"].id


def test_hr_cannot_start_a_case_about_themselves_or_an_unknown_number(client, org) -> None:
    login(client, "hr1")
    token = csrf_token(client, "/cases/new")
    response = client.post("/cases/new", data={
        "process_key": "goal_setting", "csrf_token": token,
        "subject": employee_of(org["hr1"]).employee_number})
    assert response.status_code == 403
    assert "never about themselves" in response.get_data(as_text=True)
    unknown = client.post("/cases/new", data={
        "process_key": "goal_setting", "subject": "KP-99999", "csrf_token": token})
    assert unknown.status_code == 400
    assert "No employee has that number" in unknown.get_data(as_text=True)
    assert db.session.scalar(select(Case)) is None


def test_the_start_form_suggests_only_employees_hr_may_start_a_case_about(client, org) -> None:
    from tests.org_factory import add_employees, add_unit

    add_employees(25, prefix="MRD")  # in a district of the Health department (hr1's)
    add_unit("KP-EDU", "Elementary & Secondary Education", parent_code=None)
    add_employees(3, unit_code="KP-EDU-1", unit_name="Education office", parent_code="KP-EDU",
                  prefix="EDU")
    login(client, "hr1")
    found = client.get("/people/employees?q=employee").get_json()
    assert len(found) == 20 and all(p["number"].startswith("MRD-") for p in found)
    assert client.get("/people/employees?q=EDU-000").get_json() == []  # another department
    own = employee_of(org["hr1"]).employee_number
    assert client.get(f"/people/employees?q={own}").get_json() == []  # never themselves
    assert [p["number"] for p in client.get("/people/employees?q=mrd-00025").get_json()] == [
        "MRD-00025"]
    logout(client)
    login(client, "emp1")
    assert client.get("/people/employees?q=employee").get_json() == []  # starts no cases
