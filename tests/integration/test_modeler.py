"""Process owners edit diagrams: drafts, validation with element ids, deploy, versions, diff,
rollback, export, impact, DMN checks, and the case diagram — through the services and the web."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.extensions import db
from app.models import (
    AuditEvent,
    AuditEventType,
    Case,
    CaseStatus,
    HumanTask,
    ProcessDraft,
    ProcessVersion,
    TaskStatus,
    User,
)
from app.services import cases, modeler, process_models, tasks
from app.services.diagram_diff import diff_diagrams
from app.services.errors import Conflict, PermissionDenied, ValidationFailed
from forms import formdata_from_json
from tests.conftest import employee_of
from tests.helpers import good_scorecard, login

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
V1 = (ROOT / "workflows" / "goal_setting.bpmn").read_bytes()
V2 = (DATA / "goal_setting_v2" / "goal_setting.bpmn").read_bytes()
_PAGE_TOKEN = re.compile(r'data-csrf-token="([^"]+)"')


# ---- helpers ---------------------------------------------------------------------------------


def _start(org: dict[str, User], subject: str) -> Case:
    return cases.start_case("goal_setting", employee_of(org[subject]).id, org["hr1"])


def _open(case_id: int) -> list[HumanTask]:
    db.session.expire_all()
    return [t for t in db.session.get(Case, case_id).tasks if t.status == TaskStatus.OPEN]


def _complete_open(org: dict[str, User], case_id: int, data: dict) -> str:
    """Complete the case's one open task as its assignee; return the task's name."""
    [task] = _open(case_id)
    assignee = db.session.get(User, task.assignee_id)
    tasks.complete_task(assignee, task.id, formdata_from_json(data))
    return task.task_name


def _deploy_v2(org: dict[str, User]) -> ProcessVersion:
    modeler.save_draft(org["owner1"], "goal_setting", V2)
    return modeler.deploy_draft(org["owner1"], "goal_setting", "Officer checks the design")


def _page_token(client: FlaskClient, process_key: str = "goal_setting") -> str:
    page = client.get(f"/processes/{process_key}/modeler")
    assert page.status_code == 200, page.status_code
    match = _PAGE_TOKEN.search(page.get_data(as_text=True))
    assert match
    return match.group(1)


def _post_json(client: FlaskClient, path: str, body: dict, token: str | None):  # noqa: ANN202
    headers = {"X-CSRFToken": token} if token else {}
    return client.post(path, data=json.dumps(body), content_type="application/json",
                       headers=headers)


def _form_token(client: FlaskClient, path: str) -> str:
    page = client.get(path)
    match = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"',
                      page.get_data(as_text=True))
    assert match, f"no CSRF token on {path} ({page.status_code})"
    return match.group(1)


# ---- validation: every problem with its element id -------------------------------------------


@pytest.mark.parametrize(
    "fixture, element_ids, fragment",
    [
        ("unknown_form/unknown_form.bpmn", {"ask"}, "no_such_form"),
        ("missing_form/no_form_key.bpmn", {"ask"}, "names form None"),
        ("unknown_lane/unknown_lane.bpmn", {"ask", "Lane_1"}, "janitor"),
        ("bad_due_days/not_a_number.bpmn", {"ask"}, "next week"),
        ("unsafe_condition/syntax_error.bpmn", {"choose"}, "x =="),
        ("unsafe_condition/dunder_condition.bpmn", {"choose"}, "__class__"),
        ("malicious_script/import_os.bpmn", {"compute"}, "import"),
        ("malicious_script/dunder_escape.bpmn", {"compute"}, "__subclasses__"),
        ("malicious_script/open_file.bpmn", {"compute"}, "open"),
        ("schema_invalid/unknown_attribute.bpmn", {"ask"}, "colour"),
    ],
)
def test_each_broken_diagram_is_refused_with_the_element_id(
    fixture: str, element_ids: set[str], fragment: str
) -> None:
    report = modeler.check_diagram((DATA / fixture).read_bytes(), fixture, None)
    assert not report.valid
    assert {p.element_id for p in report.problems} == element_ids
    assert any(fragment in p.message for p in report.problems)


def test_every_problem_of_a_diagram_is_reported_not_just_the_first() -> None:
    fixture = DATA / "several_problems" / "several_problems.bpmn"
    report = modeler.check_diagram(fixture.read_bytes(), fixture.name, None)
    by_element = {p.element_id: p.message for p in report.problems}
    assert set(by_element) == {"compute", "choose", "ask", "sweep", "Lane_janitor"}
    assert "import" in by_element["compute"]
    assert "__class__" in by_element["choose"]
    assert "leave_request" in by_element["ask"]
    assert "janitor" in by_element["sweep"] and "janitor" in by_element["Lane_janitor"]


def test_a_diagram_with_external_entities_is_refused_before_parsing() -> None:
    report = modeler.check_diagram((DATA / "xxe" / "external_entity.bpmn").read_bytes(), "x", None)
    assert not report.valid
    assert "DTD" in report.problems[0].message


def test_the_editor_of_one_process_refuses_a_diagram_of_another() -> None:
    report = modeler.check_diagram(V1, "goal_setting.bpmn", "appraisal")
    assert not report.valid
    assert report.problems[0].element_id == "goal_setting"


def test_the_valid_fixtures_and_the_workflows_pass() -> None:
    for path in [DATA / "valid_minimal" / "fixture_process.bpmn", ROOT / "workflows" /
                 "goal_setting.bpmn", DATA / "goal_setting_v2" / "goal_setting.bpmn"]:
        report = modeler.check_diagram(path.read_bytes(), path.name, None)
        assert report.valid, report.problems


# ---- drafts through the web (JSON with the CSRF header) --------------------------------------


def test_owner_saves_and_validates_a_draft_and_sees_each_problem_with_its_element(
    org: dict[str, User], client: FlaskClient
) -> None:
    login(client, "owner1")
    token = _page_token(client)
    broken = V1.replace(b'value="scorecard_review"', b'value="no_such_form"').replace(
        b'name="employee"', b'name="intern"')
    saved = _post_json(client, "/processes/goal_setting/draft", {"xml": broken.decode()}, token)
    assert saved.status_code == 200, saved.get_json()
    draft = db.session.scalar(select(ProcessDraft))
    assert (draft.process_key, draft.updated_by_id) == ("goal_setting", org["owner1"].id)
    assert draft.base_version_id == process_models.current_version("goal_setting").id

    report = _post_json(client, "/processes/goal_setting/draft/validate", {}, token)
    assert report.status_code == 200
    body = report.get_json()
    assert body["valid"] is False
    assert {p["element_id"] for p in body["problems"]} == {"review_scorecard", "Lane_employee"}

    # The modeler now opens the draft, not the version.
    assert b"no_such_form" in client.get("/processes/goal_setting/diagram.bpmn").data


def test_json_posts_without_the_csrf_header_are_refused(
    org: dict[str, User], client: FlaskClient
) -> None:
    login(client, "owner1")
    response = _post_json(client, "/processes/goal_setting/draft", {"xml": V1.decode()}, None)
    assert response.status_code == 400
    assert db.session.scalar(select(func.count(ProcessDraft.id))) == 0


@pytest.mark.parametrize(
    "xml, fragment",
    [
        ((DATA / "xxe" / "external_entity.bpmn").read_bytes(), "DTD"),
        (b"<bpmn:definitions", "Not well-formed"),
        (V1.replace(b"</bpmn:definitions>", b"<!--" + b"x" * (1024 * 1024) + b"-->"
                    b"</bpmn:definitions>"), "larger than"),
    ],
    ids=["xxe", "malformed", "too-large"],
)
def test_unsafe_or_oversized_saves_are_refused_and_nothing_is_stored(
    org: dict[str, User], client: FlaskClient, xml: bytes, fragment: str
) -> None:
    login(client, "owner1")
    token = _page_token(client)
    response = _post_json(client, "/processes/goal_setting/draft", {"xml": xml.decode()}, token)
    assert response.status_code == 422
    assert fragment in response.get_json()["error"]
    assert db.session.scalar(select(func.count(ProcessDraft.id))) == 0


@pytest.mark.parametrize("username", ["hr1", "ro1", "emp1", "fin1"])
def test_only_process_owners_and_admins_reach_the_modeler(
    org: dict[str, User], client: FlaskClient, username: str
) -> None:
    login(client, username)
    for path in ("/processes", "/processes/goal_setting/modeler",
                 "/processes/goal_setting/diagram.bpmn", "/processes/goal_setting/versions",
                 "/processes/goal_setting/versions/1.bpmn", "/processes/goal_setting/deploy",
                 "/processes/options.json"):
        assert client.get(path).status_code == 403, path
    token = _form_token(client, "/tasks")
    assert _post_json(client, "/processes/goal_setting/draft", {"xml": V1.decode()},
                      token).status_code == 403
    assert _post_json(client, "/processes/goal_setting/draft/validate", {},
                      token).status_code == 403
    for path in ("/processes/goal_setting/deploy",
                 "/processes/goal_setting/versions/1/rollback"):
        response = client.post(path, data={"csrf_token": token, "comment": "mine now"})
        assert response.status_code == 403, path
    assert process_models.current_version("goal_setting").version == 1
    assert db.session.scalar(select(func.count(ProcessDraft.id))) == 0


def test_services_refuse_non_owners_too(org: dict[str, User]) -> None:
    with pytest.raises(PermissionDenied):
        modeler.save_draft(org["hr1"], "goal_setting", V2)
    modeler.save_draft(org["owner1"], "goal_setting", V2)
    for call in (lambda: modeler.validate_draft(org["ro1"], "goal_setting"),
                 lambda: modeler.deploy_draft(org["ro1"], "goal_setting", "x"),
                 lambda: modeler.rollback(org["cso1"], "goal_setting", 1, "x"),
                 lambda: modeler.impact(org["emp1"], "goal_setting")):
        with pytest.raises(PermissionDenied):
            call()


def test_admins_may_stand_in_for_process_owners(org: dict[str, User], client: FlaskClient) -> None:
    login(client, "admin")
    assert client.get("/processes/goal_setting/modeler").status_code == 200


def test_the_modeler_page_alone_allows_inline_styles(
    org: dict[str, User], client: FlaskClient
) -> None:
    login(client, "owner1")
    modeler_csp = client.get("/processes/goal_setting/modeler").headers["Content-Security-Policy"]
    assert "style-src 'self' 'unsafe-inline'" in modeler_csp
    assert "script-src" not in modeler_csp and "default-src 'self'" in modeler_csp
    other_csp = client.get("/processes").headers["Content-Security-Policy"]
    assert "unsafe-inline" not in other_csp


def test_the_modeler_page_names_its_endpoints_and_the_forms_endpoint_lists_form_keys(
    org: dict[str, User], client: FlaskClient
) -> None:
    login(client, "owner1")
    page = client.get("/processes/goal_setting/modeler").get_data(as_text=True)
    assert 'src="/static/build/modeler.js"' in page and "<script>" not in page
    options = client.get("/processes/options.json").get_json()
    assert {"scorecard_approval", "scorecard_design", "scorecard_review"} <= {
        f["key"] for f in options["forms"]}
    assert "reporting_officer" in options["lanes"]


# ---- deploy ----------------------------------------------------------------------------------


def test_deploying_a_valid_draft_makes_the_next_version_with_author_comment_hash_and_audit(
    org: dict[str, User], client: FlaskClient
) -> None:
    login(client, "owner1")
    token = _page_token(client)
    assert _post_json(client, "/processes/goal_setting/draft", {"xml": V2.decode()},
                      token).status_code == 200
    page = client.get("/processes/goal_setting/deploy")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "The draft is valid." in text and "check_scorecard" in text  # the diff vs. v1
    response = client.post("/processes/goal_setting/deploy",
                           data={"csrf_token": token, "comment": "Officer checks the design"})
    assert response.status_code == 302

    version = process_models.current_version("goal_setting")
    assert version.version == 2
    assert version.deployed_by_id == org["owner1"].id
    assert version.comment == "Officer checks the design"
    assert version.content_hash == process_models.content_hash(V2)
    assert db.session.scalar(select(func.count(ProcessDraft.id))) == 0
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.event_type == AuditEventType.PROCESS_VERSION_DEPLOYED)
        .order_by(AuditEvent.id.desc())).first()
    assert event.actor_id == org["owner1"].id
    assert event.details["version"] == 2 and event.details["comment"] == "Officer checks the design"

    listing = client.get("/processes/goal_setting/versions").get_data(as_text=True)
    assert "Officer checks the design" in listing and "Nadia Shah (owner1)" in listing


def test_an_invalid_draft_cannot_be_deployed(org: dict[str, User], client: FlaskClient) -> None:
    broken = V1.replace(b'value="scorecard_design"', b'value="leave_request"')
    modeler.save_draft(org["owner1"], "goal_setting", broken)
    with pytest.raises(ValidationFailed) as error:
        modeler.deploy_draft(org["owner1"], "goal_setting", "try anyway")
    assert error.value.errors["diagram"][0]["element_id"] == "design_scorecard"
    login(client, "owner1")
    token = _form_token(client, "/processes")
    response = client.post("/processes/goal_setting/deploy",
                           data={"csrf_token": token, "comment": "try anyway"})
    assert response.status_code == 422
    assert process_models.current_version("goal_setting").version == 1


def test_a_deploy_needs_a_comment(org: dict[str, User]) -> None:
    modeler.save_draft(org["owner1"], "goal_setting", V2)
    with pytest.raises(ValidationFailed):
        modeler.deploy_draft(org["owner1"], "goal_setting", "  ")


def test_a_draft_started_before_another_deploy_is_refused(org: dict[str, User]) -> None:
    modeler.save_draft(org["owner1"], "goal_setting", V2)
    renamed = V1.replace(b'name="Review scorecard"', b'name="Agree scorecard"')
    process_models.deploy(renamed, "goal_setting.bpmn", org["admin"], "rename")
    db.session.commit()
    with pytest.raises(Conflict):
        modeler.deploy_draft(org["owner1"], "goal_setting", "stale")
    modeler.discard_draft(org["owner1"], "goal_setting")
    assert modeler.modeler_view(org["owner1"], "goal_setting").bpmn_xml == renamed.decode()


def test_a_draft_identical_to_the_current_version_deploys_nothing(org: dict[str, User]) -> None:
    modeler.save_draft(org["owner1"], "goal_setting", V1)
    with pytest.raises(Conflict):
        modeler.deploy_draft(org["owner1"], "goal_setting", "no change")


# ---- version pinning, impact, diff, rollback, export -----------------------------------------


def test_a_case_started_on_v1_finishes_on_v1_after_v2_is_deployed(org: dict[str, User]) -> None:
    old_case = _start(org, "emp1")
    assert _deploy_v2(org).version == 2
    new_case = _start(org, "emp2")
    assert (old_case.process_version.version, new_case.process_version.version) == (1, 2)

    assert _complete_open(org, old_case.id, {"kpis": good_scorecard()}) == "design_scorecard"
    assert [t.task_name for t in _open(old_case.id)] == ["review_scorecard"]
    assert _complete_open(org, new_case.id, {"kpis": good_scorecard()}) == "design_scorecard"
    assert [t.task_name for t in _open(new_case.id)] == ["check_scorecard"]
    assert _complete_open(org, new_case.id, {"decision": "approve"}) == "check_scorecard"

    for case_id in (old_case.id, new_case.id):
        assert _complete_open(org, case_id, {"decision": "agree"}) == "review_scorecard"
        assert _complete_open(org, case_id, {"decision": "approve"}) == "countersign_scorecard"
    db.session.expire_all()
    done_old, done_new = db.session.get(Case, old_case.id), db.session.get(Case, new_case.id)
    assert (done_old.status, done_new.status) == (CaseStatus.COMPLETED, CaseStatus.COMPLETED)
    assert done_old.process_version.version == 1
    assert "check_scorecard" not in {t.task_name for t in done_old.tasks}
    assert "check_scorecard" in {t.task_name for t in done_new.tasks}


def test_impact_counts_running_cases_by_version_and_the_steps_they_wait_at(
    org: dict[str, User], client: FlaskClient
) -> None:
    at_design = _start(org, "emp1")
    at_review = _start(org, "emp2")
    _complete_open(org, at_review.id, {"kpis": good_scorecard()})
    impact = modeler.impact(org["owner1"], "goal_setting")
    assert impact.cases_by_version == {1: 2}
    assert [(s.version, s.task_name, s.open_tasks) for s in impact.steps] == [
        (1, "design_scorecard", 1), (1, "review_scorecard", 1)]
    assert at_design.id != at_review.id

    _complete_open(org, at_review.id, {"decision": "agree"})  # now at countersign, still v1
    _deploy_v2(org)
    emp2_done = _complete_open(org, at_review.id, {"decision": "approve"})
    assert emp2_done == "countersign_scorecard"
    on_v2 = _start(org, "emp2")
    assert on_v2.process_version.version == 2
    impact = modeler.impact(org["owner1"], "goal_setting")
    assert impact.cases_by_version == {1: 1, 2: 1} and impact.running_cases == 2
    assert [(s.version, s.task_name, s.open_tasks) for s in impact.steps] == [
        (1, "design_scorecard", 1), (2, "design_scorecard", 1)]

    login(client, "owner1")
    page = client.get("/processes/goal_setting/deploy").get_data(as_text=True)
    assert "<strong>2</strong> running cases" in page
    assert "1 on v1, 1 on v2" in page
    assert "Design scorecard <span class=\"muted\">(design_scorecard)</span>" in page


def test_diff_lists_added_removed_and_changed_elements_by_id(
    org: dict[str, User], client: FlaskClient
) -> None:
    _deploy_v2(org)
    forward = modeler.diff_versions(org["owner1"], "goal_setting", 1, 2)
    assert {c.element_id for c in forward.added} == {"check_scorecard", "flow_check_to_review"}
    assert forward.removed == []
    changed = {c.element_id: c.details for c in forward.changed}
    assert set(changed) == {"flow_design_to_review", "review_scorecard", "Lane_reporting_officer"}
    assert changed["flow_design_to_review"] == ["targetRef: 'review_scorecard' → 'check_scorecard'"]
    assert forward.layout_changed

    backward = modeler.diff_versions(org["owner1"], "goal_setting", 2, 1)
    assert {c.element_id for c in backward.removed} == {"check_scorecard", "flow_check_to_review"}

    login(client, "owner1")
    page = client.get("/processes/goal_setting/diff?old=1&new=2").get_data(as_text=True)
    assert "2 added, 0 removed, 3 changed" in page and "check_scorecard" in page


def test_diff_sees_a_changed_form_key_and_ignores_pure_layout() -> None:
    changed_form = V1.replace(b'value="scorecard_review"', b'value="scorecard_approval"')
    diff = diff_diagrams(V1, changed_form)
    assert [(c.element_id, c.details) for c in diff.changed] == [
        ("review_scorecard", ["extensionElements changed"])]
    moved = V1.replace(b'<dc:Bounds x="480" y="352"', b'<dc:Bounds x="490" y="352"')
    layout_only = diff_diagrams(V1, moved)
    assert layout_only.changed == [] and layout_only.layout_changed


def test_rollback_deploys_an_older_versions_xml_again_as_a_new_version(
    org: dict[str, User], client: FlaskClient
) -> None:
    _deploy_v2(org)
    login(client, "owner1")
    token = _form_token(client, "/processes/goal_setting/versions")
    response = client.post("/processes/goal_setting/versions/1/rollback",
                           data={"csrf_token": token, "comment": "Back to the old flow"})
    assert response.status_code == 302
    current = process_models.current_version("goal_setting")
    v1 = modeler.get_version(org["owner1"], "goal_setting", 1)
    assert current.version == 3
    assert current.bpmn_xml == v1.bpmn_xml and current.content_hash == v1.content_hash
    assert current.deployed_by_id == org["owner1"].id and current.comment == "Back to the old flow"
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.event_type == AuditEventType.PROCESS_VERSION_DEPLOYED)
        .order_by(AuditEvent.id.desc())).first()
    assert event.details["rollback_to"] == 1 and event.actor_id == org["owner1"].id

    case = _start(org, "emp1")
    assert case.process_version.version == 3
    _complete_open(org, case.id, {"kpis": good_scorecard()})
    assert [t.task_name for t in _open(case.id)] == ["review_scorecard"]

    with pytest.raises(Conflict):
        modeler.rollback(org["owner1"], "goal_setting", 3, "already current")
    # Re-syncing workflows/ finds the file's content among the versions: nothing new.
    assert all(not created for _v, created in
               process_models.sync_workflow_files(ROOT / "workflows"))


def test_export_downloads_a_versions_exact_xml(org: dict[str, User], client: FlaskClient) -> None:
    _deploy_v2(org)
    login(client, "owner1")
    response = client.get("/processes/goal_setting/versions/1.bpmn")
    assert response.status_code == 200
    assert response.data == V1
    assert response.headers["Content-Disposition"] == 'attachment; filename="goal_setting-v1.bpmn"'
    assert client.get("/processes/goal_setting/versions/2.bpmn").data == V2
    assert client.get("/processes/goal_setting/versions/9.bpmn").status_code == 404


# ---- uploads: BPMN (new process) and DMN ------------------------------------------------------


def test_uploading_a_bpmn_file_starts_a_draft_of_a_new_process_that_can_be_deployed(
    org: dict[str, User], client: FlaskClient
) -> None:
    import io

    login(client, "owner1")
    token = _form_token(client, "/processes")
    fixture = DATA / "valid_minimal" / "fixture_process.bpmn"
    response = client.post("/processes/upload", data={
        "csrf_token": token, "file": (io.BytesIO(fixture.read_bytes()), "fixture_process.bpmn")},
        content_type="multipart/form-data")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/processes/fixture_process/modeler")
    assert client.get("/processes/fixture_process/modeler").status_code == 200
    version = modeler.deploy_draft(org["owner1"], "fixture_process", "First version")
    assert (version.process_model.key, version.version) == ("fixture_process", 1)


def test_uploading_a_hostile_bpmn_file_stores_nothing(
    org: dict[str, User], client: FlaskClient
) -> None:
    import io

    login(client, "owner1")
    token = _form_token(client, "/processes")
    client.post("/processes/upload", data={
        "csrf_token": token,
        "file": (io.BytesIO((DATA / "xxe" / "external_entity.bpmn").read_bytes()), "x.bpmn")},
        content_type="multipart/form-data")
    assert db.session.scalar(select(func.count(ProcessDraft.id))) == 0


@pytest.mark.parametrize(
    "fixture, status, expected",
    [
        ("dmn_valid/rating_band.dmn", 200, "Rating band (rating_band, 3 rules)"),
        ("dmn_malicious/dunder_output.dmn", 422, "OutputEntry_good"),
        ("xxe/external_entity.bpmn", 422, "DTD"),
        ("valid_minimal/fixture_process.bpmn", 422, "not valid"),
    ],
)
def test_dmn_uploads_are_validated_by_the_dmn_parser_and_the_script_restrictions(
    org: dict[str, User], client: FlaskClient, fixture: str, status: int, expected: str
) -> None:
    import io

    login(client, "owner1")
    token = _form_token(client, "/processes")
    response = client.post("/processes/decisions/validate", data={
        "csrf_token": token, "dmn-file": (io.BytesIO((DATA / fixture).read_bytes()), "t.dmn")},
        content_type="multipart/form-data")
    assert response.status_code == status
    assert expected in response.get_data(as_text=True)


# ---- the case diagram --------------------------------------------------------------------------


def test_the_case_diagram_shows_the_cases_own_version_with_done_and_current_steps(
    org: dict[str, User], client: FlaskClient
) -> None:
    case = _start(org, "emp1")
    _complete_open(org, case.id, {"kpis": good_scorecard()})
    _deploy_v2(org)
    login(client, "emp1")
    assert 'id="case-diagram"' in client.get(f"/cases/{case.id}").get_data(as_text=True)
    body = client.get(f"/cases/{case.id}/diagram.json").get_json()
    assert body["version"] == 1 and body["bpmn_xml"] == V1.decode()
    assert body["current"] == ["review_scorecard"]
    assert {"start_goal_setting", "design_scorecard"} <= set(body["completed"])
    assert "review_scorecard" not in body["completed"]


@pytest.mark.parametrize("username", ["emp2", "owner1", "fin1"])
def test_only_users_who_may_view_the_case_get_its_diagram(
    org: dict[str, User], client: FlaskClient, username: str
) -> None:
    case = _start(org, "emp1")
    login(client, username)
    response = client.get(f"/cases/{case.id}/diagram.json")
    assert response.status_code == 403
    assert "bpmn_xml" not in response.get_json()


# ---- the modeler keeps Meezan's extensions (bpmn-moddle + our descriptor, in node) ---------------


@pytest.mark.skipif(shutil.which("node") is None or not (ROOT / "node_modules").is_dir(),
                    reason="needs node and the npm packages (scripts/setup.sh installs both)")
@pytest.mark.parametrize("path", [ROOT / "workflows" / "goal_setting.bpmn",
                                  DATA / "goal_setting_v2" / "goal_setting.bpmn",
                                  DATA / "timers" / "reminder_then_escalation.bpmn"],
                         ids=lambda p: p.parent.name + "/" + p.name)
def test_the_modeler_round_trips_spiffworkflow_extensions_without_loss(path: Path) -> None:
    if not path.exists():
        pytest.skip(f"{path} is not in this checkout")
    result = subprocess.run(  # noqa: S603 - fixed arguments, our own script
        ["node", str(ROOT / "frontend" / "roundtrip.mjs"), str(path)],  # noqa: S607
        capture_output=True, check=True, timeout=60, cwd=ROOT,
    )
    out = json.loads(result.stdout)
    assert out["warnings"] == []
    exported = out["xml"].encode("utf-8")
    assert diff_diagrams(path.read_bytes(), exported).is_empty
    original = process_models.parse_and_validate(path.read_bytes(), path.name)
    again = process_models.parse_and_validate(exported, path.name)
    assert again.user_tasks == original.user_tasks
