"""Helpers for the queue, delegation, absence and escalation specs: drive goal-setting cases to
a step through the real services, and add people to the demo department."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from app.extensions import db
from app.models import Case, Employee, HumanTask, TaskStatus, User
from app.services import cases, demo, process_models, tasks
from forms import formdata_from_json
from tests.conftest import employee_of
from tests.helpers import good_scorecard

DATA = Path(__file__).resolve().parent / "data" / "queues"


def open_task(case_id: int, task_name: str | None = None) -> HumanTask:
    db.session.expire_all()
    query = select(HumanTask).where(HumanTask.case_id == case_id,
                                    HumanTask.status == TaskStatus.OPEN)
    if task_name:
        query = query.where(HumanTask.task_name == task_name)
    return db.session.scalars(query).one()


def start_goal_setting(org: dict[str, User], employee: str = "emp1") -> Case:
    return cases.start_case("goal_setting", employee_of(org[employee]).id, org["hr1"])


def to_countersign(org: dict[str, User], employee: str = "emp1") -> HumanTask:
    """A goal-setting case waiting at the countersigning officer (cso1)."""
    case = start_goal_setting(org, employee)
    design = open_task(case.id, "design_scorecard")
    tasks.complete_task(org["ro1"], design.id, formdata_from_json({"kpis": good_scorecard()}))
    review = open_task(case.id, "review_scorecard")
    tasks.complete_task(org[employee], review.id,
                        formdata_from_json({"decision": "agree", "comment": ""}))
    return open_task(case.id, "countersign_scorecard")


def add_person(username: str, full_name: str, reporting_officer_of: str | None = None,
               unit_of: str = "cso1") -> User:
    """A new demo colleague with a login, in the same unit as `unit_of` (and, if given, the
    reporting officer of `reporting_officer_of`)."""
    with_unit = db.session.scalar(
        select(Employee).join(User, Employee.user_id == User.id).where(User.username == unit_of))
    user = User(username=username, full_name=full_name, email=f"{username}@health.kp.example")
    user.set_password(demo.DEMO_PASSWORD)
    db.session.add(user)
    db.session.flush()
    employee = Employee(employee_number=f"KP-T-{username}", full_name=full_name,
                        org_unit_id=with_unit.org_unit_id, user_id=user.id,
                        email=user.email)
    db.session.add(employee)
    db.session.flush()
    if reporting_officer_of is not None:
        officer = db.session.scalar(select(Employee).join(User, Employee.user_id == User.id)
                                    .where(User.username == reporting_officer_of))
        officer.reporting_officer_id = employee.id
    db.session.commit()
    return user


def deploy_hr_pool(org: dict[str, User]) -> None:
    path = DATA / "hr_pool.bpmn"
    process_models.deploy(path.read_bytes(), path.name, org["owner1"])
    db.session.commit()
