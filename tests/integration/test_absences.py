"""Absences (acting appointments): tasks in the window go to the delegate and come back by
themselves; chains resolve to the final delegate; loops are refused or resolved without hanging;
segregation of duties still holds."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from app.clock import clock
from app.extensions import db
from app.models import Absence, AuditEvent, AuditEventType, HumanTask, User
from app.models.absence import as_utc
from app.services import absences, routing, tasks, timers
from app.services.assignment import actionable_tasks
from app.services.errors import Conflict, PermissionDenied, ValidationFailed
from forms import formdata_from_json
from tests import appraisal_helpers as appraisal
from tests.helpers import csrf_token, login
from tests.queue_helpers import (
    add_person,
    deploy_hr_pool,
    open_task,
    start_goal_setting,
    to_countersign,
)

NOW = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture(autouse=True)
def frozen_clock() -> Iterator[None]:
    clock.freeze(NOW)
    yield
    clock.reset()


def _away(who: User, to: User, start: datetime = NOW, days: int = 5,
          processes: list[str] | None = None, actor: User | None = None) -> Absence:
    return absences.declare_absence(actor or who, who.id, to.id, start, start + days * DAY,
                                    "Earned leave", processes)


def _holder(task_id: int) -> int | None:
    db.session.expire_all()
    return db.session.get(HumanTask, task_id).assignee_id


def test_an_absence_in_force_moves_existing_tasks_to_the_delegate(org) -> None:
    task = to_countersign(org)
    _away(org["cso1"], org["owner1"])
    assert _holder(task.id) == org["owner1"].id
    assert [t.id for t in actionable_tasks(org["owner1"])] == [task.id]
    [event] = db.session.scalars(select(AuditEvent).where(
        AuditEvent.event_type == AuditEventType.TASK_REROUTED))
    assert (event.details["from"], event.details["to"]) == ("cso1", "owner1")


def test_new_tasks_in_the_window_go_to_the_delegate(org) -> None:
    _away(org["ro1"], org["owner1"])
    case = start_goal_setting(org)
    design = open_task(case.id, "design_scorecard")
    assert (design.owner_id, design.assignee_id) == (org["ro1"].id, org["owner1"].id)


def test_the_acting_officer_completes_on_behalf_of_the_absentee(org) -> None:
    task = to_countersign(org)
    _away(org["cso1"], org["owner1"])
    tasks.complete_task(org["owner1"], task.id,
                        formdata_from_json({"decision": "approve", "comment": ""}))
    event = db.session.scalars(select(AuditEvent).where(
        AuditEvent.event_type == AuditEventType.TASK_COMPLETED,
        AuditEvent.human_task_id == task.id)).one()
    assert (event.actor_id, event.on_behalf_of_id) == (org["owner1"].id, org["cso1"].id)


def test_a_future_absence_starts_and_ends_by_itself_on_the_worker(org) -> None:
    task = to_countersign(org)
    _away(org["cso1"], org["owner1"], start=NOW + 2 * DAY, days=3)
    assert _holder(task.id) == org["cso1"].id
    clock.advance(2 * DAY)
    assert timers.run_due_timers().tasks_rerouted == 1
    assert _holder(task.id) == org["owner1"].id
    clock.advance(3 * DAY)
    assert timers.run_due_timers().tasks_rerouted == 1
    assert _holder(task.id) == org["cso1"].id
    assert timers.run_due_timers().tasks_rerouted == 0  # each edge is applied once


def test_an_absence_limited_to_a_process_moves_that_processs_tasks(org) -> None:
    task = to_countersign(org)
    absence = _away(org["cso1"], org["owner1"], processes=["goal_setting"])
    assert absence.process_keys == ["goal_setting"]
    assert _holder(task.id) == org["owner1"].id


def test_an_absence_for_another_process_does_not_move_goal_setting_tasks(org) -> None:
    task = to_countersign(org)
    deploy_hr_pool(org)
    _away(org["cso1"], org["owner1"], processes=["hr_pool_fixture"])
    assert _holder(task.id) == org["cso1"].id


def test_cancelling_an_absence_brings_the_tasks_back_at_once(org) -> None:
    task = to_countersign(org)
    absence = _away(org["cso1"], org["owner1"])
    absences.cancel_absence(org["cso1"], absence.id)
    assert _holder(task.id) == org["cso1"].id


def test_a_chain_of_absences_resolves_to_the_final_delegate(org) -> None:
    task = to_countersign(org)
    _away(org["owner1"], org["fin1"])
    _away(org["cso1"], org["owner1"])
    assert _holder(task.id) == org["fin1"].id
    route = routing.resolve(org["cso1"].id, "goal_setting", task.case.subject, task.lane)
    assert route.chain == (org["cso1"].id, org["owner1"].id, org["fin1"].id)


def test_the_middle_of_a_chain_going_away_later_moves_the_task_on(org) -> None:
    task = to_countersign(org)
    _away(org["cso1"], org["owner1"])
    _away(org["owner1"], org["fin1"], start=NOW + DAY, days=2)
    assert _holder(task.id) == org["owner1"].id
    clock.advance(DAY)
    timers.run_due_timers()
    assert _holder(task.id) == org["fin1"].id
    clock.advance(2 * DAY)
    timers.run_due_timers()
    assert _holder(task.id) == org["owner1"].id


def test_a_declaration_that_would_close_a_loop_is_refused(org) -> None:
    _away(org["owner1"], org["fin1"])
    _away(org["fin1"], org["cso1"])
    with pytest.raises(Conflict, match="loop"):
        _away(org["cso1"], org["owner1"])
    assert db.session.scalar(select(func.count(Absence.id))) == 2


def test_a_loop_that_slipped_in_resolves_to_the_owner_without_hanging(org) -> None:
    """Two declarations at the same moment can each pass the loop check: routing still ends."""
    task = to_countersign(org)
    for who, to in (("cso1", "owner1"), ("owner1", "fin1"), ("fin1", "cso1")):
        db.session.add(Absence(user_id=org[who].id, delegate_id=org[to].id, starts_at=NOW,
                               ends_at=NOW + DAY, reason="race", start_applied=False,
                               end_applied=False, created_at=NOW))
    db.session.commit()
    route = routing.resolve(org["cso1"].id, "goal_setting", task.case.subject, task.lane)
    assert route.holder_id == org["cso1"].id and route.stopped == "the absences form a loop"
    timers.run_due_timers()
    assert _holder(task.id) == org["cso1"].id


def test_a_chain_never_routes_a_task_to_its_own_subject(org) -> None:
    task = to_countersign(org)  # about emp1
    _away(org["owner1"], org["emp1"])
    _away(org["cso1"], org["owner1"])
    assert _holder(task.id) == org["owner1"].id  # stops before emp1
    route = routing.resolve(org["cso1"].id, "goal_setting", task.case.subject, task.lane)
    assert "cannot go to" in route.stopped


def test_an_absence_delegate_who_is_the_subject_keeps_other_tasks(org) -> None:
    mine = to_countersign(org, "emp1")
    other = to_countersign(org, "emp2")
    _away(org["cso1"], org["emp1"])
    assert _holder(mine.id) == org["cso1"].id  # about emp1: never to emp1
    assert _holder(other.id) == org["emp1"].id


def test_a_countersignature_never_reaches_the_reporting_officer_by_absence(org) -> None:
    task = to_countersign(org)
    _away(org["cso1"], org["ro1"])
    assert _holder(task.id) == org["cso1"].id


def test_overlapping_absences_of_one_person_are_refused(org) -> None:
    _away(org["cso1"], org["owner1"])
    with pytest.raises(Conflict, match="overlaps"):
        _away(org["cso1"], org["fin1"], start=NOW + DAY)


def test_an_absence_needs_a_reason_a_delegate_and_an_end_after_its_start(org) -> None:
    with pytest.raises(ValidationFailed) as err:
        absences.declare_absence(org["cso1"], org["cso1"].id, org["cso1"].id, NOW,
                                 NOW - DAY, "")
    assert set(err.value.errors) == {"delegate", "dates", "reason"}


def test_only_oneself_hr_or_an_admin_declares_an_absence(org) -> None:
    with pytest.raises(PermissionDenied):
        _away(org["cso1"], org["owner1"], actor=org["ro1"])
    absence = _away(org["cso1"], org["owner1"], actor=org["admin"])
    event = db.session.scalars(select(AuditEvent).where(
        AuditEvent.event_type == AuditEventType.ABSENCE_DECLARED)).one()
    assert (event.actor_id, event.on_behalf_of_id) == (org["admin"].id, org["cso1"].id)
    assert event.details["reason"] == "Earned leave" and absence.id


def test_an_escalated_next_level_officer_away_routes_onward(org) -> None:
    sec1 = add_person("sec1", "Secretary Health", reporting_officer_of="cso1")
    _away(sec1, org["owner1"])
    assert routing.resolve(sec1.id, "goal_setting", org["emp1"].employee,
                           "next_level_officer").holder_id == org["owner1"].id


def test_the_absences_page_declares_whole_local_days_and_cancels(client, org) -> None:
    login(client, "cso1")
    token = csrf_token(client, "/absences")
    response = client.post("/absences", data={
        "csrf_token": token, "delegate": "owner1", "first_day": "2026-09-01",
        "last_day": "2026-09-03", "reason": "Hajj leave", "processes": ["goal_setting"]})
    assert response.status_code == 302
    absence = db.session.scalars(select(Absence)).one()
    karachi = timezone(timedelta(hours=5))
    assert as_utc(absence.starts_at) == datetime(2026, 9, 1, tzinfo=karachi)
    assert as_utc(absence.ends_at) == datetime(2026, 9, 4, tzinfo=karachi)
    assert absence.process_keys == ["goal_setting"]
    page = client.get("/absences").get_data(as_text=True)
    assert "Hajj leave" in page and "Nadia Shah" in page
    client.post(f"/absences/{absence.id}/cancel", data={"csrf_token": token})
    db.session.expire_all()
    assert db.session.get(Absence, absence.id).cancelled_at is not None


# -- steps of called processes: goal setting, monthly actuals… inside an annual appraisal ------


def test_an_absence_limited_to_goal_setting_covers_its_step_inside_an_annual_appraisal(
        org) -> None:
    _away(org["ro1"], org["owner1"], processes=["goal_setting"])
    case = appraisal.start(org)
    design = appraisal.open_task(case, "design_scorecard")
    assert design.process_key == "goal_setting"
    assert (design.owner_id, design.assignee_id) == (org["ro1"].id, org["owner1"].id)
    assert design.routed_by_absence_id is not None


def test_an_absence_limited_to_goal_setting_leaves_the_appraisals_monthly_actuals(org) -> None:
    appraisal.at(f"{appraisal.YEAR}-01-05")
    case = appraisal.start(org)
    appraisal.agree_goals(org, case)
    appraisal.at(f"{appraisal.YEAR}-02-01", 5)
    appraisal.fire_timers()
    actuals = appraisal.open_task(case, "confirm_actuals")
    assert actuals.process_key == "monthly_actuals"
    goal_setting = _away(org["ro1"], org["owner1"], start=clock.now(),
                         processes=["goal_setting"])
    assert _holder(actuals.id) == org["ro1"].id
    absences.cancel_absence(org["ro1"], goal_setting.id)
    _away(org["ro1"], org["owner1"], start=clock.now(), processes=["monthly_actuals"])
    assert _holder(actuals.id) == org["owner1"].id


def test_an_absence_limited_to_the_annual_appraisal_covers_the_steps_it_calls(org) -> None:
    _away(org["ro1"], org["owner1"], processes=["annual_appraisal"])
    design = appraisal.open_task(appraisal.start(org), "design_scorecard")
    assert design.assignee_id == org["owner1"].id


def test_absences_for_a_process_and_one_it_calls_can_close_a_loop(org) -> None:
    """Both cover the design step of an appraisal, so ro1 → owner1 → ro1 is refused."""
    _away(org["ro1"], org["owner1"], processes=["annual_appraisal"])
    with pytest.raises(Conflict, match="loop"):
        _away(org["owner1"], org["ro1"], processes=["goal_setting"])
