"""The reporting projection: a few typed columns per case, per month and per KPI-month, copied
from the engine's JSON state in the same transaction that stores the state (see
app/services/reporting.py), so that the dashboards can aggregate a cycle of 100,000 employees
with GROUP BY instead of loading 100,000 workflow states.

Nothing here is a source of truth: every row can be recomputed from its case
(`flask refresh-reporting`).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import utcnow


class AppraisalFact(db.Model):
    """One row per case: where it stands in its cycle and what it has scored so far."""

    __tablename__ = "appraisal_facts"
    __table_args__ = (
        # Every dashboard query starts from one cycle and a set of units, and reads only these
        # columns: PostgreSQL answers it from the index alone (no visit to the table's rows,
        # which lie scattered across it).
        Index("ix_appraisal_facts_dashboard", "cycle_key", "org_unit_id", "stage",
              "mid_year_done", "rating_band", "rating_final", "next_due_at", "achievement",
              "score"),
    )

    case_id: Mapped[int] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    # The cycle's id from the case's start data, as text ("12", or "default-2026" for a case
    # started without a cycle): the same key as calibrations and incentive awards.
    cycle_key: Mapped[str] = mapped_column(String(100))
    process_key: Mapped[str] = mapped_column(String(100))
    employee_id: Mapped[int] = mapped_column(ForeignKey("employees.id"), index=True)
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"))
    # The stage of the year the case is at (app.services.reporting.STAGES) and its place in
    # the year's order, so "has finished stage k" is `stage_rank > k`.
    stage: Mapped[str] = mapped_column(String(32))
    stage_rank: Mapped[int] = mapped_column(Integer)
    mid_year_done: Mapped[bool] = mapped_column(Boolean, default=False)
    months_reported: Mapped[int] = mapped_column(Integer, default=0)
    # Mean of the case's KPI-month achievements (percent, capped at 100 each); None before
    # the first month is recorded.
    achievement: Mapped[float | None] = mapped_column(Float)
    open_tasks: Mapped[int] = mapped_column(Integer, default=0)
    # The earliest due time of the case's open tasks: overdue is `next_due_at < now`, decided
    # when the dashboard is read (a stored flag would go stale as the clock moves).
    next_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    score: Mapped[float | None] = mapped_column(Float)
    rating_band: Mapped[str | None] = mapped_column(String(32))
    rating_final: Mapped[bool] = mapped_column(Boolean, default=False)
    incentive_amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    incentive_status: Mapped[str | None] = mapped_column(String(20))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AppraisalMonth(db.Model):
    """One row per case and reported month: the month's mean KPI achievement. Carries the
    cycle and unit so a cycle's month-by-month trend is one indexed GROUP BY."""

    __tablename__ = "appraisal_months"
    __table_args__ = (
        Index("ix_appraisal_months_dashboard", "cycle_key", "org_unit_id", "month",
              "achievement"),
    )

    case_id: Mapped[int] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)  # "2026-03"
    cycle_key: Mapped[str] = mapped_column(String(100))
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"))
    achievement: Mapped[float] = mapped_column(Float)
    kpi_count: Mapped[int] = mapped_column(Integer)


class AppraisalKpiMonth(db.Model):
    """One row per case, month and KPI: the target, the recorded actual and the achievement
    (actual / target in percent, capped at 100, a zero target counting as achieved — the
    score's rule)."""

    __tablename__ = "appraisal_kpi_months"

    case_id: Mapped[int] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    kpi: Mapped[str] = mapped_column(String(200), primary_key=True)
    weight: Mapped[float] = mapped_column(Float)
    target: Mapped[float] = mapped_column(Float)
    actual: Mapped[float] = mapped_column(Float)
    achievement: Mapped[float] = mapped_column(Float)
