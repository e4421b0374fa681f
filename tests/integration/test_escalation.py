"""Goal setting's boundary timers: a reminder before the due date, and an escalation after it
that takes the countersignature to the next-level officer — fired by the timer worker exactly
once, even with two workers at once (PostgreSQL)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.clock import clock
from app.extensions import db
from app.models import (
    AuditEvent,
    AuditEventType,
    Case,
    CaseStatus,
    HumanTask,
    Notification,
    NotificationKind,
    TaskStatus,
    User,
)
from app.services import delegation, tasks, timers
from forms import formdata_from_json
from tests.queue_helpers import add_person, open_task, start_goal_setting, to_countersign

START = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture(autouse=True)
def frozen_clock() -> Iterator[None]:
    clock.freeze(START)
    yield
    clock.reset()


def _count(event_type: AuditEventType) -> int:
    return db.session.scalar(select(func.count(AuditEvent.id)).where(
        AuditEvent.event_type == event_type))


def _notifications(user: User, kind: NotificationKind) -> list[Notification]:
    return list(db.session.scalars(select(Notification).where(
        Notification.recipient_id == user.id, Notification.kind == kind)))


def test_countersignature_due_dates_come_from_the_diagram(org) -> None:
    task = to_countersign(org)
    assert task.due_at.replace(tzinfo=UTC) == START + 7 * DAY
    assert db.session.get(Case, task.case_id).timer_due_at.replace(tzinfo=UTC) == START + 5 * DAY


def test_the_reminder_fires_two_days_before_due_and_leaves_the_task_in_place(org) -> None:
    task = to_countersign(org)
    clock.advance(5 * DAY + timedelta(minutes=1))
    assert timers.run_due_timers().timers_fired == 1
    assert open_task(task.case_id).id == task.id
    assert _count(AuditEventType.TASK_REMINDED) == 1
    [reminder] = _notifications(org["cso1"], NotificationKind.TASK_REMINDER)
    assert "Countersign scorecard" in reminder.subject
    assert timers.run_due_timers().timers_fired == 0


def test_an_overdue_countersignature_escalates_to_the_officer_above(org) -> None:
    sec1 = add_person("sec1", "Secretary Health", reporting_officer_of="cso1")
    task = to_countersign(org)
    clock.advance(8 * DAY + timedelta(minutes=1))
    result = timers.run_due_timers()
    assert result.timers_fired == 2  # the reminder, then the escalation, in one pass
    db.session.expire_all()
    assert db.session.get(HumanTask, task.id).status == TaskStatus.CANCELLED
    escalated = open_task(task.case_id)
    assert escalated.task_name == "countersign_scorecard_escalated"
    assert (escalated.owner_id, escalated.assignee_id) == (sec1.id, sec1.id)
    assert escalated.form_key == "scorecard_approval"
    assert escalated.due_at.replace(tzinfo=UTC) == START + 15 * DAY + timedelta(minutes=1)
    event = db.session.scalars(select(AuditEvent).where(
        AuditEvent.event_type == AuditEventType.TASK_ESCALATED)).one()
    assert (event.human_task_id, event.details["from"]) == (task.id, "cso1")
    assert len(_notifications(db.session.get(User, sec1.id), NotificationKind.TASK_ESCALATED)) == 1
    assert len(_notifications(org["cso1"], NotificationKind.TASK_ESCALATED)) == 1


def test_the_next_level_officer_approves_and_the_case_completes(org) -> None:
    sec1 = add_person("sec1", "Secretary Health", reporting_officer_of="cso1")
    task = to_countersign(org)
    clock.advance(9 * DAY)
    timers.run_due_timers()
    escalated = open_task(task.case_id)
    tasks.complete_task(db.session.get(User, sec1.id), escalated.id,
                        formdata_from_json({"decision": "approve", "comment": ""}))
    db.session.expire_all()
    case = db.session.get(Case, task.case_id)
    assert case.status == CaseStatus.COMPLETED and case.timer_due_at is None


def test_without_an_officer_above_the_escalation_goes_to_hr_of_the_unit(org) -> None:
    task = to_countersign(org)  # cso1 has no reporting officer in the demo data
    clock.advance(9 * DAY)
    timers.run_due_timers()
    escalated = open_task(task.case_id)
    assert (escalated.assignee_id, escalated.candidate_role) == (None, "hr")
    delegation.claim_task(org["hr1"], escalated.id)
    assert open_task(task.case_id).assignee_id == org["hr1"].id


def test_the_escalation_never_reaches_the_reporting_officer(org) -> None:
    """If the officer above the countersigning officer is the employee's own reporting officer,
    the countersignature goes to HR instead (no one countersigns their own work)."""
    emp1 = org["emp1"].employee
    emp1.countersigning_officer.reporting_officer_id = emp1.reporting_officer_id
    db.session.commit()
    task = to_countersign(org)
    clock.advance(9 * DAY)
    timers.run_due_timers()
    assert open_task(task.case_id).candidate_role == "hr"


def test_the_design_reminder_mails_the_reporting_officer(org) -> None:
    case = start_goal_setting(org)
    clock.advance(12 * DAY + timedelta(minutes=1))
    assert timers.run_due_timers().timers_fired == 1
    assert open_task(case.id).task_name == "design_scorecard"
    assert len(_notifications(org["ro1"], NotificationKind.TASK_REMINDER)) == 1


def test_an_escalation_of_a_task_an_acting_officer_holds_reaches_the_next_level(org) -> None:
    sec1 = add_person("sec1", "Secretary Health", reporting_officer_of="cso1")
    task = to_countersign(org)
    delegation.delegate_task(org["cso1"], task.id, org["owner1"].id, "cover for me")
    clock.advance(9 * DAY)
    timers.run_due_timers()
    event = db.session.scalars(select(AuditEvent).where(
        AuditEvent.event_type == AuditEventType.TASK_ESCALATED)).one()
    assert event.details["from"] == "owner1"
    assert open_task(task.case_id).assignee_id == sec1.id


def test_two_workers_escalate_each_overdue_task_exactly_once(app, org, is_postgres) -> None:
    if not is_postgres:
        pytest.skip("concurrent workers are tested on PostgreSQL")
    add_person("sec1", "Secretary Health", reporting_officer_of="cso1")
    case_ids = [to_countersign(org, employee).case_id for employee in ("emp1", "emp2")]
    clock.advance(9 * DAY)
    barrier = threading.Barrier(2)
    fired: list[int] = []
    errors: list[str] = []

    def worker() -> None:
        with app.app_context():
            barrier.wait()
            try:
                run = timers.run_due_timers()
                fired.append(run.timers_fired)
                errors.extend(run.errors)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sum(fired) == 4  # per case: the reminder and the escalation, once each
    db.session.expire_all()
    assert _count(AuditEventType.TASK_ESCALATED) == 2
    for case_id in case_ids:
        rows = db.session.scalars(select(HumanTask).where(
            HumanTask.case_id == case_id,
            HumanTask.task_name == "countersign_scorecard_escalated")).all()
        assert [r.status for r in rows] == [TaskStatus.OPEN]
