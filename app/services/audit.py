"""Writing and reading the audit trail. Events are added to the caller's transaction, so they
commit (or roll back) together with the change they describe."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, AuditEventType, Case, HumanTask, User


def record(
    event_type: AuditEventType,
    *,
    actor: User | None = None,
    case: Case | None = None,
    task: HumanTask | None = None,
    on_behalf_of: User | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    event = AuditEvent(
        event_type=event_type,
        actor_id=actor.id if actor else None,
        on_behalf_of_id=on_behalf_of.id if on_behalf_of else None,
        case_id=case.id if case else None,
        human_task_id=task.id if task else None,
        details=details or {},
    )
    db.session.add(event)
    return event


def case_timeline(case_id: int) -> list[AuditEvent]:
    return list(
        db.session.scalars(
            select(AuditEvent).where(AuditEvent.case_id == case_id).order_by(AuditEvent.id)
        )
    )
