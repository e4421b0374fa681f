"""Who may do what, route by route: every rule in the app's URL map, for every kind of user
(anonymous, employee, reporting officer, HR, finance, process owner, auditor, administrator),
against a declared matrix. A route missing from the matrix fails the test, so a new route is
never unguarded by accident: whoever adds it declares who may use it.

Object-level rules ride along: the ids in the URLs are those of another person's case and task
(emp2's goal-setting case, whose open task belongs to ro1), an absence of emp1's, the demo
cycle; so an employee asking for a colleague's case, or HR for an officer's task, must be
refused.

Outcomes: "ok" (2xx, a redirect elsewhere than the sign-in page, or for a POST a 400/409/422:
the request was let in and judged on its content), "login" (anonymous: sent to sign in, or 401
in the API), "denied" (403, or 404 where existence itself is not to be revealed).
"""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from flask import Flask, g
from sqlalchemy import select

from app.clock import clock
from app.extensions import db
from app.models import Cycle, CycleStatus, HumanTask, OrgUnit, TaskStatus, User
from app.services import absences, auth, cases, cycles, modeler, process_models
from tests.conftest import employee_of
from tests.helpers import csrf_token, login
from tests.org_factory import cycle_input

ROLES = ["anonymous", "employee", "officer", "hr", "finance", "process_owner", "auditor",
         "admin"]
USERNAMES = {"employee": "emp1", "officer": "ro1", "hr": "hr1", "finance": "fin1",
             "process_owner": "owner1", "auditor": "auditor1", "admin": "admin"}
SIGNED_IN = frozenset(ROLES) - {"anonymous"}
EVERYONE = frozenset(ROLES)
NOBODY: frozenset[str] = frozenset()
HR_ADMIN = frozenset({"hr", "admin"})
OWNER_ADMIN = frozenset({"process_owner", "admin"})
AUDIT = frozenset({"auditor", "admin"})
# Auditors read everything and change nothing: every page that only reads is theirs too (GET),
# never a form that acts.
OWNER_ADMIN_AUDIT = OWNER_ADMIN | {"auditor"}
# Who may see emp2's case: its participants (ro1 holds its task), HR of the unit, auditors,
# administrators; not a colleague, finance or the process owner.
CASE_VIEWERS = frozenset({"officer", "hr", "auditor", "admin"})
TASK_HOLDER = frozenset({"officer"})  # ro1 holds the open task
REASSIGNERS = HR_ADMIN
DASHBOARD_READERS = frozenset({"hr", "auditor", "admin"})

# endpoint -> method -> the roles that get "ok". Everyone else: "login" when anonymous,
# "denied" when signed in.
MATRIX: dict[str, dict[str, frozenset[str]]] = {
    "static": {"GET": EVERYONE},
    "health.healthz": {"GET": EVERYONE},
    "auth.login": {"GET": EVERYONE, "POST": EVERYONE},
    "auth.second_factor": {"GET": NOBODY, "POST": NOBODY},  # see SIGN_IN_STEPS
    "auth.logout": {"POST": SIGNED_IN},
    "i18n.set_language": {"POST": EVERYONE},  # the language switcher, signed in or not
    "account.two_factor_page": {"GET": SIGNED_IN},
    "account.setup": {"POST": SIGNED_IN - {"employee", "process_owner", "auditor"}},
    "account.confirm": {"POST": SIGNED_IN},
    "account.disable": {"POST": SIGNED_IN},
    "tasks.home": {"GET": SIGNED_IN},
    "tasks.my_tasks": {"GET": SIGNED_IN},
    "tasks.task_detail": {"GET": TASK_HOLDER, "POST": TASK_HOLDER},
    "queues.queue": {"GET": SIGNED_IN},
    "queues.bulk": {"POST": SIGNED_IN},
    "queues.claim": {"POST": NOBODY},  # not a pool task: nobody can claim it
    "queues.unclaim": {"POST": NOBODY},
    "queues.delegate": {"GET": TASK_HOLDER, "POST": TASK_HOLDER},
    "queues.hand_back": {"POST": NOBODY},
    "queues.recall": {"POST": NOBODY},
    "queues.reassign": {"GET": REASSIGNERS, "POST": REASSIGNERS},
    "absences.absence_list": {"GET": SIGNED_IN, "POST": SIGNED_IN},
    "absences.cancel": {"POST": HR_ADMIN | {"employee"}},
    "absences.notification_settings": {"GET": SIGNED_IN, "POST": SIGNED_IN},
    "people.lookup": {"GET": SIGNED_IN},  # colleagues' names, as the person pickers suggest
    "people.employees": {"GET": SIGNED_IN},  # empty for whoever starts no cases
    "cases.case_list": {"GET": SIGNED_IN},
    "cases.new_case": {"GET": HR_ADMIN, "POST": HR_ADMIN},
    "cases.case_detail": {"GET": CASE_VIEWERS},
    "cases.case_report": {"GET": CASE_VIEWERS},
    "modeler.case_diagram": {"GET": CASE_VIEWERS},
    "calibration.calibration_list": {"GET": SIGNED_IN},
    # Calibration is HR's own work for its unit; administrators do not stand in.
    "calibration.calibration_detail": {"GET": frozenset({"hr"}), "POST": frozenset({"hr"})},
    "cycles.cycle_list": {"GET": HR_ADMIN | {"auditor"}},  # auditors read every cycle
    "cycles.new_cycle": {"GET": HR_ADMIN, "POST": HR_ADMIN},
    "cycles.cycle_detail": {"GET": HR_ADMIN | {"auditor"}},  # auditors read every cycle
    "cycles.edit_cycle": {"GET": HR_ADMIN, "POST": HR_ADMIN},
    "cycles.launch": {"POST": HR_ADMIN},
    "org_import.import_org": {"GET": HR_ADMIN, "POST": HR_ADMIN},
    "modeler.process_list": {"GET": OWNER_ADMIN_AUDIT},
    "modeler.modeler_page": {"GET": OWNER_ADMIN},
    "modeler.editing_xml": {"GET": OWNER_ADMIN},
    "modeler.options": {"GET": OWNER_ADMIN},
    "modeler.save_draft": {"POST": OWNER_ADMIN},
    "modeler.discard_draft": {"POST": OWNER_ADMIN},
    "modeler.validate_draft": {"POST": OWNER_ADMIN},
    "modeler.deploy": {"GET": OWNER_ADMIN, "POST": OWNER_ADMIN},
    "modeler.versions": {"GET": OWNER_ADMIN_AUDIT},
    "modeler.diff": {"GET": OWNER_ADMIN_AUDIT},
    "modeler.export_version": {"GET": OWNER_ADMIN_AUDIT},
    "modeler.rollback": {"POST": OWNER_ADMIN},
    "modeler.upload_process": {"POST": OWNER_ADMIN},
    "modeler.validate_decisions": {"POST": OWNER_ADMIN},
    # Dashboards: HR (of the demo department), auditors and administrators; unit heads too
    # (none among these users); never employees or officers as such.
    "dashboards.index": {"GET": DASHBOARD_READERS},
    "dashboards.cycle_dashboard": {"GET": DASHBOARD_READERS},
    "dashboards.export": {"GET": DASHBOARD_READERS},
    "audit.events": {"GET": AUDIT},
    "audit.export": {"GET": AUDIT},
    "audit.verify": {"POST": AUDIT},
    # The API (bearer tokens).
    "api.openapi_json": {"GET": EVERYONE},
    "api.create_token": {"POST": EVERYONE},
    "api.list_tasks": {"GET": SIGNED_IN},
    "api.get_task": {"GET": TASK_HOLDER},
    "api.complete_task": {"POST": TASK_HOLDER},
    "api.claim_task": {"POST": NOBODY},
    "api.unclaim_task": {"POST": NOBODY},
    "api.delegate_task": {"POST": TASK_HOLDER},
    "api.hand_back_task": {"POST": NOBODY},
    "api.recall_task": {"POST": NOBODY},
    "api.reassign_task": {"POST": REASSIGNERS},
    "api.bulk_tasks": {"POST": SIGNED_IN},
    "api.start_case": {"POST": HR_ADMIN},
    "api.get_case": {"GET": CASE_VIEWERS},
    "api.get_case_report": {"GET": CASE_VIEWERS},
}

# The code step of a two-step sign-in exists only between a right password and the code: without
# one pending, everybody is sent to sign in.
SIGN_IN_STEPS = {"auth.second_factor"}

CONVERTER = re.compile(r"<(?:[a-z_]+(?:\([^)]*\))?:)?([a-z_]+)>")


def _routes(app: Flask) -> list[tuple[str, str, str]]:
    """(endpoint, method, rule) for every route of the app."""
    return sorted((rule.endpoint, method, rule.rule) for rule in app.url_map.iter_rules()
                  for method in rule.methods - {"HEAD", "OPTIONS"})


def test_every_route_is_in_the_matrix_and_the_matrix_names_only_routes(app: Flask) -> None:
    served = {(endpoint, method) for endpoint, method, _ in _routes(app)}
    declared = {(endpoint, method) for endpoint, methods in MATRIX.items() for method in methods}
    assert served - declared == set(), "routes without a declared authorization rule"
    assert declared - served == set(), "the matrix names routes that do not exist"


@pytest.fixture
def world(org) -> dict[str, str]:
    """emp2's running case (its open task is ro1's), an absence of emp1's, the demo unit and
    cycle: the objects whose ids go into the URLs."""
    case = cases.start_case("goal_setting", employee_of(org["emp2"]).id, org["hr1"])
    task_id = db.session.scalar(select(HumanTask.id).where(HumanTask.case_id == case.id))
    now = clock.now()
    absence = absences.declare_absence(org["emp1"], org["emp1"].id, org["emp2"].id,
                                       now + timedelta(days=3), now + timedelta(days=5), "leave")
    unit_id = db.session.scalar(select(OrgUnit.id).where(OrgUnit.code == "KP-HEALTH"))
    cycle = cycles.create_cycle(org["hr1"], cycle_input())
    version = process_models.current_version("goal_setting")
    modeler.save_draft(org["owner1"], "goal_setting", version.bpmn_xml.encode("utf-8"))
    return {"task_id": str(task_id), "case_id": str(case.id), "absence_id": str(absence.id),
            "unit_id": str(unit_id), "cycle_id": str(cycle.id), "cycle_key": str(cycle.year),
            "process_key": "goal_setting", "number": "1", "fmt": "csv",
            "filename": "meezan.css", "employee_number": "KP-00003"}


def _url(rule: str, values: dict[str, str]) -> str:
    return CONVERTER.sub(lambda m: values[m.group(1)], rule)


def _outcome(endpoint: str, response, api: bool, flashes: list) -> str:  # noqa: ANN001
    status = response.status_code
    assert status < 500, f"server error {status}"
    if endpoint == "auth.logout" and status == 302 and ("info", "You are signed out.") in flashes:
        return "ok"
    if status == 401 or (status == 302 and not api
                         and urlsplit(response.headers["Location"]).path == "/login"):
        return "login"
    if status in (403, 404):
        return "denied"
    if status == 409 or (status == 302 and any(category == "error" for category, _ in flashes)):
        return "refused"  # turned away because of the object's state, or with a message
    return "ok"


def _body(endpoint: str, world: dict[str, str]) -> dict:
    """A plausible body, so a refusal is about who asks, not about a malformed request."""
    return {
        "api.complete_task": {"data": {"kpis": []}},
        "api.start_case": {"process": "goal_setting", "subject": world["employee_number"]},
        # Nobody by that name: whoever gets past the permission check gets a 422, and the task
        # stays where it is for the checks after this one.
        "api.delegate_task": {"to": "nobody-by-that-name", "note": "please"},
        "api.reassign_task": {"to": "nobody-by-that-name", "reason": "transfer"},
        "api.bulk_tasks": {"task_ids": [int(world["task_id"])], "action": "approve"},
        "api.create_token": {"username": "emp2", "password": "meezan-demo"},
    }.get(endpoint, {})


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_only_what_the_matrix_grants(app: Flask, world: dict[str, str],
                                                   role: str) -> None:
    client = app.test_client()
    token = None
    if role != "anonymous":
        login(client, USERNAMES[role])
        user = db.session.scalar(select(User).where(User.username == USERNAMES[role]))
        token, _ = auth.issue_token(user, 1)
    mismatches = []
    # Discarding the draft and signing out come last: they remove what other checks use.
    routes = sorted(_routes(app), key=lambda r: (r[0] == "auth.logout",
                                                 r[0] == "modeler.discard_draft"))
    for endpoint, method, rule in routes:
        url = _url(rule, world)
        api = rule.startswith("/api/")
        headers = {"Authorization": f"Bearer {token}"} if api and token else {}
        if method == "GET":
            response = client.get(url, headers=headers)
        elif api:
            response = client.post(url, json=_body(endpoint, world), headers=headers)
        else:
            g.pop("csrf_valid", None)  # test requests share `g`; a real request starts afresh
            response = client.post(url, data={"csrf_token": csrf_token(client, "/login")
                                              if role == "anonymous" else _token(client)},
                                   headers=headers)
        response.close()  # static files are streamed
        flashes = []
        if not api and response.status_code == 302:
            with client.session_transaction() as stored:
                flashes = stored.pop("_flashes", [])
        got = _outcome(endpoint, response, api, flashes)
        allowed = role in MATRIX.get(endpoint, {}).get(method, NOBODY)
        expected = "ok" if allowed else ("login" if role == "anonymous" else "denied")
        if endpoint in SIGN_IN_STEPS:
            expected = "login"
        if got == "refused":  # let in and judged on content, or turned away with a message
            got = "ok" if allowed else "denied"
        if got != expected:
            mismatches.append(f"{method} {url} ({endpoint}): expected {expected}, got {got} "
                              f"({response.status_code}) {flashes}")
    assert mismatches == []


def _token(client) -> str:  # noqa: ANN001
    return csrf_token(client, "/account/two-factor")


def test_people_reach_their_own_objects_and_not_their_colleagues(app: Flask, org) -> None:
    own = cases.start_case("goal_setting", employee_of(org["emp1"]).id, org["hr1"])
    other = cases.start_case("goal_setting", employee_of(org["emp2"]).id, org["hr1"])
    task_ids = dict(db.session.execute(select(HumanTask.case_id, HumanTask.id)).all())
    client = app.test_client()
    login(client, "emp1")
    assert client.get(f"/cases/{own.id}").status_code == 200
    assert client.get(f"/cases/{other.id}").status_code == 403
    assert client.get(f"/tasks/{task_ids[own.id]}").status_code == 403  # ro1's, about emp1
    token, _ = auth.issue_token(db.session.get(User, org["emp1"].id), 1)
    api = {"Authorization": f"Bearer {token}"}
    assert client.get(f"/api/v1/cases/{other.id}", headers=api).status_code == 403
    assert client.post(f"/api/v1/tasks/{task_ids[other.id]}/complete",
                       json={"data": {"kpis": []}}, headers=api).status_code == 403


# Refused to the auditor otherwise than by a 403: claiming or unclaiming a task that is not
# offered to a pool is refused to everybody for that (409), and the queue's and absence page's
# task moves flash their refusal and go back to the page instead of showing a 403 page.
REFUSED_BY_STATE = frozenset({"queues.claim", "queues.unclaim", "queues.hand_back",
                              "queues.recall", "api.claim_task", "api.unclaim_task",
                              "absences.cancel"})


def test_an_auditor_reads_cycles_and_process_versions_but_every_action_answers_403(
        app: Flask, world: dict[str, str], org) -> None:
    """Read-only everything: the auditor sees the cycle list and a cycle, the processes, a
    version's diagram (its XML) and the diff of two versions, without a single action button;
    every route that acts (or shows a form to act) answers 403 (those in REFUSED_BY_STATE are
    refused to everybody here, with a 409 or a flashed refusal), and nothing changed."""
    v1_xml = process_models.current_version("goal_setting").bpmn_xml.encode("utf-8")
    v2_xml = v1_xml.replace(b'name="Review scorecard"', b'name="Agree scorecard"')
    assert v2_xml != v1_xml
    modeler.save_draft(org["owner1"], "goal_setting", v2_xml)
    modeler.deploy_draft(org["owner1"], "goal_setting", "Agree, not review")
    modeler.save_draft(org["owner1"], "goal_setting", v1_xml)  # a draft the auditor cannot touch
    client = app.test_client()
    login(client, "auditor1")
    cycle_id = world["cycle_id"]

    listing = client.get("/cycles")
    assert listing.status_code == 200
    page = listing.get_data(as_text=True)
    assert f'href="/cycles/{cycle_id}"' in page
    assert 'href="/cycles/new"' not in page and "/org/import" not in page
    detail = client.get(f"/cycles/{cycle_id}")
    assert detail.status_code == 200
    page = detail.get_data(as_text=True)
    assert 'data-testid="launch-progress"' in page
    assert 'data-testid="launch-form"' not in page and f"/cycles/{cycle_id}/edit" not in page

    processes = client.get("/processes")
    assert processes.status_code == 200
    page = processes.get_data(as_text=True)
    assert "/processes/goal_setting/versions" in page
    assert "/modeler" not in page and "/processes/upload" not in page
    versions = client.get("/processes/goal_setting/versions")
    assert versions.status_code == 200
    page = versions.get_data(as_text=True)
    assert "/processes/goal_setting/versions/1.bpmn" in page
    assert "/rollback" not in page and "/modeler" not in page
    diagram = client.get("/processes/goal_setting/versions/1.bpmn")
    assert diagram.status_code == 200 and diagram.data == v1_xml
    diff = client.get("/processes/goal_setting/diff?old=1&new=2")
    assert diff.status_code == 200 and "Agree scorecard" in diff.get_data(as_text=True)

    user = db.session.scalar(select(User).where(User.username == "auditor1"))
    token, _ = auth.issue_token(user, 1)
    values = {**world, "number": "1"}
    not_granted = [(endpoint, method, rule) for endpoint, method, rule in _routes(app)
                   if "auditor" not in MATRIX[endpoint][method]
                   and endpoint not in SIGN_IN_STEPS]
    actions = [route for route in not_granted if route[1] == "POST"
               or route[0].split(".")[1] in {"new_cycle", "edit_cycle", "import_org",
                                             "modeler_page", "editing_xml", "options",
                                             "deploy", "new_case", "task_detail", "delegate",
                                             "reassign", "calibration_detail", "get_task"}]
    assert {"cycles.launch", "cycles.edit_cycle", "modeler.deploy", "modeler.rollback",
            "modeler.save_draft", "cases.new_case", "tasks.task_detail", "queues.claim",
            "api.complete_task"} <= {endpoint for endpoint, _m, _r in actions}
    answers, refusals = {}, {}
    for endpoint, method, rule in actions:
        url = _url(rule, values)
        if rule.startswith("/api/"):
            headers = {"Authorization": f"Bearer {token}"}
            response = (client.get(url, headers=headers) if method == "GET" else
                        client.post(url, json=_body(endpoint, world), headers=headers))
        elif method == "GET":
            response = client.get(url)
        else:
            g.pop("csrf_valid", None)
            response = client.post(url, data={"csrf_token": _token(client), "comment": "x"})
        flashes = []
        if response.status_code == 302:
            with client.session_transaction() as stored:
                flashes = stored.pop("_flashes", [])
        name = f"{method} {url} ({endpoint})"
        if endpoint in REFUSED_BY_STATE:
            refusals[name] = (response.status_code == 409
                              or any(category == "error" for category, _ in flashes))
        else:
            answers[name] = response.status_code
    assert {name: status for name, status in answers.items() if status != 403} == {}
    assert refusals and all(refusals.values()), refusals

    db.session.expire_all()
    assert [v.version for v in modeler.list_versions(org["owner1"], "goal_setting")] == [2, 1]
    assert db.session.get(Cycle, int(cycle_id)).status == CycleStatus.DRAFT
    assert modeler.modeler_view(org["owner1"], "goal_setting").draft is not None
    task = db.session.get(HumanTask, int(world["task_id"]))
    assert task.status == TaskStatus.OPEN and task.assignee_id == org["ro1"].id
