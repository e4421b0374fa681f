"""The organisation: a tree of units and the employees in them, with their officers."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db

if TYPE_CHECKING:
    from app.models.user import User


class OrgUnit(db.Model):
    __tablename__ = "org_units"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"), index=True)
    # The head of the unit (e.g. the department's secretary or director general): approves
    # incentives in the `department_head` lane.
    head_employee_id: Mapped[int | None] = mapped_column(
        ForeignKey("employees.id", use_alter=True, name="fk_org_units_head_employee_id",
                   ondelete="SET NULL")
    )

    parent: Mapped[OrgUnit | None] = relationship(remote_side=[id], back_populates="children")
    head: Mapped[Employee | None] = relationship(foreign_keys=[head_employee_id])
    children: Mapped[list[OrgUnit]] = relationship(back_populates="parent")

    def ancestor_ids(self) -> list[int]:
        """This unit's id followed by its ancestors' ids, nearest first."""
        ids: list[int] = []
        unit: OrgUnit | None = self
        while unit is not None and unit.id not in ids:
            ids.append(unit.id)
            unit = unit.parent
        return ids


class Employee(db.Model):
    """A person whose performance is managed. The reporting officer designs the scorecard
    and rates; the countersigning officer approves. Both are employees too."""

    __tablename__ = "employees"

    id: Mapped[int] = mapped_column(primary_key=True)
    employee_number: Mapped[str] = mapped_column(String(40), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    designation: Mapped[str | None] = mapped_column(String(200))
    grade: Mapped[int | None]
    base_pay: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    email: Mapped[str | None] = mapped_column(String(254))
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), unique=True)
    reporting_officer_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id"), index=True)
    countersigning_officer_id: Mapped[int | None] = mapped_column(
        ForeignKey("employees.id"), index=True
    )

    org_unit: Mapped[OrgUnit] = relationship(foreign_keys=[org_unit_id])
    user: Mapped[User | None] = relationship(back_populates="employee")
    reporting_officer: Mapped[Employee | None] = relationship(
        remote_side=[id], foreign_keys=[reporting_officer_id], post_update=True
    )
    countersigning_officer: Mapped[Employee | None] = relationship(
        remote_side=[id], foreign_keys=[countersigning_officer_id], post_update=True
    )
