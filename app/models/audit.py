"""Append-only, typed audit events, written in the same transaction as the change they record."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import JSON, BigInteger, DateTime, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import db_enum, utcnow

if TYPE_CHECKING:
    from app.models.user import User


class AuditEventType(enum.StrEnum):
    """Named `subject_past_tense_verb`."""

    CASE_STARTED = "case_started"
    CASE_COMPLETED = "case_completed"
    TASK_ASSIGNED = "task_assigned"
    TASK_COMPLETED = "task_completed"
    TASK_CANCELLED = "task_cancelled"
    TASK_CLAIMED = "task_claimed"
    TASK_UNCLAIMED = "task_unclaimed"
    TASK_DELEGATED = "task_delegated"
    TASK_HANDED_BACK = "task_handed_back"
    TASK_RECALLED = "task_recalled"
    TASK_REASSIGNED = "task_reassigned"
    TASK_REROUTED = "task_rerouted"  # an absence started or ended and the task moved
    TASK_ESCALATED = "task_escalated"
    TASK_REMINDED = "task_reminded"
    ABSENCE_DECLARED = "absence_declared"
    ABSENCE_CANCELLED = "absence_cancelled"
    NOTIFICATION_PREFERENCE_CHANGED = "notification_preference_changed"
    TIMER_FIRED = "timer_fired"
    PROCESS_VERSION_DEPLOYED = "process_version_deployed"
    DECISION_VERSION_DEPLOYED = "decision_version_deployed"
    CALIBRATION_OPENED = "calibration_opened"
    RATING_CALIBRATED = "rating_calibrated"
    CALIBRATION_CLOSED = "calibration_closed"
    INCENTIVE_AWARDED = "incentive_awarded"
    REPORT_GENERATED = "report_generated"  # a case's appraisal report drawn as PDF (its digest)
    CYCLE_CREATED = "cycle_created"
    CYCLE_UPDATED = "cycle_updated"
    CYCLE_LAUNCH_STARTED = "cycle_launch_started"
    CYCLE_LAUNCHED = "cycle_launched"
    ORG_DATA_IMPORTED = "org_data_imported"
    EMPLOYEE_CREATED = "employee_created"
    EMPLOYEE_UPDATED = "employee_updated"
    USER_LOGGED_IN = "user_logged_in"
    USER_LOGIN_FAILED = "user_login_failed"
    USER_LOGGED_OUT = "user_logged_out"
    USER_PASSWORD_SET = "user_password_set"  # noqa: S105 - an event name
    API_TOKEN_ISSUED = "api_token_issued"  # noqa: S105 - an event name
    USER_LOCKED_OUT = "user_locked_out"  # too many failed sign-ins (a username or an address)
    USER_TWO_FACTOR_ENABLED = "user_two_factor_enabled"
    USER_TWO_FACTOR_DISABLED = "user_two_factor_disabled"


class AuditEvent(db.Model):
    """One event. `seq`, `prev_hash` and `hash` chain every event to the one before it: they
    are assigned when the transaction commits (app.services.audit), so editing, deleting or
    reordering any stored event breaks the chain from that event on."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_case_id_id", "case_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    event_type: Mapped[AuditEventType] = mapped_column(
        db_enum(AuditEventType, 50), index=True
    )
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    on_behalf_of_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    human_task_id: Mapped[int | None] = mapped_column(ForeignKey("human_tasks.id"))
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    actor: Mapped[User | None] = relationship(foreign_keys=[actor_id])
    on_behalf_of: Mapped[User | None] = relationship(foreign_keys=[on_behalf_of_id])


class AuditChainHead(db.Model):
    """The chain's last link, one row. Locking it serialises the few milliseconds in which a
    committing transaction appends its events; comparing it with the last event detects a
    truncated tail."""

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    hash: Mapped[str] = mapped_column(String(64))
