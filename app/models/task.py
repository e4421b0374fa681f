"""Human tasks: the rows behind every inbox, mirrored from the engine's READY user tasks."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import JSON, DateTime, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import db_enum, utcnow

if TYPE_CHECKING:
    from app.models.case import Case
    from app.models.user import User


class TaskStatus(enum.StrEnum):
    OPEN = "open"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class HumanTask(db.Model):
    __tablename__ = "human_tasks"
    __table_args__ = (
        Index("ix_human_tasks_assignee_status", "assignee_id", "status"),
        Index("ix_human_tasks_candidate_status", "candidate_role", "status"),
        Index("ix_human_tasks_case_status", "case_id", "status"),
        # The queue: a person's open tasks by due date, and each role pool's unclaimed ones.
        Index("ix_human_tasks_open_assignee_due", "assignee_id", "due_at", "id",
              postgresql_where=text("status = 'open'"), sqlite_where=text("status = 'open'")),
        Index("ix_human_tasks_open_pool_due", "candidate_role", "candidate_org_unit_id",
              "due_at", "id", postgresql_where=text("status = 'open' AND assignee_id IS NULL"),
              sqlite_where=text("status = 'open' AND assignee_id IS NULL")),
        # Re-routing when an absence starts or ends finds open tasks by owner and delegate.
        Index("ix_human_tasks_open_owner", "owner_id",
              postgresql_where=text("status = 'open'"), sqlite_where=text("status = 'open'")),
        Index("ix_human_tasks_open_delegate", "delegate_id",
              postgresql_where=text("status = 'open'"), sqlite_where=text("status = 'open'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    engine_task_id: Mapped[str] = mapped_column(String(36), unique=True)
    task_name: Mapped[str] = mapped_column(String(200))  # BPMN element id
    # The process whose diagram holds the step: the called process for a step inside a call
    # activity (`goal_setting` inside an `annual_appraisal` case), else the case's process.
    # Absences limited to processes and the queue's process filter read it. Rows written before
    # it existed were backfilled with the case's process (so older appraisal steps carry
    # `annual_appraisal`); the app never writes NULL.
    process_key: Mapped[str | None] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(200))
    lane: Mapped[str | None] = mapped_column(String(100))
    form_key: Mapped[str] = mapped_column(String(100))
    instructions: Mapped[str | None] = mapped_column(Text)
    # Either a named person, or a role within an org unit that any holder may act on.
    # `assignee_id` is who holds the task now; `owner_id` the person the process (a claim, an
    # escalation or a reassignment) made responsible; `delegate_id` the colleague the owner
    # handed it to. The holder is the owner or delegate after absence routing
    # (app.services.routing), so "X on behalf of Y" is always known.
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    delegate_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    delegation_note: Mapped[str | None] = mapped_column(Text)
    # The absence that routed the task to its holder, if any (shown as "acting for").
    routed_by_absence_id: Mapped[int | None] = mapped_column(
        ForeignKey("absences.id", ondelete="SET NULL")
    )
    candidate_role: Mapped[str | None] = mapped_column(String(32))
    candidate_org_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"))
    status: Mapped[TaskStatus] = mapped_column(
        db_enum(TaskStatus, 20), default=TaskStatus.OPEN
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    submitted_data: Mapped[dict | None] = mapped_column(JSON)

    case: Mapped[Case] = relationship(back_populates="tasks")
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id])
    delegate: Mapped[User | None] = relationship(foreign_keys=[delegate_id])
    completed_by: Mapped[User | None] = relationship(foreign_keys=[completed_by_id])
