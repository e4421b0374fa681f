"""Moving a task between people: claim and unclaim a pool task, delegate it to a colleague,
hand it back, recall it, and reassign it (administrators and HR, with a reason).

The task keeps its owner (whom the process, a claim or a reassignment made responsible) apart
from its holder, so a delegate's completion is recorded "X on behalf of Y". Every move passes
through `assignment.ensure_may_hold` (segregation of duties) and `routing.place` (absences), and
happens under the case's row lock, like completion, so a move and a completion never interleave.
"""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.i18n import N_
from app.models import AuditEventType, Case, HumanTask, Role, TaskStatus, User
from app.services import audit, notifications, routing
from app.services.access import is_admin
from app.services.assignment import EMPLOYEE, ensure_may_hold, holds_role_for_unit, may_act_on
from app.services.errors import (
    Conflict,
    Message,
    NotFound,
    PermissionDenied,
    TaskAlreadyCompleted,
    ValidationFailed,
)

MAX_NOTE = 2000


def _locked_open_task(task_id: int) -> HumanTask:
    task = db.session.get(HumanTask, task_id)
    if task is None:
        raise NotFound(Message(N_("No task %(id)s."), id=task_id))
    db.session.scalars(
        select(Case).where(Case.id == task.case_id).with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    db.session.refresh(task)
    if task.status != TaskStatus.OPEN:
        raise TaskAlreadyCompleted(Message(N_("“%(task)s” is already %(status)s."),
                                           task=task.title, status=Message(task.status.value)),
                                   task_id=task.id)
    return task


# Each field's refusals, written out whole so that a page can show them in its language.
CHOOSE_PERSON = {"delegate": N_("Choose the delegate."), "assignee": N_("Choose the assignee.")}
TEXT_REQUIRED = {"note": N_("A note is required."), "reason": N_("A reason is required.")}
TEXT_TOO_LONG = {"note": N_("The note is too long."), "reason": N_("The reason is too long.")}


def _user(user_id: int | None, what: str) -> User:
    user = db.session.get(User, user_id) if user_id is not None else None
    if user is None or not user.active:
        raise ValidationFailed(CHOOSE_PERSON[what], {what: ["Choose an active user."]})
    return user


def _text(value: str | None, field: str, required: bool) -> str:
    text = (value or "").strip()
    if required and not text:
        raise ValidationFailed(TEXT_REQUIRED[field], {field: ["This field is required."]})
    if len(text) > MAX_NOTE:
        raise ValidationFailed(TEXT_TOO_LONG[field], {field: [f"At most {MAX_NOTE}."]})
    return text


def _run(action):  # noqa: ANN001, ANN202 - tiny local decorator
    """One transaction per move: commit, or roll back everything."""

    def wrapper(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        try:
            result = action(*args, **kwargs)
            db.session.commit()
            return result
        except BaseException:
            db.session.rollback()
            raise

    wrapper.__doc__, wrapper.__name__ = action.__doc__, action.__name__
    return wrapper


@_run
def claim_task(user: User, task_id: int) -> HumanTask:
    """Take an unclaimed pool task (offered to a role in a unit) into one's own hands."""
    task = _locked_open_task(task_id)
    if task.candidate_role is None:
        raise Conflict(N_("Only tasks offered to a role can be claimed."))
    if task.owner_id is not None:
        holder = task.owner.full_name if task.owner else "someone"
        raise Conflict(Message(N_("“%(task)s” was already claimed by %(holder)s."),
                               task=task.title, holder=holder), task_id=task.id)
    if not holds_role_for_unit(user, Role(task.candidate_role), task.candidate_org_unit_id):
        raise PermissionDenied(N_("This task is offered to a role you do not hold for its unit."))
    ensure_may_hold(user, task.case.subject, task.lane)
    task.owner_id = user.id
    routing.place(task, actor=user)
    audit.record(AuditEventType.TASK_CLAIMED, actor=user, case=task.case, task=task,
                 details={"task": task.title, "holder": routing.username(task.assignee_id)})
    return task


@_run
def unclaim_task(user: User, task_id: int) -> HumanTask:
    """Put a claimed pool task back in its role's pool."""
    task = _locked_open_task(task_id)
    if task.candidate_role is None:
        raise Conflict(N_("Only tasks offered to a role can be returned to the pool."))
    if task.owner_id != user.id and not is_admin(user):
        raise PermissionDenied(N_("Only the person who claimed this task can unclaim it."))
    task.owner_id = task.delegate_id = None
    task.delegation_note = None
    routing.place(task, actor=user)
    audit.record(AuditEventType.TASK_UNCLAIMED, actor=user, case=task.case, task=task,
                 details={"task": task.title, "role": task.candidate_role})
    return task


@_run
def delegate_task(user: User, task_id: int, to_user_id: int | None, note: str | None) -> HumanTask:
    """The owner hands one task to a colleague, with a note; the owner can recall it."""
    task = _locked_open_task(task_id)
    if task.owner_id != user.id:
        raise PermissionDenied(
            N_("Only the task's owner can delegate it (claim a pool task first)."))
    if task.lane == EMPLOYEE:
        raise Conflict(N_("An employee's own agreement cannot be delegated."))
    to_user = _user(to_user_id, "delegate")
    if to_user.id == user.id:
        raise ValidationFailed(N_("Choose someone else."), {"delegate": ["That is you."]})
    ensure_may_hold(to_user, task.case.subject, task.lane)
    note = _text(note, "note", required=True)
    task.delegate_id, task.delegation_note = to_user.id, note
    route = routing.place(task, actor=user)
    audit.record(AuditEventType.TASK_DELEGATED, actor=user, case=task.case, task=task,
                 details={"task": task.title, "to": to_user.username, "note": note,
                          "holder": routing.username(route.holder_id) if route else None})
    notifications.task_routed(task, task.assignee_id,
                              reason=f"delegated by {user.full_name}: {note}")
    return task


@_run
def hand_back_task(user: User, task_id: int, note: str | None = None) -> HumanTask:
    """The delegate gives the task back to its owner."""
    task = _locked_open_task(task_id)
    if task.delegate_id is None or user.id not in (task.delegate_id, task.assignee_id):
        raise PermissionDenied(N_("Only the colleague it was delegated to can hand it back."))
    note = _text(note, "note", required=False)
    task.delegate_id, task.delegation_note = None, None
    routing.place(task, actor=user)
    audit.record(AuditEventType.TASK_HANDED_BACK, actor=user, case=task.case, task=task,
                 details={"task": task.title, "to": routing.username(task.assignee_id),
                          "note": note})
    notifications.task_routed(task, task.assignee_id,
                              reason=f"handed back by {user.full_name}" + (f": {note}" if note
                                                                            else ""))
    return task


@_run
def recall_task(user: User, task_id: int) -> HumanTask:
    """The owner takes a delegated task back."""
    task = _locked_open_task(task_id)
    if task.owner_id != user.id:
        raise PermissionDenied(N_("Only the task's owner can recall it."))
    if task.delegate_id is None:
        raise Conflict(N_("This task is not delegated."))
    delegate = routing.username(task.delegate_id)
    task.delegate_id, task.delegation_note = None, None
    routing.place(task, actor=user)
    audit.record(AuditEventType.TASK_RECALLED, actor=user, case=task.case, task=task,
                 details={"task": task.title, "from": delegate})
    return task


def can_reassign(user: User, task: HumanTask) -> bool:
    """Administrators, and HR of the subject's unit; never in a case about themselves."""
    subject = task.case.subject
    if subject.user_id == user.id:
        return False
    return is_admin(user) or holds_role_for_unit(user, Role.HR, subject.org_unit_id)


@_run
def reassign_task(actor: User, task_id: int, to_user_id: int | None, reason: str | None
                  ) -> HumanTask:
    """Give the task a new owner, with a reason (e.g. the officer was transferred)."""
    task = _locked_open_task(task_id)
    if not can_reassign(actor, task):
        raise PermissionDenied(N_("Only an administrator or HR of the employee's unit can "
                                  "reassign tasks, and never in a case about themselves."))
    to_user = _user(to_user_id, "assignee")
    ensure_may_hold(to_user, task.case.subject, task.lane)
    reason = _text(reason, "reason", required=True)
    before = routing.username(task.assignee_id)
    task.owner_id, task.delegate_id, task.delegation_note = to_user.id, None, None
    routing.place(task, actor=actor)
    audit.record(AuditEventType.TASK_REASSIGNED, actor=actor, case=task.case, task=task,
                 details={"task": task.title, "from": before, "to": to_user.username,
                          "holder": routing.username(task.assignee_id), "reason": reason})
    notifications.task_routed(task, task.assignee_id,
                              reason=f"reassigned by {actor.full_name}: {reason}")
    return task


def delegated_by(user: User, limit: int = 100) -> list[HumanTask]:
    """Open tasks the user owns but someone else holds (delegated, or routed by absence)."""
    return list(db.session.scalars(
        select(HumanTask)
        .where(HumanTask.status == TaskStatus.OPEN, HumanTask.owner_id == user.id,
               HumanTask.assignee_id != user.id)
        .order_by(HumanTask.due_at, HumanTask.id)
        .limit(limit)
    ))


def may_hand_back(user: User, task: HumanTask) -> bool:
    return task.delegate_id is not None and user.id in (task.delegate_id, task.assignee_id)


def may_delegate(user: User, task: HumanTask) -> bool:
    return task.owner_id == user.id and task.lane != EMPLOYEE and may_act_on(user, task)


def user_id_for(username: str) -> int | None:
    """The id of the user with this username (API clients name people by username)."""
    return db.session.scalar(select(User.id).where(User.username == username.strip()))
