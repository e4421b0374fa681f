"""Reading and completing human tasks.

Completing a task is the hot path of the product and its one dangerous write: the case row is
locked (SELECT ... FOR UPDATE on PostgreSQL, plus an optimistic version column everywhere), the
task's status is re-read under the lock, and engine state, task rows and audit events commit
together exactly once. Of two people completing the same task at once, one wins; the other gets
TaskAlreadyCompleted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import defer, joinedload
from sqlalchemy.orm.exc import StaleDataError

from app.engine import EngineError, TaskNotReadyError, WorkflowRuntime
from app.extensions import db
from app.faults import pause_point
from app.i18n import N_
from app.models import (
    AuditEventType,
    Case,
    CaseStatus,
    Employee,
    HumanTask,
    ProcessVersion,
    TaskStatus,
    User,
)
from app.models.base import utcnow
from app.services import audit, process_models, task_rules
from app.services.assignment import actionable_tasks, may_act_on
from app.services.cases import save_runtime
from app.services.errors import (
    Message,
    NotFound,
    PermissionDenied,
    TaskAlreadyCompleted,
    ValidationFailed,
)
from forms.base import TaskForm
from forms.registry import form_for_key


@dataclass(frozen=True)
class TaskFormView:
    task: HumanTask
    form_class: type[TaskForm]
    case_data: dict[str, Any]
    initial_data: dict[str, Any]


def my_tasks(user: User) -> list[HumanTask]:
    return actionable_tasks(user)


def _case_graph() -> tuple[Any, ...]:
    """What acting on a task reads about its case, loaded with the task in one query instead of
    a lazy load each: the subject and their officers (who may act, who the next step goes to)
    and the version with its process (which spec runs; the diagram's XML is left unread: the
    parsed spec is found by content hash)."""
    return (
        joinedload(Case.subject).joinedload(Employee.reporting_officer),
        joinedload(Case.subject).joinedload(Employee.countersigning_officer),
        joinedload(Case.process_version).options(
            defer(ProcessVersion.bpmn_xml), joinedload(ProcessVersion.process_model)),
    )


_CASE_COLUMNS = [attr.key for attr in Case.__mapper__.column_attrs]
_TASK_COLUMNS = [attr.key for attr in HumanTask.__mapper__.column_attrs]


def get_task_for(user: User, task_id: int) -> HumanTask:
    task = db.session.scalar(
        select(HumanTask).where(HumanTask.id == task_id)
        .options(joinedload(HumanTask.case).options(*_case_graph()))
    )
    if task is None:
        raise NotFound(Message(N_("No task %(id)s."), id=task_id))
    if not may_act_on(user, task):
        raise PermissionDenied(N_("This task is not assigned to you."))
    return task


def _load_runtime(case: Case) -> WorkflowRuntime:
    return WorkflowRuntime.load(
        process_models.parsed_version(case.process_version),
        case.workflow_state,
        case.serializer_version,
    )


def task_form_view(user: User, task_id: int) -> TaskFormView:
    task = get_task_for(user, task_id)
    if task.status != TaskStatus.OPEN:
        raise TaskAlreadyCompleted(Message(N_("“%(task)s” is already %(status)s."),
                                           task=task.title, status=Message(task.status.value)),
                                   task_id=task.id)
    form_class = form_for_key(task.form_key)
    runtime = _load_runtime(task.case)
    try:
        case_data = runtime.task_data(task.engine_task_id)
    except TaskNotReadyError as exc:
        raise TaskAlreadyCompleted(Message(N_("“%(task)s” is no longer waiting."),
                                           task=task.title)) from exc
    return TaskFormView(task, form_class, case_data, form_class.initial_data(case_data))


def _changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    return {
        key: {"before": before.get(key), "after": value}
        for key, value in after.items()
        if before.get(key) != value
    }


def _commit_keeping_state() -> None:
    """Commit without expiring what the session holds: every row the completion read or wrote
    is, at this commit, what the database holds (the case and the task were re-read under the
    case's lock), so the caller's answer (the API's task JSON, the page's redirect) needs no
    reloads. Another completion in the same request re-reads them under its own lock."""
    session = db.session()
    expire = session.expire_on_commit
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = expire


def complete_task(
    user: User, task_id: int, formdata: Any, audit_details: dict[str, Any] | None = None
) -> HumanTask:
    """Validate the submitted form and complete the task, or change nothing at all. A holder
    who is not the task's owner (a delegate, an acting officer) completes it on the owner's
    behalf, and the audit event says so."""
    task = get_task_for(user, task_id)
    try:
        # Lock the case row and re-read its columns (its relationships, loaded above, stay:
        # nothing below reloads them), then the task's, which may have moved meanwhile.
        case = task.case
        db.session.refresh(case, _CASE_COLUMNS, with_for_update=True)
        db.session.refresh(task, _TASK_COLUMNS)
        if task.status != TaskStatus.OPEN or case.status != CaseStatus.RUNNING:
            raise TaskAlreadyCompleted(Message(
                N_("“%(task)s” has already been %(status)s."), task=task.title,
                status=Message(task.status.value)), task_id=task.id)
        if not may_act_on(user, task):  # re-checked under the lock: assignments can move
            raise PermissionDenied(N_("This task is not assigned to you."))
        form_class = form_for_key(task.form_key)
        form = form_class(form_class.prepare_formdata(formdata))
        if not form.validate():
            raise ValidationFailed(N_("Some fields need attention."), form.errors)
        data = form.to_task_data()

        runtime = _load_runtime(case)
        try:
            before = runtime.task_data(task.engine_task_id)
            task_rules.before_complete(task, before, data)
            runtime.complete_task(task.engine_task_id, data)
        except TaskNotReadyError as exc:
            raise TaskAlreadyCompleted(Message(N_("“%(task)s” is no longer waiting."),
                                               task=task.title)) from exc
        except EngineError as exc:
            raise ValidationFailed(Message(N_("The process could not continue: %(error)s"),
                                           error=str(exc)), {}) from exc

        now = utcnow()
        task.status = TaskStatus.COMPLETED
        task.completed_at = now
        task.completed_by_id = user.id
        task.submitted_data = data
        audit.record(
            AuditEventType.TASK_COMPLETED,
            actor=user,
            case=case,
            task=task,
            on_behalf_of=task.owner if task.owner_id not in (None, user.id) else None,
            details={"task": task.title, "form": task.form_key, "changes": _changes(before, data),
                     **(audit_details or {})},
        )
        save_runtime(case, runtime, user,
                     why="returned" if form_class.is_return(data) else "assigned")
        task_rules.after_complete(task, runtime, user)
        db.session.flush()
        pause_point("task_completion.before_commit")
        _commit_keeping_state()
    except StaleDataError as exc:
        db.session.rollback()
        raise TaskAlreadyCompleted(N_("Someone else completed this task a moment ago.")) from exc
    except BaseException:
        db.session.rollback()
        raise
    return task
