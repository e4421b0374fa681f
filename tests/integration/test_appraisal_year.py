"""One employee through the whole performance year, the engine's timers driven by the app
clock: goal setting, monthly actuals, the mid-year review on its date, the interview, HR's
calibration and the incentive approval."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import (
    AuditEvent,
    AuditEventType,
    Case,
    CaseStatus,
    IncentiveAward,
)
from app.services import calibration
from tests.appraisal_helpers import (
    ON_TARGET,
    YEAR,
    agree_goals,
    case_data,
    complete,
    fire_timers,
    interview,
    open_tasks,
    province,
    scorecard_with_employee_kpi,
    start,
    through_the_months,
)

pytestmark = pytest.mark.usefixtures("year_clock")  # 5 January of the year (tests/conftest.py)


def test_one_employee_walks_through_the_whole_year(org) -> None:
    case = start(org)
    agree_goals(org, case, scorecard_with_employee_kpi())
    assert open_tasks(case) == []  # waiting for January to end
    assert fire_timers() == 0

    def revise_at_mid_year(org, case) -> None:  # noqa: ANN001
        complete(org["emp1"], case, "self_assessment", {"progress": "Attendance lagging"})
        revised = scorecard_with_employee_kpi()
        revised[0]["target"] = 11000
        complete(org["ro1"], case, "officer_review", {
            "comment": "The district lost two vaccinators", "revise_kpis": True,
            "revision_reason": "Two vaccinator posts fell vacant in May", "kpis": revised})
        complete(org["cso1"], case, "approve_revision", {"decision": "approve"})

    through_the_months(org, case, ON_TARGET, on_mid_year=revise_at_mid_year)
    data = case_data(case)
    assert [m["month"] for m in data["actuals"]] == [f"{YEAR}-{m:02d}" for m in range(1, 12)]
    assert data["original_scorecard"][0]["target"] == 12000
    assert data["scorecard"][0]["target"] == 11000
    assert data["scorecard_revisions"][0]["reason"] == "Two vaccinator posts fell vacant in May"

    interview(org, case, ON_TARGET)
    data = case_data(case)
    assert data["score"] == 100.0 and data["rating_band"] == "outstanding"
    assert [t.task_name for t in open_tasks(case)] == ["calibrate_rating"]

    calibration.open_calibration(org["hr1"], province(org).id, "test-2026")
    result = calibration.close_calibration(org["hr1"], province(org).id, "test-2026", {})
    assert (result.calibrated, result.closed) == (1, True)

    # 20% of 142,000 = 28,400: above the 25,000 threshold, so finance approves too.
    head = open_tasks(case)[0]
    assert (head.task_name, head.assignee_id) == ("head_approval", org["cso1"].id)
    complete(org["cso1"], case, "head_approval", {"decision": "approve"})
    complete(org["fin1"], case, "finance_approval", {"decision": "approve"})
    db.session.expire_all()
    assert db.session.get(Case, case.id).status == CaseStatus.COMPLETED
    award = db.session.scalar(select(IncentiveAward).where(IncentiveAward.case_id == case.id))
    assert float(award.amount) == 28400
    events = {e.event_type for e in db.session.scalars(
        select(AuditEvent).where(AuditEvent.case_id == case.id))}
    assert {AuditEventType.TIMER_FIRED, AuditEventType.INCENTIVE_AWARDED} <= events
