"""Claim and unclaim pool tasks; delegate, complete on behalf, hand back, recall; reassign.
Every move passes the segregation-of-duties check."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.clock import clock
from app.extensions import db
from app.models import AuditEvent, AuditEventType, HumanTask, Role, TaskStatus, User, UserRole
from app.services import absences, cases, delegation, tasks
from app.services.assignment import actionable_tasks
from app.services.errors import AssignmentError, Conflict, PermissionDenied, ValidationFailed
from forms import formdata_from_json
from tests.conftest import employee_of
from tests.helpers import good_scorecard
from tests.queue_helpers import add_person, deploy_hr_pool, open_task, to_countersign

APPROVE = {"decision": "approve", "comment": ""}


def _events(task_id: int, event_type: AuditEventType) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(
        AuditEvent.human_task_id == task_id, AuditEvent.event_type == event_type)))


@pytest.fixture
def pool_task(org: dict[str, User]) -> HumanTask:
    deploy_hr_pool(org)
    case = cases.start_case("hr_pool_fixture", employee_of(org["emp1"]).id, org["admin"])
    return open_task(case.id)


# -- claim / unclaim ----------------------------------------------------------------------------


def test_a_pool_task_is_offered_to_every_role_holder_until_claimed(org, pool_task) -> None:
    hr2 = add_person("hr2", "Second HR Officer")
    db.session.add(UserRole(user_id=hr2.id, role=Role.HR, org_unit_id=None))
    db.session.commit()
    assert pool_task.assignee_id is None and pool_task.owner_id is None
    assert pool_task in actionable_tasks(org["hr1"])
    assert pool_task in actionable_tasks(db.session.get(User, hr2.id))

    delegation.claim_task(org["hr1"], pool_task.id)
    db.session.expire_all()
    task = db.session.get(HumanTask, pool_task.id)
    assert (task.owner_id, task.assignee_id) == (org["hr1"].id, org["hr1"].id)
    assert task not in actionable_tasks(db.session.get(User, hr2.id))
    assert len(_events(task.id, AuditEventType.TASK_CLAIMED)) == 1


def test_a_claimed_task_cannot_be_claimed_again(org, pool_task) -> None:
    delegation.claim_task(org["hr1"], pool_task.id)
    with pytest.raises(Conflict, match="already claimed"):
        delegation.claim_task(org["hr1"], pool_task.id)


def test_only_holders_of_the_role_may_claim(org, pool_task) -> None:
    with pytest.raises(PermissionDenied):
        delegation.claim_task(org["fin1"], pool_task.id)


def test_nobody_claims_a_pool_task_about_themselves(org) -> None:
    deploy_hr_pool(org)
    case = cases.start_case("hr_pool_fixture", employee_of(org["hr1"]).id, org["admin"])
    task = open_task(case.id)
    assert task not in actionable_tasks(org["hr1"])
    with pytest.raises(AssignmentError, match="cannot go to"):
        delegation.claim_task(org["hr1"], task.id)


def test_unclaim_puts_the_task_back_in_the_pool(org, pool_task) -> None:
    delegation.claim_task(org["hr1"], pool_task.id)
    delegation.unclaim_task(org["hr1"], pool_task.id)
    db.session.expire_all()
    task = db.session.get(HumanTask, pool_task.id)
    assert (task.owner_id, task.assignee_id) == (None, None)
    assert task in actionable_tasks(org["hr1"])
    assert len(_events(task.id, AuditEventType.TASK_UNCLAIMED)) == 1


# -- delegate / hand back / recall --------------------------------------------------------------


def test_the_delegate_completes_the_task_on_the_owners_behalf(org) -> None:
    task = to_countersign(org)
    delegation.delegate_task(org["cso1"], task.id, org["owner1"].id, "Please clear this today")
    db.session.expire_all()
    assert task not in actionable_tasks(org["cso1"])
    assert [t.id for t in actionable_tasks(org["owner1"])] == [task.id]

    tasks.complete_task(org["owner1"], task.id, formdata_from_json(APPROVE))
    [completed] = _events(task.id, AuditEventType.TASK_COMPLETED)
    assert (completed.actor_id, completed.on_behalf_of_id) == (org["owner1"].id, org["cso1"].id)
    [delegated] = _events(task.id, AuditEventType.TASK_DELEGATED)
    assert delegated.details["note"] == "Please clear this today"
    assert delegated.details["to"] == "owner1"


def test_the_owner_cannot_complete_a_task_while_it_is_delegated(org) -> None:
    task = to_countersign(org)
    delegation.delegate_task(org["cso1"], task.id, org["owner1"].id, "cover for me")
    with pytest.raises(PermissionDenied):
        tasks.complete_task(org["cso1"], task.id, formdata_from_json(APPROVE))


def test_the_delegate_hands_the_task_back(org) -> None:
    task = to_countersign(org)
    delegation.delegate_task(org["cso1"], task.id, org["owner1"].id, "cover for me")
    delegation.hand_back_task(org["owner1"], task.id, "Not my area")
    db.session.expire_all()
    task = db.session.get(HumanTask, task.id)
    assert (task.assignee_id, task.delegate_id) == (org["cso1"].id, None)
    [event] = _events(task.id, AuditEventType.TASK_HANDED_BACK)
    assert event.actor_id == org["owner1"].id and event.details["note"] == "Not my area"


def test_the_owner_recalls_a_delegated_task(org) -> None:
    task = to_countersign(org)
    delegation.delegate_task(org["cso1"], task.id, org["owner1"].id, "cover for me")
    delegation.recall_task(org["cso1"], task.id)
    db.session.expire_all()
    assert db.session.get(HumanTask, task.id).assignee_id == org["cso1"].id
    assert task not in actionable_tasks(org["owner1"])
    assert _events(task.id, AuditEventType.TASK_RECALLED)[0].details["from"] == "owner1"


def test_only_the_owner_delegates(org) -> None:
    task = to_countersign(org)
    with pytest.raises(PermissionDenied):
        delegation.delegate_task(org["ro1"], task.id, org["owner1"].id, "mine now")


def test_a_delegation_needs_a_note(org) -> None:
    task = to_countersign(org)
    with pytest.raises(ValidationFailed):
        delegation.delegate_task(org["cso1"], task.id, org["owner1"].id, "  ")


def test_a_task_is_never_delegated_to_its_own_subject(org) -> None:
    task = to_countersign(org)
    with pytest.raises(AssignmentError, match="cannot go to"):
        delegation.delegate_task(org["cso1"], task.id, org["emp1"].id, "you decide")
    db.session.expire_all()
    assert db.session.get(HumanTask, task.id).assignee_id == org["cso1"].id


def test_a_countersignature_is_never_delegated_to_the_reporting_officer(org) -> None:
    task = to_countersign(org)
    with pytest.raises(AssignmentError, match="reporting officer"):
        delegation.delegate_task(org["cso1"], task.id, org["ro1"].id, "sign your own work")


def test_the_reporting_officers_steps_never_go_to_the_countersigning_officer(org) -> None:
    """She would countersign her own work: the design step is refused her whichever way it
    moves (delegation, reassignment, an absence), and stays with the reporting officer."""
    case = cases.start_case("goal_setting", employee_of(org["emp1"]).id, org["hr1"])
    design = open_task(case.id)
    with pytest.raises(AssignmentError) as refused:
        delegation.delegate_task(org["ro1"], design.id, org["cso1"].id, "please design it")
    assert refused.value.message == ("Farah Qureshi countersigns the work of Ayesha Khan's "
                                     "reporting officer and may not do that work themselves.")
    with pytest.raises(AssignmentError, match="countersigns the work"):
        delegation.reassign_task(org["hr1"], design.id, org["cso1"].id, "ro1 is on leave")
    absences.declare_absence(org["ro1"], org["ro1"].id, org["cso1"].id, clock.now(),
                             clock.now() + timedelta(days=3), "Training")
    db.session.expire_all()
    assert db.session.get(HumanTask, design.id).assignee_id == org["ro1"].id
    delegation.delegate_task(org["ro1"], design.id, org["owner1"].id, "please design it")
    assert db.session.get(HumanTask, design.id).assignee_id == org["owner1"].id


def test_the_employees_own_agreement_is_not_delegated(org) -> None:
    case = cases.start_case("goal_setting", employee_of(org["emp1"]).id, org["hr1"])
    design = open_task(case.id, "design_scorecard")
    tasks.complete_task(org["ro1"], design.id, formdata_from_json({"kpis": good_scorecard()}))
    review = open_task(case.id, "review_scorecard")
    with pytest.raises(Conflict, match="cannot be delegated"):
        delegation.delegate_task(org["emp1"], review.id, org["emp2"].id, "agree for me")


def test_a_completed_task_cannot_be_delegated(org) -> None:
    task = to_countersign(org)
    tasks.complete_task(org["cso1"], task.id, formdata_from_json(APPROVE))
    with pytest.raises(Conflict):
        delegation.delegate_task(org["cso1"], task.id, org["owner1"].id, "too late")


# -- reassign -----------------------------------------------------------------------------------


def test_hr_reassigns_a_task_with_a_reason_and_the_new_assignee_owns_it(org) -> None:
    task = to_countersign(org)
    delegation.reassign_task(org["hr1"], task.id, org["owner1"].id, "Farah Qureshi transferred")
    db.session.expire_all()
    task = db.session.get(HumanTask, task.id)
    assert (task.owner_id, task.assignee_id) == (org["owner1"].id, org["owner1"].id)
    [event] = _events(task.id, AuditEventType.TASK_REASSIGNED)
    assert event.actor_id == org["hr1"].id
    assert event.details["reason"] == "Farah Qureshi transferred"
    assert (event.details["from"], event.details["to"]) == ("cso1", "owner1")


def test_a_reassignment_needs_a_reason(org) -> None:
    task = to_countersign(org)
    with pytest.raises(ValidationFailed):
        delegation.reassign_task(org["admin"], task.id, org["owner1"].id, "")


def test_only_hr_or_admins_reassign(org) -> None:
    task = to_countersign(org)
    with pytest.raises(PermissionDenied):
        delegation.reassign_task(org["cso1"], task.id, org["owner1"].id, "I would rather not")


def test_a_reassignment_never_routes_a_task_to_its_subject(org) -> None:
    task = to_countersign(org)
    with pytest.raises(AssignmentError):
        delegation.reassign_task(org["admin"], task.id, org["emp1"].id, "let her decide")


def test_the_queue_of_tasks_held_by_others_lists_delegations(org) -> None:
    task = to_countersign(org)
    delegation.delegate_task(org["cso1"], task.id, org["owner1"].id, "cover for me")
    assert [t.id for t in delegation.delegated_by(org["cso1"])] == [task.id]
    assert db.session.get(HumanTask, task.id).status == TaskStatus.OPEN
