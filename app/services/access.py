"""Who may see a case. Acting on tasks is `assignment.may_act_on`."""

from __future__ import annotations

from sqlalchemy import exists, or_, select
from sqlalchemy.sql import Select

from app.models import Case, Employee, HumanTask, Role, User
from app.services.assignment import holds_role_for_unit
from app.services.org import descendant_unit_ids


def is_admin(user: User) -> bool:
    return user.has_role(Role.ADMIN)


def is_hr_or_admin(user: User) -> bool:
    """HR of some unit (or of the whole organisation), or an administrator: who may import org
    data, define cycles and start cases at all (each act then checks the units involved)."""
    return is_admin(user) or user.has_role(Role.HR)


def can_view_case(user: User, case: Case) -> bool:
    """Participants (subject, their officers, anyone who held a task), HR of the subject's unit,
    auditors and admins."""
    if is_admin(user) or user.has_role(Role.AUDITOR):
        return True
    subject = case.subject
    if holds_role_for_unit(user, Role.HR, subject.org_unit_id):
        return True
    officer_user_ids = {
        subject.user_id,
        subject.reporting_officer.user_id if subject.reporting_officer else None,
        subject.countersigning_officer.user_id if subject.countersigning_officer else None,
    }
    if user.id in officer_user_ids:
        return True
    return any(t.assignee_id == user.id or t.completed_by_id == user.id for t in case.tasks)


def can_start_case_for(user: User, subject: Employee) -> bool:
    """HR of the subject's unit or an admin, and never about themselves."""
    if subject.user_id == user.id:
        return False
    return is_admin(user) or holds_role_for_unit(user, Role.HR, subject.org_unit_id)


def visible_cases_query(user: User) -> Select:
    query = select(Case).join(Employee, Case.subject_employee_id == Employee.id)
    if is_admin(user) or user.has_role(Role.AUDITOR):
        return query
    conditions = [
        Employee.user_id == user.id,
        Employee.reporting_officer_id.in_(select(Employee.id).where(Employee.user_id == user.id)),
        Employee.countersigning_officer_id.in_(
            select(Employee.id).where(Employee.user_id == user.id)
        ),
        exists().where(
            HumanTask.case_id == Case.id,
            or_(HumanTask.assignee_id == user.id, HumanTask.completed_by_id == user.id),
        ),
    ]
    for held in user.roles:
        if held.role == Role.HR:
            if held.org_unit_id is None:
                return query
            conditions.append(Employee.org_unit_id.in_(descendant_unit_ids(held.org_unit_id)))
    return query.where(or_(*conditions))
