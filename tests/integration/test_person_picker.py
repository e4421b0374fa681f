"""Choosing a colleague in an organisation of any size: forms take a username (or a suggestion
"Full Name (username)"), suggestions come twenty at a time from /people/lookup as one types, and
no page lists every user."""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import HumanTask, User
from app.services import users
from tests.helpers import csrf_token, login
from tests.org_factory import add_employees
from tests.queue_helpers import to_countersign


def test_suggestions_match_names_and_usernames_twenty_at_most(client, org) -> None:
    add_employees(30, prefix="MRD")  # "Employee MRD-00001" … with logins mrd00001 …
    login(client, "emp1")
    found = client.get("/people/lookup?q=mrd-000").get_json()
    assert len(found) == 20 and found[0] == {
        "username": "mrd00001", "name": "Employee MRD-00001",
        "label": "Employee MRD-00001 (mrd00001)"}
    assert [p["username"] for p in client.get("/people/lookup?q=NADIA").get_json()] == ["owner1"]
    assert [p["username"] for p in client.get("/people/lookup?q=owner").get_json()] == ["owner1"]
    assert client.get("/people/lookup?q=n").get_json() == []  # two letters at least


def test_suggestions_leave_out_inactive_logins_and_read_wildcards_literally(client, org) -> None:
    org["owner1"].active = False
    db.session.commit()
    login(client, "emp1")
    assert client.get("/people/lookup?q=nadia").get_json() == []
    assert client.get("/people/lookup?q=%25%25").get_json() == []  # "%%" matches no one
    assert users.find_colleagues("__") == []


def test_only_signed_in_people_look_colleagues_up(client, org) -> None:
    response = client.get("/people/lookup?q=nadia")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_absence_page_does_not_list_everyone(client, org) -> None:
    add_employees(300, prefix="MRD")
    login(client, "emp1")
    page = client.get("/absences").get_data(as_text=True)
    assert "Employee MRD-00300" not in page and "mrd00300" not in page
    assert 'data-person-lookup="/people/lookup"' in page and "<datalist" in page


def test_a_task_is_delegated_to_a_picked_suggestion(client, org) -> None:
    task = to_countersign(org)
    login(client, "cso1")
    token = csrf_token(client, f"/tasks/{task.id}/delegate")
    response = client.post(f"/tasks/{task.id}/delegate", data={
        "csrf_token": token, "delegate": "Nadia Shah (owner1)", "note": "Cover for me"})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(HumanTask, task.id).assignee_id == org["owner1"].id


def test_an_unknown_username_is_a_form_error_and_moves_nothing(client, org) -> None:
    task = to_countersign(org)
    login(client, "cso1")
    token = csrf_token(client, f"/tasks/{task.id}/delegate")
    response = client.post(f"/tasks/{task.id}/delegate", data={
        "csrf_token": token, "delegate": "nobody-here", "note": "Cover for me"})
    assert response.status_code == 400
    assert "No active user has that username" in response.get_data(as_text=True)
    assert 'value="nobody-here"' in response.get_data(as_text=True)  # what was typed stays
    db.session.expire_all()
    assert db.session.get(HumanTask, task.id).assignee_id == org["cso1"].id
    assert db.session.scalar(select(User.id).where(User.username == "nobody-here")) is None
