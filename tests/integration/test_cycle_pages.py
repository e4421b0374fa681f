"""The HR pages for cycles and org import: who may open them, CSRF on every form, the launch
running in the background while its page shows progress (without inline script), and the
import report."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from pathlib import Path

import pytest
from flask import g
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from app.clock import clock
from app.extensions import db
from app.models import Case, Cycle, CycleStatus, Employee, Role, User, UserRole
from app.services import cycles
from app.services.demo import DEMO_PASSWORD
from tests.helpers import csrf_token, login
from tests.org_factory import add_employees, add_unit, cycle_input, unit

DATA = Path(__file__).resolve().parents[1] / "data" / "org_import"
PAGES = ["/cycles", "/cycles/new", "/org/import"]


def _cycle(org) -> Cycle:  # noqa: ANN001
    return cycles.create_cycle(org["hr1"], cycle_input())


def _cases() -> int:
    return db.session.scalar(select(func.count(Case.id)))


def _form_data(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "name": "FY 2027-28", "year": "2027", "process_key": "goal_setting",
        "org_unit_ids": [str(unit("KP-HEALTH").id)], "starts_on": "2027-07-01",
        "mid_year_on": "2028-01-01", "interview_opens_on": "2028-06-01",
        "interview_closes_on": "2028-06-20", "ends_on": "2028-06-30",
        "incentive_cap_percent": "20", "budget": "2500000", "incentive_threshold_amount": "",
        "outstanding": "10", "very_good": "20", "good": "40", "average": "20",
        "below_average": "10",
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize("path", PAGES + ["/cycles/1", "/cycles/1/edit"])
def test_cycle_pages_need_a_signed_in_user(client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize("username", ["emp1", "ro1", "cso1", "fin1", "owner1"])
def test_cycle_and_import_pages_are_for_hr_and_admins(client, org, username: str) -> None:
    cycle = _cycle(org)
    login(client, username)
    for path in [*PAGES, f"/cycles/{cycle.id}", f"/cycles/{cycle.id}/edit"]:
        assert client.get(path).status_code == 403, path
    assert "Cycles" not in client.get("/tasks").get_data(as_text=True).split("<main>")[0]


def test_hr_of_another_department_can_neither_see_nor_launch_a_cycle(client, org) -> None:
    cycle = _cycle(org)
    education = add_unit("KP-EDU", "Elementary & Secondary Education", parent_code=None)
    other = User(username="hr_edu", full_name="Education HR")
    other.set_password(DEMO_PASSWORD)
    other.roles = [UserRole(role=Role.HR, org_unit_id=education.id)]
    db.session.add(other)
    db.session.commit()
    login(client, "hr_edu")
    before = cycles.background_launch(cycle.id)
    listing = client.get("/cycles").get_data(as_text=True)
    assert cycle.name not in listing and f"/cycles/{cycle.id}" not in listing
    assert "No performance cycles yet." in listing
    assert client.get(f"/cycles/{cycle.id}").status_code == 403
    token = csrf_token(client, "/cycles")
    assert client.post(f"/cycles/{cycle.id}/launch",
                       data={"csrf_token": token}).status_code == 403
    assert cycles.background_launch(cycle.id) is before and _cases() == 0


def test_hr_defines_a_cycle_with_the_form(client, org) -> None:
    login(client, "hr1")
    token = csrf_token(client, "/cycles/new")
    response = client.post("/cycles/new", data={**_form_data(), "csrf_token": token})
    assert response.status_code == 302
    cycle = db.session.scalar(select(Cycle).where(Cycle.name == "FY 2027-28"))
    assert response.headers["Location"].endswith(f"/cycles/{cycle.id}")
    assert (str(cycle.incentive_cap_percent), cycle.org_units[0].code) == ("20.00", "KP-HEALTH")
    page = client.get(f"/cycles/{cycle.id}").get_data(as_text=True)
    assert "20.00% of base pay" in page and "Launch cycle" in page


def test_the_form_says_why_a_cycle_was_refused(client, org) -> None:
    login(client, "hr1")
    token = csrf_token(client, "/cycles/new")
    response = client.post("/cycles/new", data={**_form_data(outstanding="30"),
                                                "csrf_token": token})
    assert response.status_code == 422
    assert "must add up to 100%" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Cycle.id))) == 0


def test_defining_a_cycle_needs_a_csrf_token(client, org) -> None:
    login(client, "hr1")
    assert client.post("/cycles/new", data=_form_data()).status_code == 400
    assert db.session.scalar(select(func.count(Cycle.id))) == 0


def test_launching_needs_a_csrf_token(client, org) -> None:
    cycle = _cycle(org)
    login(client, "hr1")
    before = cycles.background_launch(cycle.id)
    assert client.post(f"/cycles/{cycle.id}/launch").status_code == 400
    assert cycles.background_launch(cycle.id) is before
    assert cycle.status == CycleStatus.DRAFT


def test_launching_from_the_page_runs_in_the_background_then_shows_the_outcome(
    client, org
) -> None:
    add_employees(20)
    cycle = _cycle(org)
    login(client, "hr1")
    token = csrf_token(client, f"/cycles/{cycle.id}")
    response = client.post(f"/cycles/{cycle.id}/launch", data={"csrf_token": token})
    assert response.status_code == 302
    thread = cycles.background_launch(cycle.id)
    assert thread is not None
    thread.join(timeout=120)
    assert not thread.is_alive()
    assert _cases() == 22
    db.session.expire_all()  # the test shares its session with the requests it makes
    page = client.get(f"/cycles/{cycle.id}").get_data(as_text=True)
    assert "<strong>100%</strong>" in page
    assert "22 cases started, 5 employees not launched" in page
    assert "Farah Qureshi has no reporting officer" in page
    assert 'http-equiv="refresh"' not in page


def test_a_running_launch_page_refreshes_itself_without_inline_script(client, org) -> None:
    cycle = _cycle(org)
    cycle.status, cycle.in_scope_count = CycleStatus.LAUNCHING, 40
    cycle.launch_heartbeat_at = clock.now()
    db.session.commit()
    login(client, "hr1")
    response = client.get(f"/cycles/{cycle.id}")
    page = response.get_data(as_text=True)
    assert '<meta http-equiv="refresh" content="3">' in page
    assert "Launching…" in page and 'data-testid="launch-form"' not in page
    assert not re.search(r"<script(?![^>]*\bsrc=)", page)  # no inline script
    assert "script-src" not in response.headers["Content-Security-Policy"]  # default-src 'self'


def test_a_launch_that_stopped_can_be_resumed_from_its_page(client, org) -> None:
    cycle = _cycle(org)
    cycle.status, cycle.in_scope_count = CycleStatus.LAUNCHING, 7
    cycle.launch_heartbeat_at = clock.now() - cycles.STALLED_AFTER - timedelta(seconds=5)
    db.session.commit()
    login(client, "hr1")
    page = client.get(f"/cycles/{cycle.id}").get_data(as_text=True)
    assert "The launch stopped before it finished" in page and "Resume launch" in page
    token = csrf_token(client, f"/cycles/{cycle.id}")
    client.post(f"/cycles/{cycle.id}/launch", data={"csrf_token": token})
    cycles.background_launch(cycle.id).join(timeout=60)
    db.session.expire_all()
    assert cycle.status == CycleStatus.LAUNCHED and _cases() == 2


def test_a_second_launch_while_one_is_running_is_refused(client, org) -> None:
    cycle = _cycle(org)
    cycle.status, cycle.launch_heartbeat_at = CycleStatus.LAUNCHING, clock.now()
    db.session.commit()
    login(client, "hr1")
    before = cycles.background_launch(cycle.id)
    token = csrf_token(client, "/cycles")
    response = client.post(f"/cycles/{cycle.id}/launch", data={"csrf_token": token},
                           follow_redirects=True)
    assert "is already being launched" in response.get_data(as_text=True)
    assert cycles.background_launch(cycle.id) is before


def test_a_launched_cycle_can_no_longer_be_edited(client, org) -> None:
    cycle = _cycle(org)
    cycles.launch_cycle(cycle.id, org["hr1"])
    login(client, "hr1")
    assert "Edit" not in client.get(f"/cycles/{cycle.id}").get_data(as_text=True).split(
        "<h1>")[1].split("</div>")[0]
    token = csrf_token(client, f"/cycles/{cycle.id}/edit")
    response = client.post(f"/cycles/{cycle.id}/edit", data={
        **_form_data(name=cycle.name, incentive_cap_percent="35"), "csrf_token": token})
    assert response.status_code == 409
    assert "same maximum incentive" in response.get_data(as_text=True)
    db.session.expire_all()
    assert str(cycle.incentive_cap_percent) == "20.00"


# --- the import page --------------------------------------------------------------------------


def _upload(client, data: bytes, name: str, **fields: str):  # noqa: ANN001, ANN202
    token = csrf_token(client, "/org/import")
    # Encoded in memory: the test client would spool a large body to a temporary file it never
    # closes (a ResourceWarning the garbage collector reports in some later test).
    boundary, body = encode_multipart(MultiDict({
        "file": FileStorage(io.BytesIO(data), filename=name, content_type="text/csv"),
        "csrf_token": token, **fields}))
    return client.post("/org/import", data=body,
                       content_type=f"multipart/form-data; boundary={boundary}")


def test_hr_uploads_a_valid_org_file(client, org) -> None:
    login(client, "hr1")
    response = _upload(client, (DATA / "valid_department.csv").read_bytes(), "dept.csv")
    assert response.status_code == 200
    assert "Imported 4 rows: 3 created, 1 updated" in response.get_data(as_text=True)
    assert db.session.scalar(select(Employee).where(Employee.employee_number == "PSH-00010"))


def test_an_upload_with_rejected_rows_imports_nothing_and_lists_them(client, org) -> None:
    login(client, "hr1")
    before = db.session.scalar(select(func.count(Employee.id)))
    response = _upload(client, (DATA / "rejected_rows.csv").read_bytes(), "dept.csv")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "8 of 9 rows rejected; nothing was imported." in page
    assert "unknown unit &#39;KP-NOWHERE&#39;" in page
    assert db.session.scalar(select(func.count(Employee.id))) == before


def test_an_upload_needs_a_csrf_token(client, org) -> None:
    """The form checks the token itself (the view raises the size limit before reading the
    body, so the global check is not the one that runs)."""
    login(client, "hr1")
    g.pop("csrf_valid", None)  # the test's app context (and g) outlives the login request
    response = client.post("/org/import", content_type="multipart/form-data", data={
        "file": (io.BytesIO((DATA / "valid_department.csv").read_bytes()), "dept.csv")})
    assert response.status_code == 400
    assert db.session.scalar(select(Employee).where(
        Employee.employee_number == "PSH-00010")) is None


def test_a_department_sized_file_above_the_apps_2_mb_limit_can_be_checked(client, org) -> None:
    header = (DATA / "valid_department.csv").read_text().splitlines()[0]
    lines = [header] + [
        f"BIG-{i:06d},Person number {i} of a large department,14,65000,KP-HEALTH-PSH,"
        f"KP-00002,KP-00001,person{i}@health.kp.example,Clerk of the district office,no"
        for i in range(26_000)
    ]
    data = ("\n".join(lines) + "\n").encode()
    assert len(data) > 2 * 1024 * 1024
    login(client, "hr1")
    response = _upload(client, data, "big.csv", dry_run="y")
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert "All 26000 rows are valid" in response.get_data(as_text=True)
