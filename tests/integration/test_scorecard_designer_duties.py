"""Segregation of duties (issue #3): the scorecard designer of a person is never the sole approver
of that person's incentive, where "designer" is whoever actually designed the scorecard: who
completed the design step (a delegate, a reassigned officer, the reporting officer of the
time), every time it was designed, and who proposed revised KPIs at mid-year. Not only the
reporting officer the org data names today.

The department is the demo one with its heads moved so a fallback exists: a district health
officer (`dho00001`, "Employee DHO-00001") heads the district, Nadia Shah (`owner1`) the
department above it. Without the rule the incentive of Ayesha Khan (`emp1`) would go to the
district head, who designed her scorecard for her reporting officer. (Her countersigning
officer, Farah Qureshi, may not design it: she countersigns it.)
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.clock import clock
from app.extensions import db
from app.models import AuditEvent, AuditEventType, Case, Employee, User
from app.services import absences, calibration, delegation
from app.services.assignment import (
    holder_conflict,
    may_act_on,
    resolve_lane,
    scorecard_designers,
)
from app.services.errors import AssignmentError
from tests.appraisal_helpers import (
    ON_TARGET,
    YEAR,
    at,
    case_data,
    complete,
    fire_timers,
    interview,
    open_task,
    province,
    start,
    through_the_months,
)
from tests.conftest import employee_of
from tests.helpers import good_scorecard
from tests.org_factory import add_employees

DESIGNER_REFUSED = ("Employee DHO-00001 designed Ayesha Khan's scorecard and may not be the "
                    "sole approver of the incentive it earns.")


pytestmark = pytest.mark.usefixtures("year_clock")  # 5 January of the year (tests/conftest.py)


@pytest.fixture
def dho(org: dict[str, User]) -> dict[str, User]:
    """The demo org and a district health officer (`dho`), who is nobody's officer."""
    (employee_id,) = add_employees(1, prefix="DHO")
    db.session.commit()
    return {**org, "dho": db.session.get(Employee, employee_id).user}


@pytest.fixture
def heads(dho: dict[str, User]) -> dict[str, User]:
    """The district health officer heads emp1's district, Nadia Shah the department above."""
    org = dho
    district = employee_of(org["emp1"]).org_unit
    district.head_employee_id = employee_of(org["dho"]).id
    province(org).head_employee_id = employee_of(org["owner1"]).id
    db.session.commit()
    return org


def _design_by(org: dict[str, User], case: Case, who: str, *, agree: bool = True) -> None:
    """The reporting officer delegates the design step to `who`, who designs the scorecard."""
    task = open_task(case, "design_scorecard")
    if who != "ro1":
        delegation.delegate_task(org["ro1"], task.id, org[who].id, "On tour: please design it")
    complete(org[who], case, "design_scorecard", {"kpis": good_scorecard()})
    if agree:
        complete(org["emp1"], case, "review_scorecard", {"decision": "agree"})
        complete(org["cso1"], case, "countersign_scorecard", {"decision": "approve"})


def _to_incentive_approval(org: dict[str, User], case: Case) -> None:
    through_the_months(org, case, ON_TARGET)
    interview(org, case, ON_TARGET)
    calibration.open_calibration(org["hr1"], province(org).id, "test-2026")
    calibration.close_calibration(org["hr1"], province(org).id, "test-2026", {})


def test_a_delegate_who_designed_the_scorecard_never_gets_the_incentive_approval(heads) -> None:
    org = heads
    case = start(org, incentive_threshold_amount=50000)  # the head alone approves
    _design_by(org, case, "dho")
    completed = db.session.scalar(select(AuditEvent).where(
        AuditEvent.case_id == case.id, AuditEvent.event_type == AuditEventType.TASK_COMPLETED)
        .order_by(AuditEvent.id))
    assert (completed.actor_id, completed.on_behalf_of_id) == (org["dho"].id, org["ro1"].id)

    _to_incentive_approval(org, case)
    approval = open_task(case, "head_approval")
    assert (approval.owner_id, approval.assignee_id) == (org["owner1"].id, org["owner1"].id)
    assert not may_act_on(org["dho"], approval)

    with pytest.raises(AssignmentError) as refused:
        delegation.delegate_task(org["owner1"], approval.id, org["dho"].id, "Please approve")
    assert refused.value.message == DESIGNER_REFUSED
    with pytest.raises(AssignmentError, match="sole approver"):
        delegation.reassign_task(org["hr1"], approval.id, org["dho"].id, "Nadia is on leave")
    absences.declare_absence(org["owner1"], org["owner1"].id, org["dho"].id, clock.now(),
                             clock.now() + timedelta(days=5), "Hajj")
    assert open_task(case, "head_approval").assignee_id == org["owner1"].id  # chain stops

    complete(org["owner1"], case, "head_approval", {"decision": "approve"})
    assert case_data(case)["incentive_status"] == "approved"


def test_with_no_other_head_the_designers_incentive_cannot_be_routed_to_them(dho) -> None:
    """The district health officer heads the department, the only head above Ayesha."""
    org = dho
    province(org).head_employee_id = employee_of(org["dho"]).id
    db.session.commit()
    case = start(org)
    emp1 = employee_of(org["emp1"])
    assert resolve_lane("department_head", emp1, case).assignee_id == org["dho"].id
    _design_by(org, case, "dho", agree=False)
    with pytest.raises(AssignmentError, match="Employee DHO-00001: the employee, their "
                                              "reporting officer or a designer of their"):
        resolve_lane("department_head", emp1, case)
    assert holder_conflict(org["dho"], emp1, "department_head") == DESIGNER_REFUSED


def test_the_designer_stays_excluded_after_an_org_import_changes_the_reporting_officer(
        org) -> None:
    """ro1 heads the district and designs as reporting officer; an import then names another
    reporting officer: ro1 is still the designer of this year's scorecard."""
    emp1 = employee_of(org["emp1"])
    emp1.org_unit.head_employee_id = employee_of(org["ro1"]).id
    db.session.commit()
    case = start(org)
    _design_by(org, case, "ro1")
    emp1.reporting_officer_id = employee_of(org["owner1"]).id  # what an org import would write
    db.session.commit()
    assert resolve_lane("department_head", emp1, case).assignee_id == org["cso1"].id
    assert holder_conflict(org["ro1"], emp1, "department_head") is not None
    assert holder_conflict(org["cso1"], emp1, "department_head") is None


def test_everyone_who_designed_it_after_a_return_is_a_designer(heads) -> None:
    org = heads
    case = start(org)
    complete(org["ro1"], case, "design_scorecard", {"kpis": good_scorecard()})
    complete(org["emp1"], case, "review_scorecard", {"decision": "return",
                                                     "comment": "Target 1 is unrealistic"})
    _design_by(org, case, "dho", agree=False)  # redesigned by a delegate this time
    emp1 = employee_of(org["emp1"])
    assert scorecard_designers(emp1) == {org["ro1"].id, org["dho"].id}
    assert resolve_lane("department_head", emp1, case).assignee_id == org["owner1"].id


def _mid_year_review_delegated_to_fin1(org: dict[str, User]) -> Case:
    """ro1 designed the scorecard; at mid-year, after the self-assessment, ro1 delegates the
    officer's review to fin1."""
    case = start(org)
    _design_by(org, case, "ro1")
    through_the_months(org, case, ON_TARGET, until_month=5)
    at(f"{YEAR}-07-01", 5)
    fire_timers()
    complete(org["emp1"], case, "self_assessment", {"progress": "On track"})
    review = open_task(case, "officer_review")
    delegation.delegate_task(org["ro1"], review.id, org["fin1"].id, "Please review")
    return case


def test_whoever_proposed_revised_kpis_at_mid_year_is_a_designer(org) -> None:
    """fin1 holds the mid-year review for the reporting officer and revises the KPIs; a review
    that revises nothing designs nothing."""
    case = _mid_year_review_delegated_to_fin1(org)
    revised = case_data(case)["scorecard"]
    revised[0]["target"] = 11000
    complete(org["fin1"], case, "officer_review", {
        "comment": "Lower it", "revise_kpis": True, "revision_reason": "Supply shortage",
        "kpis": revised})
    assert org["fin1"].id in scorecard_designers(employee_of(org["emp1"]))


def test_a_mid_year_review_without_a_revision_designs_nothing(org) -> None:
    case = _mid_year_review_delegated_to_fin1(org)
    complete(org["fin1"], case, "officer_review", {"comment": "Good progress"})
    assert scorecard_designers(employee_of(org["emp1"])) == {org["ro1"].id}
