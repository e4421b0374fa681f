"""Performance cycles: one process launched for every employee of some org units, with the
cycle's dates, incentive cap, budget and guideline rating distribution passed to each case."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import (
    JSON,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import db_enum, utcnow

if TYPE_CHECKING:
    from app.models.case import Case
    from app.models.org import Employee, OrgUnit
    from app.models.process_model import ProcessVersion
    from app.models.user import User


class CycleStatus(enum.StrEnum):
    DRAFT = "draft"  # defined, editable, nothing launched
    LAUNCHING = "launching"  # a launch run started and has not finished (or was interrupted)
    LAUNCHED = "launched"  # the last launch run went through every employee in scope


cycle_org_units = Table(
    "cycle_org_units",
    db.Model.metadata,
    Column("cycle_id", ForeignKey("cycles.id", ondelete="CASCADE"), primary_key=True),
    Column("org_unit_id", ForeignKey("org_units.id"), primary_key=True),
)


class Cycle(db.Model):
    """A performance year for the employees of some org units (each with the units below it).

    Equal opportunity: the incentive cap is one share of base pay for the whole cycle, never per
    person, unit or grade; it (like every other launch input) is frozen once a launch starts."""

    __tablename__ = "cycles"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    year: Mapped[int] = mapped_column(Integer)
    process_key: Mapped[str] = mapped_column(String(100))
    starts_on: Mapped[date] = mapped_column(Date)
    mid_year_on: Mapped[date] = mapped_column(Date)
    interview_opens_on: Mapped[date] = mapped_column(Date)
    interview_closes_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    # Percent of base pay, e.g. 20.00: the most incentive anyone in the cycle can receive.
    incentive_cap_percent: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    budget: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    # Incentives above this amount need finance's approval as well as the department head's
    # (None: the incentive process's own default).
    incentive_threshold_amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    # Rating band -> percent of people expected in it, e.g. {"outstanding": 10, ...}; sums to 100.
    guideline_distribution: Mapped[dict] = mapped_column(JSON)
    status: Mapped[CycleStatus] = mapped_column(
        db_enum(CycleStatus, 20), default=CycleStatus.DRAFT
    )
    # Pinned when the first launch starts: every case of the cycle runs the same version.
    process_version_id: Mapped[int | None] = mapped_column(ForeignKey("process_versions.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    launched_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    launch_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Moved on by every committed batch; a launch whose heartbeat stopped was interrupted.
    launch_heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    launch_finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    in_scope_count: Mapped[int | None] = mapped_column(Integer)

    org_units: Mapped[list[OrgUnit]] = relationship(
        secondary=cycle_org_units, order_by="OrgUnit.name"
    )
    process_version: Mapped[ProcessVersion | None] = relationship()
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    launched_by: Mapped[User | None] = relationship(foreign_keys=[launched_by_id])


class CycleMemberStatus(enum.StrEnum):
    LAUNCHED = "launched"
    NOT_LAUNCHED = "not_launched"  # the org data could not route the process: see `problem`


class CycleMember(db.Model):
    """An employee's place in a cycle: their case, or why none could be started.

    The unique (cycle, employee) pair is what makes a launch idempotent: the member row and the
    case commit together, so a second case for the same person in the same cycle cannot."""

    __tablename__ = "cycle_members"
    __table_args__ = (
        UniqueConstraint("cycle_id", "employee_id", name="uq_cycle_members_cycle_employee"),
        Index("ix_cycle_members_cycle_status", "cycle_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id", ondelete="CASCADE"))
    employee_id: Mapped[int] = mapped_column(ForeignKey("employees.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), unique=True)
    status: Mapped[CycleMemberStatus] = mapped_column(db_enum(CycleMemberStatus, 20))
    problem: Mapped[str | None] = mapped_column(Text)
    attempted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    cycle: Mapped[Cycle] = relationship()
    employee: Mapped[Employee] = relationship()
    case: Mapped[Case | None] = relationship()
