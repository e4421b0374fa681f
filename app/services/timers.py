"""The timer worker's use case: fire every due timer exactly once.

Cases whose `timer_due_at` has passed are taken one at a time, each in its own transaction, with
the case row locked (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so several workers share the work
without waiting on each other; the optimistic version column guards SQLite). A timer that fired
moves the case's `timer_due_at` on, so no other worker sees it due again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from app.clock import clock
from app.engine import EngineError, FiredTimer, WorkflowRuntime
from app.extensions import db
from app.faults import pause_point
from app.models import AuditEventType, Case, CaseStatus, HumanTask, TaskStatus
from app.services import absences, audit, notifications, process_models, routing
from app.services.cases import save_runtime
from app.services.errors import ServiceError

log = logging.getLogger(__name__)


@dataclass
class TimerRun:
    cases_checked: int = 0
    timers_fired: int = 0
    tasks_rerouted: int = 0
    errors: list[str] = field(default_factory=list)


def due_case_ids(limit: int) -> list[int]:
    now = clock.now()
    return list(
        db.session.scalars(
            select(Case.id)
            .where(Case.status == CaseStatus.RUNNING, Case.timer_due_at <= now)
            .order_by(Case.timer_due_at, Case.id)
            .limit(limit)
        )
    )


def fire_case_timers(case_id: int) -> int:
    """Fire the due timers of one case in one transaction; the number that fired."""
    now = clock.now()
    try:
        case = db.session.scalars(
            select(Case)
            .where(Case.id == case_id, Case.status == CaseStatus.RUNNING,
                   Case.timer_due_at <= now)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        ).one_or_none()
        if case is None:  # another worker has it, or already fired it
            db.session.rollback()
            return 0
        runtime = WorkflowRuntime.load(
            process_models.parsed_version(case.process_version),
            case.workflow_state,
            case.serializer_version,
        )
        open_tasks = {t.task_name: t for t in case.tasks if t.status == TaskStatus.OPEN}
        fired = runtime.fire_due_timers()
        for timer in fired:
            audit.record(
                AuditEventType.TIMER_FIRED,
                case=case,
                details={"element": timer.element_id, "name": timer.name,
                         "at": now.isoformat()},
            )
            _follow_up(timer, open_tasks.get(timer.attached_to or ""))
        escalated = any(t.purpose == ESCALATION for t in fired)
        save_runtime(case, runtime, actor=None, why="escalated" if escalated else "assigned")
        db.session.flush()
        pause_point("timer_run.before_commit")
        db.session.commit()
        return len(fired)
    except StaleDataError:
        db.session.rollback()
        return 0
    except BaseException:
        db.session.rollback()
        raise


REMINDER = "reminder"
ESCALATION = "escalation"


def _follow_up(timer: FiredTimer, task: HumanTask | None) -> None:
    """What a boundary timer means for the people involved, beyond the diagram's own path: a
    reminder mails the task's holder; an escalation records who lost the overdue task (the
    diagram's interrupting timer cancels it and routes the work to the next-level officer)."""
    if task is None or timer.purpose not in (REMINDER, ESCALATION):
        return
    holder = routing.username(task.assignee_id)
    if timer.purpose == REMINDER:
        audit.record(AuditEventType.TASK_REMINDED, case=task.case, task=task,
                     details={"task": task.title, "holder": holder,
                              "due_at": task.due_at.isoformat() if task.due_at else None})
        notifications.task_reminder(task)
        return
    audit.record(AuditEventType.TASK_ESCALATED, case=task.case, task=task,
                 details={"task": task.title, "from": holder, "timer": timer.element_id})
    if task.assignee_id is not None:
        notifications.task_escalated_away(task, task.assignee_id)


def run_due_timers(batch_size: int = 200) -> TimerRun:
    """One pass over the cases whose timers are due, after applying absence windows that have
    started or ended (they are time-driven too)."""
    result = TimerRun()
    try:
        result.tasks_rerouted = absences.apply_due_edges(batch_size)
    except ServiceError as exc:  # a bad absence must not stop the timers
        log.error("absence edges failed: %s", exc)
        result.errors.append(f"absences: {exc}")
    for case_id in due_case_ids(batch_size):
        result.cases_checked += 1
        try:
            result.timers_fired += fire_case_timers(case_id)
        except EngineError as exc:
            log.error("timers of case %s failed: %s", case_id, exc)
            result.errors.append(f"case {case_id}: {exc}")
    return result
