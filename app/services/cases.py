"""Starting cases, reading them, and keeping task rows in step with the engine."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from app.engine import EngineError, ParsedProcess, ReadyHumanTask, WorkflowRuntime
from app.engine.batch import StartedWorkflow
from app.extensions import db
from app.i18n import N_
from app.models import (
    Absence,
    AuditEvent,
    AuditEventType,
    Case,
    CaseStatus,
    Employee,
    HumanTask,
    ProcessVersion,
    Role,
    TaskStatus,
    User,
)
from app.models.base import utcnow
from app.services import (
    appraisal,
    audit,
    name_search,
    notifications,
    process_models,
    reporting,
    routing,
)
from app.services.access import (
    can_start_case_for,
    can_view_case,
    is_admin,
    is_hr_or_admin,
    visible_cases_query,
)
from app.services.assignment import resolve_lane
from app.services.errors import Conflict, Message, NotFound, PermissionDenied, ValidationFailed
from app.services.org import descendant_unit_ids
from app.services.transaction import unit_of_work


def subject_data(subject: Employee) -> dict[str, Any]:
    """What the engine knows about the case's subject (plain JSON: no ORM objects)."""
    return {
        "subject": {
            "employee_id": subject.id,
            "employee_number": subject.employee_number,
            "name": subject.full_name,
            "designation": subject.designation,
            "grade": subject.grade,
            "org_unit": subject.org_unit.name,
            "base_pay": float(subject.base_pay) if subject.base_pay is not None else 0.0,
        }
    }


def sync_human_tasks(
    case: Case, runtime: WorkflowRuntime, actor: User | None, why: str = "assigned"
) -> list[HumanTask]:
    """Create task rows for newly READY user tasks (assigned from the org data, then routed
    through absences in force) and cancel rows whose engine task is no longer waiting; notify
    each new holder (`why`: "assigned", "returned" or "escalated"). Returns the new rows."""
    ready = {t.engine_task_id: t for t in runtime.ready_human_tasks()}
    open_rows = {t.engine_task_id: t for t in case.tasks if t.status == TaskStatus.OPEN}
    now = utcnow()
    for engine_id, row in open_rows.items():
        if engine_id not in ready:
            row.status = TaskStatus.CANCELLED
            row.completed_at = now
            audit.record(AuditEventType.TASK_CANCELLED, actor=actor, case=case, task=row,
                         details={"task": row.title, "reason": "the process moved on"})
    in_force = routing.absences_in_force(now)
    created = [
        _new_task_row(case, ready_task, now, in_force)
        for engine_id, ready_task in ready.items()
        if engine_id not in open_rows
    ]
    case.tasks.extend(created)
    db.session.flush()
    for row in created:
        _announce_task(case, row, actor, why)
    return created


def _new_task_row(
    case: Case, ready_task: ReadyHumanTask, now: datetime, in_force: dict[int, list[Absence]]
) -> HumanTask:
    """The row for a user task that just became READY: assigned from the org data, then routed
    through the absences in force."""
    assignment = resolve_lane(ready_task.lane, case.subject, case)
    case_key = case.process_version.process_model.key
    process_key = ready_task.process_key or case_key
    route = routing.resolve(
        assignment.assignee_id, (process_key, case_key), case.subject, ready_task.lane, in_force,
    ) if assignment.assignee_id is not None else None
    return HumanTask(
        engine_task_id=ready_task.engine_task_id,
        task_name=ready_task.task_name,
        process_key=process_key,
        title=ready_task.title,
        lane=ready_task.lane,
        form_key=ready_task.form_key or "",
        instructions=ready_task.instructions,
        owner_id=assignment.assignee_id,
        assignee_id=route.holder_id if route else None,
        routed_by_absence_id=route.absence_id if route else None,
        candidate_role=assignment.candidate_role,
        candidate_org_unit_id=assignment.candidate_org_unit_id,
        created_at=now,
        due_at=now + timedelta(days=ready_task.due_in_days)
        if ready_task.due_in_days is not None
        else None,
    )


def _announce_task(case: Case, row: HumanTask, actor: User | None, why: str) -> None:
    """Audit a new (flushed) task row and notify its holder."""
    assignee = routing.username(row.assignee_id)
    # Usually the same person: one lookup (the session keeps loaded users only while used).
    owner = assignee if row.owner_id == row.assignee_id else routing.username(row.owner_id)
    audit.record(
        AuditEventType.TASK_ASSIGNED,
        actor=actor,
        case=case,
        task=row,
        details={
            "task": row.title,
            "assignee": assignee,
            "owner": owner,
            "candidate_role": row.candidate_role,
            "due_at": row.due_at.isoformat() if row.due_at else None,
        },
    )
    notifications.task_assigned(row, why)


def start_case(
    process_key: str,
    subject_employee_id: int,
    started_by: User,
    start_data: dict[str, Any] | None = None,
) -> Case:
    """Start a case on the process's current version, pinned to that version for its life.
    `start_data` goes into the case's data over the defaults (e.g. the `cycle`: see
    app/services/appraisal.py for its keys)."""
    subject = db.session.get(Employee, subject_employee_id)
    if subject is None:
        raise NotFound(Message(N_("No employee with id %(id)s."), id=subject_employee_id))
    if not can_start_case_for(started_by, subject):
        raise PermissionDenied(
            N_("Only HR of the employee's unit or an administrator may start cases, "
               "and never about themselves."))
    with unit_of_work():
        version = process_models.current_version(process_key)
        running = running_cases(version.process_model_id, [subject.id]).get(subject.id)
        if running is not None:
            raise Conflict(
                Message(N_("%(name)s already has a running %(process)s case (#%(case)s)."),
                        name=subject.full_name, process=version.process_model.name, case=running),
                case_id=running,
            )
        parsed = process_models.parsed_version(version)
        check_routable(parsed, subject)
        try:
            runtime = WorkflowRuntime.start(parsed, {
                **appraisal.default_start_data(), **subject_data(subject), **(start_data or {})})
        except EngineError as exc:
            raise ValidationFailed(Message(N_("The process could not start: %(error)s"),
                                           error=str(exc)), {}) from exc
        case = open_case(version, subject, started_by, runtime)
    return case


def running_cases(process_model_id: int, subject_ids: Collection[int]) -> dict[int, int]:
    """Subject employee id -> their running case of this process (a person has at most one).
    One query for many subjects: a cycle launch checks a whole batch at once."""
    rows = db.session.execute(
        select(Case.subject_employee_id, Case.id).where(
            Case.subject_employee_id.in_(list(subject_ids)),
            Case.process_version_id.in_(
                select(ProcessVersion.id).where(ProcessVersion.process_model_id == process_model_id)
            ),
            Case.status == CaseStatus.RUNNING,
        )
    )
    return {subject_id: case_id for subject_id, case_id in rows}


def check_routable(parsed: ParsedProcess, subject: Employee) -> None:
    """Fail before starting if any step of the process cannot be routed for this subject."""
    for lane in dict.fromkeys(task["lane"] for task in parsed.user_tasks):  # each lane once
        resolve_lane(lane, subject)


def open_cases(
    version: ProcessVersion,
    started: Sequence[tuple[Employee, WorkflowRuntime | StartedWorkflow]],
    started_by: User,
    details: dict[str, Any] | None = None,
) -> list[Case]:
    """Insert cases the engine has just started, with their task rows, audit events and
    notifications; part of the caller's transaction. However many cases, the rows go in with
    one INSERT per table: a cycle launch opens hundreds at a time (with `StartedWorkflow`s
    computed in bulk, maybe in worker processes), `start_case` opens one."""
    now = utcnow()
    opened: list[tuple[Case, WorkflowRuntime | StartedWorkflow, bool]] = []
    for subject, runtime in started:
        case = Case(process_version=version, subject=subject, started_by=started_by, tasks=[])
        opened.append((case, runtime, _store_state(case, runtime)))  # inserted with its state
    db.session.add_all([case for case, _, _ in opened])
    db.session.flush()
    in_force = routing.absences_in_force(now)
    new_rows: list[list[HumanTask]] = []
    for case, runtime, _ in opened:
        audit.record(
            AuditEventType.CASE_STARTED,
            actor=started_by,
            case=case,
            details={
                "process": version.process_model.key,
                "version": version.version,
                "subject": case.subject.employee_number,
                **(details or {}),
            },
        )
        rows = [_new_task_row(case, ready, now, in_force) for ready in runtime.ready_human_tasks()]
        case.tasks.extend(rows)
        new_rows.append(rows)
    db.session.flush()
    reporting.project_new((case, runtime) for case, runtime, _ in opened)
    holders = {uid for rows in new_rows for row in rows for uid in (row.assignee_id, row.owner_id)}
    notifications.preload_preferences(holders)
    loaded = routing.load_users(holders)  # held while announcing: no query per task
    with db.session.no_autoflush:  # notifications are queued for one INSERT, not one each
        for (case, _, completed), rows in zip(opened, new_rows, strict=True):
            for row in rows:
                _announce_task(case, row, started_by, "assigned")
            if completed:
                audit.record(AuditEventType.CASE_COMPLETED, actor=started_by, case=case,
                             details={})
    del loaded
    return [case for case, _, _ in opened]


def open_case(
    version: ProcessVersion,
    subject: Employee,
    started_by: User,
    runtime: WorkflowRuntime | StartedWorkflow,
    details: dict[str, Any] | None = None,
) -> Case:
    """`open_cases` for one case."""
    return open_cases(version, [(subject, runtime)], started_by, details)[0]


def _store_state(case: Case, runtime: WorkflowRuntime) -> bool:
    """Copy the engine's state and next timer onto the case; True if the case just ended."""
    case.workflow_state, case.serializer_version = runtime.dump()
    case.timer_due_at = runtime.next_timer_due()
    if runtime.is_completed and case.status != CaseStatus.COMPLETED:
        case.status = CaseStatus.COMPLETED
        case.completed_at = utcnow()
        case.timer_due_at = None
        return True
    if case.status is None:
        case.status = CaseStatus.RUNNING
    return False


def save_runtime(
    case: Case, runtime: WorkflowRuntime, actor: User | None, why: str = "assigned"
) -> None:
    """After the engine ran: mirror its user tasks into rows, store its state and next timer,
    close the case if the process ended, and bring its reporting rows in line. Part of the
    caller's transaction."""
    sync_human_tasks(case, runtime, actor, why)
    if _store_state(case, runtime):
        audit.record(AuditEventType.CASE_COMPLETED, actor=actor, case=case, details={})
    reporting.project(case, runtime)  # the dashboards' rows, in the same transaction


@dataclass(frozen=True)
class CaseView:
    case: Case
    process_name: str
    process_version: int
    open_tasks: list[HumanTask]
    data: dict[str, Any]
    timeline: list[AuditEvent]


def get_case_for(user: User, case_id: int) -> Case:
    case = db.session.get(Case, case_id)
    if case is None:
        raise NotFound(Message(N_("No case %(id)s."), id=case_id))
    if not can_view_case(user, case):
        raise PermissionDenied(N_("You are not a participant in this case."))
    return case


def view_case(user: User, case_id: int) -> CaseView:
    case = get_case_for(user, case_id)
    version = case.process_version
    runtime = WorkflowRuntime.load(
        process_models.parsed_version(version), case.workflow_state, case.serializer_version
    )
    return CaseView(
        case=case,
        process_name=version.process_model.name,
        process_version=version.version,
        open_tasks=[t for t in case.tasks if t.status == TaskStatus.OPEN],
        data=runtime.current_data(),
        timeline=audit.case_timeline(case.id),
    )


def list_cases(user: User, limit: int = 200) -> list[Case]:
    query = (
        visible_cases_query(user)
        .options(
            selectinload(Case.tasks).selectinload(HumanTask.assignee),
            selectinload(Case.subject),
            selectinload(Case.process_version).selectinload(ProcessVersion.process_model),
        )
        .order_by(Case.id.desc())
        .limit(limit)
    )
    return list(db.session.scalars(query))


def may_start_cases(user: User) -> bool:
    """Whether the user may start cases at all: what offers "Start a case", without reading the
    organisation's employees."""
    return is_hr_or_admin(user)


def find_startable_subjects(user: User, text: str,
                            limit: int = name_search.SUGGESTIONS) -> list[Employee]:
    """Employees whose name or employee number contains `text` (two characters or more) and
    whom this user may start a case for — HR of their unit or a unit above it, administrators;
    never themselves: what the start form suggests. One LIMIT query, whatever the size of the
    organisation (`start_case` checks the chosen one again)."""
    matches = name_search.contains_text(text, Employee.full_name, Employee.employee_number)
    if matches is None or not may_start_cases(user):
        return []
    query = select(Employee).where(
        matches, or_(Employee.user_id.is_(None), Employee.user_id != user.id))
    if not is_admin(user):
        scopes = [held.org_unit_id for held in user.roles if held.role == Role.HR]
        if None not in scopes:  # HR of some units (and the units below them)
            units = set().union(*(descendant_unit_ids(unit_id) for unit_id in scopes))
            query = query.where(Employee.org_unit_id.in_(sorted(units)))
    return list(db.session.scalars(query.order_by(Employee.full_name, Employee.id).limit(limit)))


def resolve_subject_id(subject: int | str) -> int:
    """Accept an employee id or an employee number."""
    if isinstance(subject, int):
        return subject
    employee_id = db.session.scalar(select(Employee.id).where(Employee.employee_number == subject))
    if employee_id is None:
        raise NotFound(Message(N_("No employee with number %(number)s."), number=repr(subject)))
    return employee_id
