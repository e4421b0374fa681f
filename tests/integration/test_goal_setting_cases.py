"""Goal setting through the service layer: routing by org data, segregation of duties,
the return loops, atomic completion and the audit trail."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, AuditEventType, Case, CaseStatus, HumanTask, TaskStatus, User
from app.services import audit, cases, process_models, tasks
from app.services.assignment import actionable_tasks
from app.services.errors import (
    AssignmentError,
    Conflict,
    PermissionDenied,
    TaskAlreadyCompleted,
    ValidationFailed,
)
from forms import formdata_from_json
from tests.conftest import employee_of
from tests.helpers import good_scorecard


def _start(org: dict[str, User], subject: str = "emp1") -> Case:
    return cases.start_case("goal_setting", employee_of(org[subject]).id, org["hr1"])


def _open_task(case: Case) -> HumanTask:
    db.session.expire_all()
    [task] = [t for t in db.session.get(Case, case.id).tasks if t.status == TaskStatus.OPEN]
    return task


def _complete(user: User, task: HumanTask, data: dict) -> HumanTask:
    return tasks.complete_task(user, task.id, formdata_from_json(data))


def _design(org, case, scorecard=None):  # noqa: ANN001, ANN202
    return _complete(org["ro1"], _open_task(case), {"kpis": scorecard or good_scorecard()})


def test_starting_a_case_assigns_scorecard_design_to_the_reporting_officer(org) -> None:
    case = _start(org)
    task = _open_task(case)
    assert (task.task_name, task.assignee_id, task.form_key) == (
        "design_scorecard", org["ro1"].id, "scorecard_design")
    assert task.due_at is not None
    assert [t.id for t in actionable_tasks(org["ro1"])] == [task.id]


def test_the_employee_is_never_offered_their_own_scorecard_design(org) -> None:
    _start(org)
    assert actionable_tasks(org["emp1"]) == []
    task = db.session.scalar(select(HumanTask).where(HumanTask.task_name == "design_scorecard"))
    with pytest.raises(PermissionDenied):
        tasks.task_form_view(org["emp1"], task.id)
    with pytest.raises(PermissionDenied):
        _complete(org["emp1"], task, {"kpis": good_scorecard()})


def test_an_employee_recorded_as_their_own_reporting_officer_cannot_get_a_case(org) -> None:
    emp1 = employee_of(org["emp1"])
    emp1.reporting_officer = emp1
    db.session.commit()
    with pytest.raises(AssignmentError, match="own reporting officer"):
        _start(org)
    assert db.session.scalar(select(func.count(Case.id))) == 0


def test_the_countersigning_officer_must_differ_from_the_reporting_officer(org) -> None:
    emp1 = employee_of(org["emp1"])
    emp1.countersigning_officer = emp1.reporting_officer
    db.session.commit()
    with pytest.raises(AssignmentError, match="both reporting and countersigning"):
        _start(org)


def test_a_subject_without_a_countersigning_officer_is_refused_before_anything_starts(org) -> None:
    employee_of(org["emp1"]).countersigning_officer = None
    db.session.commit()
    with pytest.raises(AssignmentError, match="no countersigning officer"):
        _start(org)
    assert db.session.scalar(select(func.count(AuditEvent.id)).where(
        AuditEvent.event_type == AuditEventType.CASE_STARTED)) == 0


def test_only_hr_of_the_unit_or_an_admin_may_start_a_case(org) -> None:
    subject = employee_of(org["emp1"]).id
    for username in ("ro1", "emp2", "fin1", "owner1"):
        with pytest.raises(PermissionDenied):
            cases.start_case("goal_setting", subject, org[username])
    assert cases.start_case("goal_setting", subject, org["admin"]).id


def test_nobody_starts_a_case_about_themselves(org) -> None:
    with pytest.raises(PermissionDenied):
        cases.start_case("goal_setting", employee_of(org["hr1"]).id, org["hr1"])


def test_a_second_running_case_for_the_same_employee_is_refused(org) -> None:
    first = _start(org)
    with pytest.raises(Conflict, match=f"#{first.id}"):
        _start(org)


def test_the_whole_goal_setting_flow_with_both_return_loops(org) -> None:
    case = _start(org)
    _design(org, case)
    review = _open_task(case)
    assert (review.task_name, review.assignee_id) == ("review_scorecard", org["emp1"].id)
    _complete(org["emp1"], review, {"decision": "return", "comment": "Target 1 is unrealistic"})

    redesign = _open_task(case)
    assert (redesign.task_name, redesign.assignee_id) == ("design_scorecard", org["ro1"].id)
    view = tasks.task_form_view(org["ro1"], redesign.id)
    assert view.initial_data["kpis"] == good_scorecard()  # prefilled for the rework
    assert view.case_data["employee_comment"] == "Target 1 is unrealistic"
    revised = good_scorecard()
    revised[0]["target"] = 10000
    _design(org, case, revised)

    _complete(org["emp1"], _open_task(case), {"decision": "agree"})
    countersign = _open_task(case)
    assert (countersign.task_name, countersign.assignee_id) == (
        "countersign_scorecard", org["cso1"].id)
    _complete(org["cso1"], countersign, {"decision": "return", "comment": "Add a quality KPI"})

    _design(org, case, revised)
    _complete(org["emp1"], _open_task(case), {"decision": "agree"})
    _complete(org["cso1"], _open_task(case), {"decision": "approve"})

    db.session.expire_all()
    done = db.session.get(Case, case.id)
    assert done.status == CaseStatus.COMPLETED and done.completed_at is not None
    view = cases.view_case(org["hr1"], case.id)
    assert view.open_tasks == []
    assert view.data["scorecard"][0]["target"] == 10000
    assert view.data["scorecard_summary"] == {"kpi_count": 3, "quantity_weight": 65,
                                              "quality_weight": 35}
    completed = [e for e in view.timeline if e.event_type == AuditEventType.TASK_COMPLETED]
    assert [e.actor_id for e in completed] == [
        org[u].id for u in ("ro1", "emp1", "ro1", "emp1", "cso1", "ro1", "emp1", "cso1")]
    assert view.timeline[-1].event_type == AuditEventType.CASE_COMPLETED


def test_the_audit_trail_records_what_changed(org) -> None:
    case = _start(org)
    _design(org, case)
    _complete(org["emp1"], _open_task(case), {"decision": "return", "comment": "Too high"})
    revised = good_scorecard()
    revised[0]["target"] = 9000
    _design(org, case, revised)
    events = [e for e in audit.case_timeline(case.id) if e.event_type == "task_completed"]
    first, review, second = events
    assert first.details["changes"]["scorecard"] == {"before": None, "after": good_scorecard()}
    assert review.details["changes"]["employee_comment"]["after"] == "Too high"
    assert second.details["changes"]["scorecard"]["before"][0]["target"] == 12000
    assert second.details["changes"]["scorecard"]["after"][0]["target"] == 9000


def test_invalid_form_data_changes_nothing(org) -> None:
    case = _start(org)
    task = _open_task(case)
    state_before = db.session.get(Case, case.id).workflow_state
    events_before = db.session.scalar(select(func.count(AuditEvent.id)))
    bad = good_scorecard()
    bad[0]["weight"] = 10
    with pytest.raises(ValidationFailed) as error:
        _complete(org["ro1"], task, {"kpis": bad})
    assert "Weights must add up to 100" in error.value.errors["kpis"][0]
    db.session.expire_all()
    assert db.session.get(Case, case.id).workflow_state == state_before
    assert db.session.get(HumanTask, task.id).status == TaskStatus.OPEN
    assert db.session.scalar(select(func.count(AuditEvent.id))) == events_before


def test_a_failure_after_the_engine_ran_leaves_no_half_written_case(org, monkeypatch) -> None:
    case = _start(org)
    task = _open_task(case)
    state_before = db.session.get(Case, case.id).workflow_state
    events_before = db.session.scalar(select(func.count(AuditEvent.id)))
    real_record = audit.record

    def failing_record(event_type, **kwargs):  # noqa: ANN001, ANN003, ANN202
        if event_type == AuditEventType.TASK_ASSIGNED:
            raise RuntimeError("audit store unavailable")
        return real_record(event_type, **kwargs)

    monkeypatch.setattr(audit, "record", failing_record)
    with pytest.raises(RuntimeError):
        _design(org, case)
    monkeypatch.undo()
    db.session.expire_all()
    assert db.session.get(Case, case.id).workflow_state == state_before
    assert db.session.get(HumanTask, task.id).status == TaskStatus.OPEN
    assert db.session.scalar(select(func.count(HumanTask.id))) == 1
    assert db.session.scalar(select(func.count(AuditEvent.id))) == events_before
    _design(org, case)  # and the task can still be completed afterwards
    assert _open_task(case).task_name == "review_scorecard"


def test_completing_a_completed_task_is_a_conflict(org) -> None:
    case = _start(org)
    task = _open_task(case)
    _design(org, case)
    with pytest.raises(TaskAlreadyCompleted):
        _complete(org["ro1"], task, {"kpis": good_scorecard()})


def test_a_running_case_stays_on_its_version_after_a_new_one_is_deployed(org, app) -> None:
    old_case = _start(org, "emp1")
    with open(app.config["WORKFLOWS_DIR"] + "/goal_setting.bpmn", "rb") as f:
        v2_xml = f.read().replace(b'name="Review scorecard"', b'name="Agree scorecard"')
    version, created = process_models.deploy(v2_xml, "goal_setting.bpmn", org["owner1"], "rename")
    db.session.commit()
    assert created and version.version == 2
    new_case = _start(org, "emp2")
    assert new_case.process_version.version == 2
    assert old_case.process_version.version == 1
    _design(org, old_case)
    _design(org, new_case)
    assert _open_task(old_case).title == "Review scorecard"
    assert _open_task(new_case).title == "Agree scorecard"


def test_deploying_identical_content_creates_no_new_version(org, app) -> None:
    results = process_models.sync_workflow_files(app.config["WORKFLOWS_DIR"])
    assert all(not created for _version, created in results)


def test_case_visibility_follows_participation(org) -> None:
    case = _start(org)
    for username in ("emp1", "ro1", "cso1", "hr1", "admin"):
        assert cases.view_case(org[username], case.id).case.id == case.id
    for username in ("emp2", "fin1", "owner1"):
        with pytest.raises(PermissionDenied):
            cases.view_case(org[username], case.id)
    assert [c.id for c in cases.list_cases(org["emp1"])] == [case.id]
    assert cases.list_cases(org["emp2"]) == []
