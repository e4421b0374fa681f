"""Who may act on what: lanes resolved to people from the org data of the case's subject.

Segregation of duties is enforced here, not in templates: a task in any lane but `employee`
never goes to the case's own subject, the countersigning officer is never the officer whose
work is being countersigned, and whoever actually designed the subject's scorecard (read from the
completed task rows of their running cases, not assumed from the org data) never approves the
incentive it earns.
`holder_conflict` is the one check every later move of a task (claim, delegation, absence
routing, reassignment, escalation) passes through.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, false, or_, select
from sqlalchemy.orm import aliased, joinedload
from sqlalchemy.sql import Select

from app.extensions import db
from app.i18n import N_
from app.models import (
    Case,
    CaseStatus,
    Employee,
    HumanTask,
    ProcessVersion,
    Role,
    TaskStatus,
    User,
)
from app.services.errors import AssignmentError, Message
from app.services.org import descendant_unit_ids

EMPLOYEE = "employee"
REPORTING_OFFICER = "reporting_officer"
COUNTERSIGNING_OFFICER = "countersigning_officer"
# Escalation target: the countersigning officer's own reporting officer, else HR of the unit.
NEXT_LEVEL_OFFICER = "next_level_officer"
# The head of the subject's unit (or the nearest unit above with a head) approves incentives.
DEPARTMENT_HEAD = "department_head"
ROLE_LANES = {"hr": Role.HR, "finance": Role.FINANCE}
KNOWN_LANES = (
    EMPLOYEE, REPORTING_OFFICER, COUNTERSIGNING_OFFICER, NEXT_LEVEL_OFFICER, DEPARTMENT_HEAD,
    *ROLE_LANES
)
# Lanes whose work checks the reporting officer's: never done by that reporting officer.
COUNTERSIGNING_LANES = (COUNTERSIGNING_OFFICER, NEXT_LEVEL_OFFICER)
# The forms whose completion designs the subject's scorecard: the design step of goal setting
# (again after each return), and the mid-year review when it proposes revised KPIs.
SCORECARD_DESIGN_FORM = "scorecard_design"
SCORECARD_REVISION_FORM = "midyear_review"


@dataclass(frozen=True)
class Assignment:
    assignee_id: int | None = None
    candidate_role: str | None = None
    candidate_org_unit_id: int | None = None


# Why a lane cannot be routed, one whole sentence per lane (each a catalogue message).
_NOT_IN_ORG_DATA = {
    REPORTING_OFFICER: N_("%(subject)s has no reporting officer in the org data."),
    COUNTERSIGNING_OFFICER: N_("%(subject)s has no countersigning officer in the org data."),
}
_WITHOUT_LOGIN = {
    # The employee's own steps: `employee` is the subject.
    EMPLOYEE: N_("%(subject)s, login of %(subject)s, has no login."),
    REPORTING_OFFICER: N_("%(employee)s, reporting officer of %(subject)s, has no login."),
    COUNTERSIGNING_OFFICER: N_(
        "%(employee)s, countersigning officer of %(subject)s, has no login."),
}
_TO_THEMSELVES = {
    REPORTING_OFFICER: N_("A reporting_officer task of %(subject)s cannot go to themselves."),
    COUNTERSIGNING_OFFICER: N_(
        "A countersigning_officer task of %(subject)s cannot go to themselves."),
}


def _user_of(employee: Employee | None, lane: str, subject: Employee) -> int:
    if employee is None:
        raise AssignmentError(Message(_NOT_IN_ORG_DATA[lane], subject=subject.full_name))
    if employee.user_id is None:
        names = {"subject": subject.full_name}
        if lane != EMPLOYEE:
            names["employee"] = employee.full_name
        raise AssignmentError(Message(_WITHOUT_LOGIN[lane], **names))
    return employee.user_id


def scorecard_designers(subject: Employee, case: Case | None = None) -> frozenset[int]:
    """The users who actually designed `subject`'s scorecard, in their running cases (the annual
    appraisal whose incentive is being approved, a goal setting in progress) and in `case`:
    everyone who completed its design step (each time: it is designed again after a return) or
    proposed revised KPIs at mid-year, whether as the reporting officer, a delegate, an absent
    officer's stand-in or after a reassignment, and the owner each such completion was made for
    ("X on behalf of Y"). Read from the completed task rows, which record who completed each,
    so neither a delegation nor a later org import hides the designer."""
    if subject.id is None:
        return frozenset()
    in_scope = Case.status == CaseStatus.RUNNING
    if case is not None and case.id is not None:
        in_scope = or_(in_scope, Case.id == case.id)
    rows = db.session.execute(
        select(HumanTask.completed_by_id, HumanTask.owner_id, HumanTask.form_key,
               HumanTask.submitted_data)
        .join(Case, Case.id == HumanTask.case_id)
        .where(Case.subject_employee_id == subject.id, in_scope,
               HumanTask.status == TaskStatus.COMPLETED,
               HumanTask.form_key.in_((SCORECARD_DESIGN_FORM, SCORECARD_REVISION_FORM)))
    )
    designers: set[int] = set()
    for completed_by, owner, form_key, submitted in rows:
        if form_key == SCORECARD_REVISION_FORM and not (submitted or {}).get("revise_kpis"):
            continue  # a mid-year review that left the scorecard as it was designs nothing
        designers.update(uid for uid in (completed_by, owner) if uid is not None)
    return frozenset(designers)


def resolve_lane(lane: str | None, subject: Employee, case: Case | None = None) -> Assignment:
    """The person or role a task in `lane` goes to, for this subject employee, in `case` (whose
    scorecard's actual designers never approve its incentive). Without a case (checking that a
    process can be routed before it starts) nobody has designed anything yet: no query."""
    if lane == EMPLOYEE:
        return Assignment(assignee_id=_user_of(subject, EMPLOYEE, subject))
    if lane == REPORTING_OFFICER:
        officer = subject.reporting_officer
        if officer is not None and officer.id == subject.id:
            raise AssignmentError(Message(
                N_("%(subject)s is recorded as their own reporting officer: no one designs "
                   "or rates their own scorecard."), subject=subject.full_name))
        assignee = _user_of(officer, REPORTING_OFFICER, subject)
    elif lane == COUNTERSIGNING_OFFICER:
        officer = subject.countersigning_officer
        if officer is not None and officer.id == subject.id:
            raise AssignmentError(Message(
                N_("%(subject)s is recorded as their own countersigning officer."),
                subject=subject.full_name))
        if officer is not None and officer.id == subject.reporting_officer_id:
            raise AssignmentError(Message(
                N_("%(officer)s is both reporting and countersigning officer of %(subject)s: "
                   "a countersignature must come from someone else."),
                officer=officer.full_name, subject=subject.full_name))
        assignee = _user_of(officer, COUNTERSIGNING_OFFICER, subject)
    elif lane == NEXT_LEVEL_OFFICER:
        return _next_level_officer(subject)
    elif lane == DEPARTMENT_HEAD:
        designers = scorecard_designers(subject, case) if case is not None else frozenset()
        return Assignment(assignee_id=_department_head(subject, designers))
    elif lane in ROLE_LANES:
        return Assignment(
            candidate_role=str(ROLE_LANES[lane]), candidate_org_unit_id=subject.org_unit_id
        )
    else:
        raise AssignmentError(Message(
            N_("The process names a lane %(lane)s that Meezan cannot resolve."), lane=repr(lane)))
    if assignee == subject.user_id:
        raise AssignmentError(Message(_TO_THEMSELVES[lane], subject=subject.full_name))
    return Assignment(assignee_id=assignee)


def _next_level_officer(subject: Employee) -> Assignment:
    """Whom an overdue countersignature escalates to: the countersigning officer's own reporting
    officer when the org data names one who may hold it, else the HR pool of the subject's unit
    (never a dead end, so an escalation timer can always fire)."""
    countersigning = subject.countersigning_officer
    above = countersigning.reporting_officer if countersigning is not None else None
    excluded = {subject.user_id, countersigning.user_id if countersigning else None,
                subject.reporting_officer.user_id if subject.reporting_officer else None}
    if above is not None and above.user_id is not None and above.user_id not in excluded:
        return Assignment(assignee_id=above.user_id)
    return Assignment(candidate_role=str(Role.HR), candidate_org_unit_id=subject.org_unit_id)


def _department_head(subject: Employee, designers: Collection[int] = ()) -> int:
    """The nearest unit head up the subject's org tree who is neither the subject, nor their
    reporting officer, nor anyone who actually designed their scorecard (`designers`: user ids,
    see `scorecard_designers`): the designer may never be the sole approver of the incentive
    that scorecard earns."""
    excluded = {subject.id, subject.reporting_officer_id}
    unit, seen, skipped = subject.org_unit, set(), []
    while unit is not None and unit.id not in seen:
        seen.add(unit.id)
        head = unit.head
        if (head is not None and head.id not in excluded and head.user_id is not None
                and head.user_id not in designers):
            return head.user_id
        if head is not None:
            skipped.append(head.full_name)
        unit = unit.parent
    if not skipped:
        raise AssignmentError(Message(
            N_("No unit head above %(subject)s may approve their incentive."),
            subject=subject.full_name))
    raise AssignmentError(Message(
        N_("No unit head above %(subject)s may approve their incentive (%(heads)s: the employee, "
           "their reporting officer or a designer of their scorecard)."),
        subject=subject.full_name, heads=", ".join(skipped)))


def holder_conflict(user: User | None, subject: Employee, lane: str | None) -> str | None:
    """Why `user` may not hold a task in `lane` about `subject`, or None if they may.

    Segregation of duties for every move of a task after it was first routed: nobody holds a
    task about themselves (except the employee's own steps), no reporting officer holds the
    countersignature of their own work, and neither the reporting officer nor anyone who
    actually designed the subject's scorecard (`scorecard_designers`) approves its incentive.
    The countersigning officer does not do the reporting officer's steps either: they would
    then countersign their own work. The reason is a `Message` (shown in the reader's
    language)."""
    if user is None or not user.active:
        return Message(N_("That person has no active login."))
    names = {"user": user.full_name, "subject": subject.full_name}
    if lane != EMPLOYEE and subject.user_id == user.id:
        return Message(N_("A task about %(subject)s cannot go to %(subject)s themselves."),
                       **names)
    officer = subject.reporting_officer
    if lane in COUNTERSIGNING_LANES and officer is not None and officer.user_id == user.id:
        return Message(N_("%(user)s is the reporting officer of %(subject)s: a "
                          "countersignature must come from someone else."), **names)
    countersigner = subject.countersigning_officer
    if lane == REPORTING_OFFICER and countersigner is not None and \
            countersigner.user_id == user.id:
        return Message(N_("%(user)s countersigns the work of %(subject)s's reporting officer "
                          "and may not do that work themselves."), **names)
    if lane == DEPARTMENT_HEAD and officer is not None and officer.user_id == user.id:
        return Message(N_("%(user)s is the reporting officer responsible for %(subject)s's "
                          "scorecard and may not be the sole approver of the incentive it "
                          "earns."), **names)
    if lane == DEPARTMENT_HEAD and user.id in scorecard_designers(subject):
        return Message(N_("%(user)s designed %(subject)s's scorecard and may not be the sole "
                          "approver of the incentive it earns."), **names)
    return None


def ensure_may_hold(user: User | None, subject: Employee, lane: str | None) -> None:
    """Refuse (AssignmentError) to route a task to someone segregation of duties excludes."""
    conflict = holder_conflict(user, subject, lane)
    if conflict is not None:
        raise AssignmentError(conflict)


def _role_scope_condition(user: User) -> ColumnElement[bool]:
    """Open role tasks this user's scoped roles cover."""
    clauses = []  # unclaimed pool tasks only: a claimed task has a holder
    for held in user.roles:
        if held.org_unit_id is None:
            clauses.append(HumanTask.candidate_role == str(held.role))
        else:
            clauses.append(
                and_(
                    HumanTask.candidate_role == str(held.role),
                    HumanTask.candidate_org_unit_id.in_(descendant_unit_ids(held.org_unit_id)),
                )
            )
    return and_(HumanTask.assignee_id.is_(None), or_(*clauses)) if clauses else false()


def actionable_tasks_query(user: User) -> Select:
    """Open tasks the user may act on: assigned to them, or offered to a role they hold in scope,
    never a task about themselves."""
    own_employee_ids = select(Employee.id).where(Employee.user_id == user.id)
    # The user's own cases are a handful: PostgreSQL hashes them once and probes each candidate
    # task (found through the open-task indexes), so a large queue never scans cases.
    own_case = aliased(Case)  # never correlated with a join on cases a caller may add
    about_themselves = HumanTask.case_id.in_(
        select(own_case.id).where(own_case.subject_employee_id.in_(own_employee_ids))
    )
    return (
        select(HumanTask)
        .where(HumanTask.status == TaskStatus.OPEN)
        .where(or_(HumanTask.assignee_id == user.id, _role_scope_condition(user)))
        .where(or_(HumanTask.lane == EMPLOYEE, ~about_themselves))
        .order_by(HumanTask.due_at.is_(None), HumanTask.due_at, HumanTask.id)
    )


def holds_role_for_unit(user: User, role: Role, unit_id: int) -> bool:
    for held in user.roles:
        if held.role != role:
            continue
        if held.org_unit_id is None or unit_id in descendant_unit_ids(held.org_unit_id):
            return True
    return False


def may_act_on(user: User, task: HumanTask) -> bool:
    """Whether the user may complete the task (open or not: status is checked separately)."""
    subject = task.case.subject
    if holder_conflict(user, subject, task.lane) is not None:
        return False
    if task.assignee_id is not None:
        return task.assignee_id == user.id
    if task.candidate_role and task.candidate_org_unit_id is not None:
        return holds_role_for_unit(user, Role(task.candidate_role), task.candidate_org_unit_id)
    return False


# My tasks lists at most this many (soonest due first); the paginated queue shows them all.
MY_TASKS_LIMIT = 200


def actionable_tasks(user: User, limit: int = MY_TASKS_LIMIT) -> list[HumanTask]:
    """The user's soonest-due open tasks, with what a task list shows loaded in the same query
    (an officer may hold thousands: one query, not one per row)."""
    return list(db.session.scalars(
        actionable_tasks_query(user).limit(limit).options(
            joinedload(HumanTask.case).joinedload(Case.subject),
            joinedload(HumanTask.case).joinedload(Case.process_version)
            .defer(ProcessVersion.bpmn_xml).joinedload(ProcessVersion.process_model),
            joinedload(HumanTask.assignee),
        )
    ))
