"""A case: one run of one process version about one subject employee."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import db_enum, utcnow

if TYPE_CHECKING:
    from app.models.org import Employee
    from app.models.process_model import ProcessVersion
    from app.models.task import HumanTask
    from app.models.user import User


class CaseStatus(enum.StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"


class Case(db.Model):
    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    process_version_id: Mapped[int] = mapped_column(ForeignKey("process_versions.id"), index=True)
    subject_employee_id: Mapped[int] = mapped_column(ForeignKey("employees.id"), index=True)
    status: Mapped[CaseStatus] = mapped_column(
        db_enum(CaseStatus, 20), default=CaseStatus.RUNNING, index=True
    )
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # When the case's earliest pending timer falls due; the timer worker's one indexed query.
    timer_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    # The engine's serialized workflow (without the spec, which lives on the version) and the
    # serializer version that wrote it, so a later SpiffWorkflow can migrate it.
    workflow_state: Mapped[str] = mapped_column(Text)
    serializer_version: Mapped[str] = mapped_column(String(16))
    # Optimistic lock: every write of engine state bumps it; a stale writer fails.
    lock_version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    process_version: Mapped[ProcessVersion] = relationship()
    subject: Mapped[Employee] = relationship()
    started_by: Mapped[User | None] = relationship()
    tasks: Mapped[list[HumanTask]] = relationship(
        back_populates="case", order_by="HumanTask.id", cascade="all, delete-orphan"
    )

    __mapper_args__ = {"version_id_col": lock_version}
