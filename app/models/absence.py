"""Absences (acting appointments): while a person is away their tasks go to a delegate."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import utcnow

if TYPE_CHECKING:
    from app.models.user import User


class Absence(db.Model):
    """From `starts_at` to `ends_at` (exclusive) the tasks of `user` — all of them, or those of
    the processes in `process_keys` — go to `delegate`. The window is read from the app clock;
    `start_applied`/`end_applied` record that the worker moved the existing tasks at each edge."""

    __tablename__ = "absences"
    __table_args__ = (
        Index("ix_absences_user_window", "user_id", "starts_at", "ends_at"),
        Index("ix_absences_pending_start", "starts_at",
              postgresql_where=text("NOT start_applied AND cancelled_at IS NULL"),
              sqlite_where=text("NOT start_applied AND cancelled_at IS NULL")),
        Index("ix_absences_pending_end", "ends_at",
              postgresql_where=text("start_applied AND NOT end_applied"),
              sqlite_where=text("start_applied AND NOT end_applied")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    delegate_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Process keys covered; None means every process.
    process_keys: Mapped[list[str] | None] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    start_applied: Mapped[bool] = mapped_column(Boolean, default=False)
    end_applied: Mapped[bool] = mapped_column(Boolean, default=False)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    delegate: Mapped[User] = relationship(foreign_keys=[delegate_id])
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])

    def covers(self, *process_keys: str | None) -> bool:
        """Whether the absence covers a task of these processes: the task's own process and
        the case's (an absence for `annual_appraisal` covers the goal setting it calls; one
        for `goal_setting` covers that step inside an appraisal, not the appraisal's others)."""
        return not self.process_keys or any(key in self.process_keys for key in process_keys)

    def active_at(self, when: datetime) -> bool:
        return self.cancelled_at is None and as_utc(self.starts_at) <= when < as_utc(self.ends_at)


def as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)
