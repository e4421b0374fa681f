"""What the year's processes keep outside any one case: DMN decision versions, department
calibrations and incentive awards (a department's budget spans many cases)."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import db_enum, utcnow

if TYPE_CHECKING:
    from app.models.case import Case
    from app.models.org import Employee, OrgUnit
    from app.models.user import User


class DecisionVersion(db.Model):
    """An immutable, numbered version of a DMN decision table (one decision per document).
    A process version pins the decision versions its business-rule tasks use."""

    __tablename__ = "decision_versions"
    __table_args__ = (
        UniqueConstraint("decision_key", "version"),
        Index("ix_decision_versions_key_hash", "decision_key", "content_hash"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    decision_key: Mapped[str] = mapped_column(String(100))  # the DMN decision id
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[int]
    dmn_xml: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    source_name: Mapped[str] = mapped_column(String(200))
    comment: Mapped[str | None] = mapped_column(Text)
    deployed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    deployed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    deployed_by: Mapped[User | None] = relationship()


class Calibration(db.Model):
    """HR's calibration of one department's ratings in one cycle: opened when the department's
    interviews are done, closed when every rating in it is final. The individual moves (before,
    after, reason, who) are audit events and stay in each case's data."""

    __tablename__ = "calibrations"
    __table_args__ = (UniqueConstraint("cycle_key", "org_unit_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # The cycle's id from the cases' start data ("default-2026" for cases without a cycle).
    cycle_key: Mapped[str] = mapped_column(String(100))
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    guideline: Mapped[dict] = mapped_column(JSON, default=dict)
    opened_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    org_unit: Mapped[OrgUnit] = relationship()
    opened_by: Mapped[User] = relationship(foreign_keys=[opened_by_id])
    closed_by: Mapped[User | None] = relationship(foreign_keys=[closed_by_id])


class AwardStatus(enum.StrEnum):
    APPROVED = "approved"


class IncentiveAward(db.Model):
    """An incentive approved to the end of its chain: what counts against the department's
    budget for the cycle. Written in the same transaction as the final approval."""

    __tablename__ = "incentive_awards"
    __table_args__ = (Index("ix_incentive_awards_cycle_unit", "cycle_key", "department_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    cycle_key: Mapped[str] = mapped_column(String(100))
    department_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"))
    employee_id: Mapped[int] = mapped_column(ForeignKey("employees.id"))
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    status: Mapped[AwardStatus] = mapped_column(
        db_enum(AwardStatus, 20), default=AwardStatus.APPROVED
    )
    approved_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    case: Mapped[Case] = relationship()
    employee: Mapped[Employee] = relationship()
