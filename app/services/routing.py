"""Where a task goes now: its owner (or the colleague the owner delegated it to), followed
through every absence in force, never to someone segregation of duties excludes.

Routing is materialised: the holder is written to `human_tasks.assignee_id` when a task is
created, delegated, claimed or reassigned, and again when an absence starts, ends or is
cancelled (the timer worker applies window edges by the app clock). So the queue stays one indexed
query on `assignee_id` however large the table, instead of resolving "who acts now" per row.

Chains resolve to the final delegate (A away to B, B away to C: C holds A's tasks). A loop
(A to B, B to A) is refused when declared; one that slips in anyway (two declarations at once)
is resolved deterministically: nobody in the loop is present, so the task stays with its owner.
A hop that segregation of duties forbids (the delegate is the task's subject, or the reporting
officer on a countersignature) stops the chain at the last person allowed to hold it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import lazyload

from app.clock import clock
from app.extensions import db
from app.models import Absence, AuditEventType, Employee, HumanTask, TaskStatus, User
from app.services import audit, notifications
from app.services.assignment import EMPLOYEE, holder_conflict


@dataclass(frozen=True)
class Route:
    holder_id: int
    absence_id: int | None  # the last absence followed, None if the base holds it
    chain: tuple[int, ...]  # base first, holder last
    stopped: str | None = None  # why the chain ended before its last delegate


def absences_in_force(now: datetime | None = None) -> dict[int, list[Absence]]:
    """Every absence in force now, by absent user, earliest first (a handful of rows)."""
    now = now or clock.now()
    rows = db.session.scalars(
        select(Absence)
        .where(Absence.cancelled_at.is_(None), Absence.starts_at <= now, Absence.ends_at > now)
        .order_by(Absence.starts_at, Absence.id)
    )
    by_user: dict[int, list[Absence]] = {}
    for absence in rows:
        by_user.setdefault(absence.user_id, []).append(absence)
    return by_user


def resolve(
    base_id: int,
    process_keys: str | tuple[str | None, ...],
    subject: Employee,
    lane: str | None,
    in_force: dict[int, list[Absence]] | None = None,
) -> Route:
    """Follow `base_id`'s absences (those covering the task's processes: `process_keys_of`)
    to whoever acts now."""
    keys = (process_keys,) if isinstance(process_keys, str) else process_keys
    if lane == EMPLOYEE:  # the employee's own agreement is personal: it waits for them
        return Route(base_id, None, (base_id,))
    in_force = absences_in_force() if in_force is None else in_force
    chain = [base_id]
    holder, absence_id = base_id, None
    while True:
        absence = next((a for a in in_force.get(holder, []) if a.covers(*keys)), None)
        if absence is None:
            return Route(holder, absence_id, tuple(chain))
        if absence.delegate_id in chain:
            return Route(base_id, None, (base_id,), stopped="the absences form a loop")
        conflict = holder_conflict(db.session.get(User, absence.delegate_id), subject, lane)
        if conflict is not None:
            return Route(holder, absence_id, tuple(chain), stopped=conflict)
        chain.append(absence.delegate_id)
        holder, absence_id = absence.delegate_id, absence.id


def process_keys_of(task: HumanTask) -> tuple[str | None, ...]:
    """The processes a task belongs to, for absences limited to processes: its own (the called
    process, e.g. `goal_setting` inside an annual appraisal) and the case's top-level one."""
    return (task.process_key, task.case.process_version.process_model.key)


def base_of(task: HumanTask) -> int | None:
    """Who holds the task when nobody is away: the delegate, else the owner."""
    return task.delegate_id if task.delegate_id is not None else task.owner_id


def place(
    task: HumanTask,
    *,
    actor: User | None,
    in_force: dict[int, list[Absence]] | None = None,
    reason: str | None = None,
) -> Route | None:
    """Write the task's holder from its owner/delegate and the absences in force. Records a
    `task_rerouted` event and notifies the new holder when `reason` is given and it moved.
    Returns the route (None for an unclaimed pool task)."""
    base = base_of(task)
    if base is None:
        task.assignee_id, task.routed_by_absence_id = None, None
        return None
    route = resolve(base, process_keys_of(task), task.case.subject, task.lane, in_force)
    moved = route.holder_id != task.assignee_id
    previous = task.assignee_id
    task.assignee_id, task.routed_by_absence_id = route.holder_id, route.absence_id
    if moved and reason is not None:
        audit.record(
            AuditEventType.TASK_REROUTED, actor=actor, case=task.case, task=task,
            details={"task": task.title, "from": username(previous),
                     "to": username(route.holder_id), "reason": reason,
                     "absence_id": route.absence_id, "stopped": route.stopped},
        )
        notifications.task_routed(task, route.holder_id, reason=reason)
    return route


def reroute_tasks_of(user_ids: Iterable[int], *, actor: User | None, reason: str) -> int:
    """Re-place every open task whose owner or delegate is among `user_ids`; how many moved.

    When an absence changes, only tasks whose base holder is (or just was) away can move, so
    callers pass the absentees in force plus the one whose absence changed."""
    ids = sorted(set(user_ids))
    if not ids:
        return 0
    in_force = absences_in_force()
    rows = db.session.scalars(
        select(HumanTask)
        .where(HumanTask.status == TaskStatus.OPEN)
        .where(or_(HumanTask.delegate_id.in_(ids),
                   and_(HumanTask.delegate_id.is_(None), HumanTask.owner_id.in_(ids))))
        .order_by(HumanTask.id)
    )
    moved = 0
    for task in rows:
        before = task.assignee_id
        place(task, actor=actor, in_force=in_force, reason=reason)
        moved += task.assignee_id != before
    return moved


def load_users(user_ids: Collection[int | None]) -> list[User]:
    """Load many users (without their roles) in one query. The session keeps loaded objects only
    while something references them, so the caller holds the returned list for as long as it
    wants `username` to find them without a query each (a cycle launch announces hundreds of new
    tasks per batch)."""
    wanted = sorted({uid for uid in user_ids if uid is not None})
    if not wanted:
        return []
    return list(db.session.scalars(
        select(User).where(User.id.in_(wanted)).options(lazyload(User.roles))))


def username(user_id: int | None) -> str | None:
    """A user's username for an audit event (found in the session if loaded; else one query,
    without the user's roles)."""
    if user_id is None:
        return None
    user = db.session.get(User, user_id, options=[lazyload(User.roles)])
    return user.username if user else None
