"""The e-mail outbox: notifications are rows written in the same transaction as the change they
announce, and a worker sends them later, so a mail failure never loses one or blocks a task."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import db_enum, utcnow

if TYPE_CHECKING:
    from app.models.user import User


class NotificationKind(enum.StrEnum):
    TASK_ASSIGNED = "task_assigned"
    TASK_DELEGATED = "task_delegated"
    TASK_RETURNED = "task_returned"
    TASK_ESCALATED = "task_escalated"
    TASK_REMINDER = "task_reminder"


class NotificationStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # gave up after the configured attempts; kept, and can be re-queued
    SKIPPED = "skipped"  # the recipient has no e-mail address


class DeliveryMode(enum.StrEnum):
    IMMEDIATE = "immediate"
    DIGEST = "digest"


class Notification(db.Model):
    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_pending_due", "next_attempt_at", "id",
              postgresql_where=text("status = 'pending'"),
              sqlite_where=text("status = 'pending'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[NotificationKind] = mapped_column(db_enum(NotificationKind, 32))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    human_task_id: Mapped[int | None] = mapped_column(
        ForeignKey("human_tasks.id", ondelete="CASCADE")
    )
    # Digest items wait for the recipient's next daily digest instead of going out alone.
    digest: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[NotificationStatus] = mapped_column(
        db_enum(NotificationStatus, 16), default=NotificationStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    recipient: Mapped[User] = relationship()


class NotificationPreference(db.Model):
    """How a user wants their notifications: each at once (the default) or a daily digest."""

    __tablename__ = "notification_preferences"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    mode: Mapped[DeliveryMode] = mapped_column(
        db_enum(DeliveryMode, 16), default=DeliveryMode.IMMEDIATE
    )
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
