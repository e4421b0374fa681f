"""Absences (acting appointments): "from A to B my tasks — all, or of these processes — go to X".

Declaring one in force now moves the absentee's open tasks at once; new tasks in the window are
routed at creation (app.services.routing reads the absences in force by the app clock); the
timer worker applies each window's start and end when their time comes (`apply_due_edges`), so
an absence ends by itself and the tasks go back. A declaration that would close a loop of
overlapping absences (A to B while B is away to A) is refused.

An absence limited to processes covers a task of any of them, the task's own process (the
called one, for a step inside a call activity: goal setting within an annual appraisal) or its
case's: "Goal setting" covers the design step wherever it runs, "Annual appraisal" every step
of an appraisal case.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import and_, or_, select

from app.clock import clock
from app.extensions import db
from app.i18n import N_
from app.models import Absence, AuditEventType, ProcessModel, ProcessVersion, Role, User
from app.models.absence import as_utc
from app.services import audit, routing
from app.services.access import is_admin
from app.services.assignment import holds_role_for_unit
from app.services.errors import Conflict, Message, NotFound, PermissionDenied, ValidationFailed
from app.services.transaction import unit_of_work

log = logging.getLogger(__name__)


def may_declare_for(actor: User, user: User) -> bool:
    """Oneself; an administrator; or HR of the unit of the absentee's post."""
    if actor.id == user.id or is_admin(actor):
        return True
    employee = user.employee
    return employee is not None and holds_role_for_unit(actor, Role.HR, employee.org_unit_id)


def with_called(keys: Sequence[str]) -> set[str]:
    """The processes `keys` and every process their deployed versions call, transitively: the
    processes whose steps an absence limited to `keys` can cover (one for `annual_appraisal`
    covers the goal setting it calls; see `Absence.covers`)."""
    found, frontier = set(keys), set(keys)
    while frontier:
        called = {key for (pins,) in db.session.execute(
            select(ProcessVersion.dependencies).join(ProcessModel)
            .where(ProcessModel.key.in_(sorted(frontier))))
            for key in ((pins or {}).get("processes") or {})}
        frontier = called - found
        found |= called
    return found


def _scopes_meet(a: Sequence[str] | None, b: Sequence[str] | None) -> bool:
    """Whether two absences' scopes can cover one task (a goal-setting step inside an annual
    appraisal is covered by an absence for either process)."""
    return not a or not b or bool(with_called(a) & with_called(b))


def _overlapping(user_id: int, starts_at: datetime, ends_at: datetime) -> list[Absence]:
    return list(db.session.scalars(
        select(Absence).where(Absence.user_id == user_id, Absence.cancelled_at.is_(None),
                              Absence.starts_at < ends_at, Absence.ends_at > starts_at)
        .order_by(Absence.starts_at, Absence.id)
    ))


def loop_through(user_id: int, delegate_id: int, starts_at: datetime, ends_at: datetime,
                 process_keys: Sequence[str] | None) -> list[int] | None:
    """The chain of user ids that would lead from `delegate_id` back to `user_id` through
    absences overlapping the window with meeting scopes, or None when there is no loop."""
    stack: list[list[int]] = [[user_id, delegate_id]]
    seen: set[int] = set()
    while stack:
        path = stack.pop()
        current = path[-1]
        if current == user_id:
            return path
        if current in seen:
            continue
        seen.add(current)
        for absence in _overlapping(current, starts_at, ends_at):
            if _scopes_meet(absence.process_keys, process_keys):
                stack.append([*path, absence.delegate_id])
    return None


def declare_absence(
    actor: User,
    user_id: int,
    delegate_id: int | None,
    starts_at: datetime | None,
    ends_at: datetime | None,
    reason: str | None,
    process_keys: Sequence[str] | None = None,
) -> Absence:
    """Record an absence; if it is already in force, move the absentee's tasks now."""
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(Message(N_("No user %(id)s."), id=user_id))
    if not may_declare_for(actor, user):
        raise PermissionDenied(N_("You may declare only your own absence (or, as HR or an "
                                  "administrator, one for your unit)."))
    errors: dict[str, list[str]] = {}
    delegate = db.session.get(User, delegate_id) if delegate_id is not None else None
    if delegate is None or not delegate.active:
        errors["delegate"] = ["Choose an active colleague to act for you."]
    elif delegate.id == user.id:
        errors["delegate"] = ["Choose someone other than the absentee."]
    if starts_at is None or ends_at is None:
        errors["dates"] = ["Give the first and last day of the absence."]
    elif ends_at <= starts_at:
        errors["dates"] = ["The absence must end after it starts."]
    elif ends_at <= clock.now():
        errors["dates"] = ["This absence is already over."]
    reason = (reason or "").strip()
    if not reason:
        errors["reason"] = ["Say why (e.g. leave, training, acting charge)."]
    keys = sorted(set(process_keys or [])) or None
    if keys:
        known = set(db.session.scalars(select(ProcessModel.key).where(ProcessModel.key.in_(keys))))
        if unknown := [k for k in keys if k not in known]:
            errors["processes"] = [f"Unknown process: {', '.join(unknown)}."]
    if errors:
        raise ValidationFailed(N_("The absence needs attention."), errors)
    assert delegate is not None and starts_at is not None and ends_at is not None
    starts_at, ends_at = starts_at.astimezone(UTC), ends_at.astimezone(UTC)  # stored in UTC
    for other in _overlapping(user.id, starts_at, ends_at):
        if _scopes_meet(other.process_keys, keys):
            raise Conflict(Message(
                N_("%(name)s already has an absence from %(day)s that overlaps this one; "
                   "cancel it first."),
                name=user.full_name, day=f"{other.starts_at:%d %b %Y}"))
    loop = loop_through(user.id, delegate.id, starts_at, ends_at, keys)
    if loop is not None:
        names = " → ".join(routing.username(uid) or "?" for uid in loop)
        raise Conflict(Message(
            N_("These absences would form a loop (%(names)s): choose another delegate."),
            names=names))
    with unit_of_work():
        absence = Absence(user_id=user.id, delegate_id=delegate.id, starts_at=starts_at,
                          ends_at=ends_at, process_keys=keys, reason=reason,
                          created_by_id=actor.id, created_at=clock.now(),
                          start_applied=False, end_applied=False)
        db.session.add(absence)
        db.session.flush()
        audit.record(AuditEventType.ABSENCE_DECLARED, actor=actor,
                     on_behalf_of=user if actor.id != user.id else None,
                     details={"absence_id": absence.id, "user": user.username,
                              "delegate": delegate.username, "from": starts_at.isoformat(),
                              "until": ends_at.isoformat(), "processes": keys,
                              "reason": reason})
        if starts_at <= clock.now():
            _apply_edge(absence, actor)
    return absence


def cancel_absence(actor: User, absence_id: int) -> Absence:
    """End an absence early (or withdraw a future one); its tasks go back at once."""
    absence = db.session.get(Absence, absence_id)
    if absence is None:
        raise NotFound(Message(N_("No absence %(id)s."), id=absence_id))
    if not may_declare_for(actor, absence.user):
        raise PermissionDenied(N_("You may cancel only your own absences."))
    if absence.cancelled_at is not None or absence.end_applied:
        raise Conflict(N_("This absence is already over."))
    with unit_of_work():
        absence.cancelled_at = clock.now()
        audit.record(AuditEventType.ABSENCE_CANCELLED, actor=actor,
                     details={"absence_id": absence.id, "user": absence.user.username,
                              "delegate": absence.delegate.username})
        _apply_edge(absence, actor)
    return absence


def _apply_edge(absence: Absence, actor: User | None) -> int:
    """Re-place the tasks of everyone away now and of this absence's user; mark the edges that
    have passed so the worker does not apply them again. Returns how many tasks moved."""
    now = clock.now()
    absentees = set(routing.absences_in_force(now)) | {absence.user_id}
    if absence.active_at(now):
        reason = f"{absence.user.full_name} is away ({absence.reason})"
    else:
        reason = f"{absence.user.full_name}'s absence ended"
    moved = routing.reroute_tasks_of(absentees, actor=actor, reason=reason)
    if absence.cancelled_at is not None or as_utc(absence.ends_at) <= now:
        absence.start_applied = absence.end_applied = True
    elif as_utc(absence.starts_at) <= now:
        absence.start_applied = True
    return moved


def apply_due_edges(batch_size: int = 100) -> int:
    """The worker's part: apply every absence start or end whose time has come, each in its own
    transaction with the absence row locked (SKIP LOCKED). Returns how many tasks moved."""
    now = clock.now()
    due = list(db.session.scalars(
        select(Absence.id).where(or_(
            and_(Absence.start_applied.is_(False), Absence.cancelled_at.is_(None),
                 Absence.starts_at <= now),
            and_(Absence.start_applied.is_(True), Absence.end_applied.is_(False),
                 Absence.ends_at <= now),
        )).order_by(Absence.id).limit(batch_size)
    ))
    db.session.rollback()
    moved = 0
    for absence_id in due:
        with unit_of_work():
            absence = db.session.scalars(
                select(Absence).where(Absence.id == absence_id, Absence.end_applied.is_(False))
                .with_for_update(skip_locked=True).execution_options(populate_existing=True)
            ).one_or_none()
            if absence is None:
                continue
            moved += _apply_edge(absence, actor=None)
    return moved


def absences_of(user: User) -> list[Absence]:
    """The user's absences and those where they act for someone, newest first."""
    return list(db.session.scalars(
        select(Absence).where(or_(Absence.user_id == user.id, Absence.delegate_id == user.id))
        .order_by(Absence.starts_at.desc(), Absence.id.desc()).limit(100)
    ))
