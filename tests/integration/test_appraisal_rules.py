"""The year's rules, one behaviour each: doctrine, segregation of duties, the interview before
any rating, calibration with reasons, the incentive's DMN, cap, budget and approval chain."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, AuditEventType, Case, CaseStatus, OrgUnit
from app.services import calibration, cases, process_models
from app.services.assignment import holder_conflict, resolve_lane
from app.services.errors import AssignmentError, Conflict, ValidationFailed
from tests.appraisal_helpers import (
    ON_TARGET,
    YEAR,
    agree_goals,
    at,
    case_data,
    complete,
    fire_timers,
    interview,
    open_task,
    open_tasks,
    province,
    start,
    through_the_months,
    to_calibration,
)
from tests.conftest import employee_of

pytestmark = pytest.mark.usefixtures("year_clock")  # 5 January of the year (tests/conftest.py)


def _calibrate(org) -> None:  # noqa: ANN001
    calibration.open_calibration(org["hr1"], province(org).id, "test-2026")
    calibration.close_calibration(org["hr1"], province(org).id, "test-2026", {})


# --- the score --------------------------------------------------------------------------------


def test_the_score_is_weighted_achievement_with_each_kpi_capped_at_100_percent(org) -> None:
    actuals = {"Children fully immunised": 24000,  # 200% of target: counts as 100%
               "Vaccinator attendance": 47.5,  # 50%
               "Cold-chain audits passed": 90}  # 100%
    case = to_calibration(org, actuals=actuals)
    data = case_data(case)
    assert data["score"] == 87.5  # 40 x 100% + 25 x 50% + 35 x 100%
    assert data["rating_band"] == "very_good"  # rating_band.dmn: 75 <= score < 90
    assert [row["achievement"] for row in data["score_breakdown"]] == [100.0, 50.0, 100.0]


# --- mid-year -----------------------------------------------------------------------------------


def test_the_mid_year_review_opens_on_its_date_by_timer(org) -> None:
    case = start(org)
    agree_goals(org, case)
    through_the_months(org, case, ON_TARGET, until_month=5)
    at(f"{YEAR}-07-01", 3)  # 08:00 in Peshawar: not yet
    fire_timers()
    assert [t.task_name for t in open_tasks(case)] == []
    at(f"{YEAR}-07-01", 5)  # 10:00 PKT
    fire_timers()
    assert [t.task_name for t in open_tasks(case)] == ["self_assessment"]


def test_kpis_are_revised_only_with_a_written_reason(org) -> None:
    case = start(org)
    agree_goals(org, case)
    through_the_months(org, case, ON_TARGET, until_month=5)
    at(f"{YEAR}-07-01", 5)
    fire_timers()
    complete(org["emp1"], case, "self_assessment", {"progress": "On track"})
    with pytest.raises(ValidationFailed) as refused:
        complete(org["ro1"], case, "officer_review", {
            "comment": "Fine", "revise_kpis": True, "revision_reason": "",
            "kpis": case_data(case)["scorecard"]})
    assert "written reason" in str(refused.value.errors)


def test_a_rejected_revision_keeps_the_original_scorecard(org) -> None:
    case = start(org)
    agree_goals(org, case)
    through_the_months(org, case, ON_TARGET, until_month=5)
    at(f"{YEAR}-07-01", 5)
    fire_timers()
    complete(org["emp1"], case, "self_assessment", {"progress": "On track"})
    revised = case_data(case)["scorecard"]
    revised[0]["target"] = 1
    complete(org["ro1"], case, "officer_review", {
        "comment": "Lower it", "revise_kpis": True, "revision_reason": "Too hard",
        "kpis": revised})
    assert open_task(case, "approve_revision").assignee_id == org["cso1"].id
    complete(org["cso1"], case, "approve_revision", {"decision": "reject",
                                                     "comment": "Targets stand"})
    data = case_data(case)
    assert data["scorecard"][0]["target"] == 12000
    assert data["scorecard_revisions"][0]["status"] == "rejected"


# --- the interview -------------------------------------------------------------------------------


def test_an_interview_is_scheduled_within_the_cycle_window(org) -> None:
    case = start(org)
    agree_goals(org, case)
    through_the_months(org, case, ON_TARGET)
    at(f"{YEAR}-12-01", 5)
    fire_timers()
    with pytest.raises(ValidationFailed, match="interview window"):
        complete(org["ro1"], case, "schedule_interview",
                 {"date": f"{YEAR}-12-28", "time": "10:00", "place": "Office"})


def test_an_interview_not_held_is_scheduled_again(org) -> None:
    case = start(org)
    agree_goals(org, case)
    through_the_months(org, case, ON_TARGET)
    at(f"{YEAR}-12-01", 5)
    fire_timers()
    complete(org["ro1"], case, "schedule_interview",
             {"date": f"{YEAR}-12-10", "time": "10:00", "place": "Office"})
    at(f"{YEAR}-12-10", 6)
    fire_timers()
    complete(org["ro1"], case, "record_interview",
             {"held": "no", "not_held_reason": "The employee was on leave"})
    assert [t.task_name for t in open_tasks(case)] == ["schedule_interview"]
    assert "score" not in case_data(case)


def test_a_dispute_goes_to_the_countersigning_officer_who_records_why(org) -> None:
    case = start(org)
    agree_goals(org, case)
    through_the_months(org, case, ON_TARGET)
    interview(org, case, ON_TARGET, sign=False)
    with pytest.raises(ValidationFailed):
        complete(org["emp1"], case, "sign_off_interview", {"decision": "dispute"})
    complete(org["emp1"], case, "sign_off_interview",
             {"decision": "dispute", "dispute_reasons": "Audits were understated"})
    assert open_task(case, "decide_dispute").assignee_id == org["cso1"].id
    with pytest.raises(ValidationFailed):
        complete(org["cso1"], case, "decide_dispute", {"outcome": "revise",
                                                      "revised_band": "good"})
    complete(org["cso1"], case, "decide_dispute", {
        "outcome": "revise", "revised_band": "very_good", "reason": "Audit log incomplete"})
    data = case_data(case)
    assert (data["rating_band"], data["dispute_decision_reason"]) == (
        "very_good", "Audit log incomplete")


# --- calibration ---------------------------------------------------------------------------------


def test_calibration_opens_only_when_the_departments_interviews_are_done(org) -> None:
    first = to_calibration(org, "emp1")
    second = start(org, "emp2")
    assert open_tasks(first)[0].task_name == "calibrate_rating"
    assert second.status == CaseStatus.RUNNING
    with pytest.raises(Conflict, match="have not reached calibration"):
        calibration.open_calibration(org["hr1"], province(org).id, "test-2026")


def test_a_rating_is_not_finalised_outside_an_open_calibration(org) -> None:
    case = to_calibration(org)
    with pytest.raises(ValidationFailed, match="whole department"):
        complete(org["hr1"], case, "calibrate_rating",
                 {"band_before": "outstanding", "band": "outstanding"})


def test_hr_moves_a_rating_only_with_a_reason_and_the_move_is_kept(org) -> None:
    case = to_calibration(org)
    unit = province(org).id
    calibration.open_calibration(org["hr1"], unit, "test-2026")
    with pytest.raises(ValidationFailed, match="reason"):
        calibration.close_calibration(org["hr1"], unit, "test-2026",
                                      {case.id: ("very_good", "")})
    calibration.close_calibration(org["hr1"], unit, "test-2026",
                                  {case.id: ("very_good", "Above the guideline's 10%")})
    [move] = db.session.scalars(select(AuditEvent).where(
        AuditEvent.event_type == AuditEventType.RATING_CALIBRATED))
    assert (move.actor_id, move.details["before"], move.details["after"],
            move.details["reason"]) == (org["hr1"].id, "outstanding", "very_good",
                                        "Above the guideline's 10%")
    assert case_data(case)["final_band"] == "very_good"


def test_no_rating_is_finalised_without_a_recorded_interview(org) -> None:
    from pathlib import Path

    fixture = (Path(__file__).resolve().parents[1] / "data" / "rating_without_interview"
               / "skip_interview.bpmn")
    process_models.deploy(fixture.read_bytes(), fixture.name, org["owner1"])
    db.session.commit()
    case = cases.start_case("skip_interview_fixture", employee_of(org["emp1"]).id, org["hr1"],
                            {"cycle": {"id": "test-2026"}, "rating_band": "outstanding"})
    db.session.add(__import__("app.models", fromlist=["Calibration"]).Calibration(
        cycle_key="test-2026", org_unit_id=province(org).id, opened_by_id=org["hr1"].id))
    db.session.commit()
    with pytest.raises(ValidationFailed, match="without a recorded appraisal interview"):
        complete(org["hr1"], case, "calibrate_rating",
                 {"band_before": "outstanding", "band": "outstanding"})


# --- incentive --------------------------------------------------------------------------------


def test_up_to_the_threshold_the_department_head_alone_approves(org) -> None:
    case = to_calibration(org, incentive_threshold_amount=50000)
    _calibrate(org)
    complete(org["cso1"], case, "head_approval", {"decision": "approve"})
    db.session.expire_all()
    assert db.session.get(Case, case.id).status == CaseStatus.COMPLETED


def test_the_cycle_cap_limits_the_incentive_for_everyone(org) -> None:
    case = to_calibration(org, incentive_cap_percent=5)
    _calibrate(org)
    data = case_data(case)
    assert (data["incentive_share_percent"], data["incentive_amount"]) == (20, 7100)


def test_an_approval_beyond_the_budget_is_refused_with_a_clear_message(org) -> None:
    case = to_calibration(org, budget=10000)
    _calibrate(org)
    with pytest.raises(ValidationFailed) as refused:
        complete(org["cso1"], case, "head_approval", {"decision": "approve"})
    assert "overrun the cycle's incentive budget of PKR 10,000" in refused.value.message
    assert open_task(case, "head_approval")  # nothing changed


def test_a_returned_incentive_goes_to_hr_with_the_reason(org) -> None:
    case = to_calibration(org)
    _calibrate(org)
    with pytest.raises(ValidationFailed):
        complete(org["cso1"], case, "head_approval", {"decision": "return"})
    complete(org["cso1"], case, "head_approval", {"decision": "return",
                                                  "comment": "Check the audits"})
    task = open_task(case, "revise_incentive")
    assert task.candidate_role == "hr"
    with pytest.raises(ValidationFailed, match="at most at its computed amount"):
        complete(org["hr1"], case, "revise_incentive",
                 {"action": "resubmit", "amount": 99999, "note": "More"})
    complete(org["hr1"], case, "revise_incentive",
             {"action": "resubmit", "amount": 20000, "note": "Lowered after the audit check"})
    assert open_task(case, "head_approval").assignee_id == org["cso1"].id
    assert case_data(case)["incentive_amount"] == 20000


# --- segregation of duties -------------------------------------------------------------------


def test_the_scorecard_designer_is_never_the_department_head_approver(org) -> None:
    emp1 = employee_of(org["emp1"])
    district = emp1.org_unit
    district.head_employee_id = employee_of(org["ro1"]).id  # ro1 designs emp1's scorecard
    db.session.commit()
    assert resolve_lane("department_head", emp1).assignee_id == org["cso1"].id
    assert holder_conflict(org["ro1"], emp1, "department_head") is not None


def test_with_no_other_head_the_incentive_cannot_be_routed(org) -> None:
    emp1 = employee_of(org["emp1"])
    top = db.session.scalar(select(OrgUnit).where(OrgUnit.code == "KP-HEALTH"))
    top.head_employee_id = employee_of(org["ro1"]).id
    db.session.commit()
    with pytest.raises(AssignmentError, match="designer of their scorecard"):
        resolve_lane("department_head", emp1)


def test_nobody_approves_their_own_incentive(org) -> None:
    cso1 = employee_of(org["cso1"])
    assert holder_conflict(org["cso1"], cso1, "department_head") is not None


def test_hr_never_calibrates_their_own_rating(org) -> None:
    hr1 = employee_of(org["hr1"])
    assert holder_conflict(org["hr1"], hr1, "hr") is not None
