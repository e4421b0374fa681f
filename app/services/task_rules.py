"""Rules a task completion must pass that need more than the form: the case's own data, or
other cases (a department's incentive budget, its calibration). `tasks.complete_task` calls
`before_complete` under the case lock before the engine moves on, and `after_complete` after,
both inside its one transaction, so a refused completion changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from app.engine import WorkflowRuntime
from app.extensions import db
from app.i18n import N_
from app.models import (
    AuditEventType,
    Calibration,
    Cycle,
    HumanTask,
    IncentiveAward,
    User,
)
from app.services import audit
from app.services.appraisal import cycle_key, department_of
from app.services.errors import Message, ValidationFailed

Rule = Callable[[HumanTask, dict[str, Any], dict[str, Any]], None]


def _refuse(message: str, field: str = "form") -> None:
    """Refuse the completion: a `Message`/N_ text, shown in the reader's language on the page."""
    raise ValidationFailed(message, {field: [message]})


def _kpi_names(case_data: dict[str, Any], only_reporter: str | None = None) -> list[str]:
    return [k["name"] for k in case_data.get("scorecard") or []
            if only_reporter is None or k.get("reporter", "officer") == only_reporter]


# Each sentence whole, for the catalogue: what the rows are, then the scorecard's KPIs.
_ROWS_MUST_MATCH = {
    "figures you report": N_("The figures you report must cover exactly the scorecard's KPIs "
                             "(%(kpis)s)."),
    "month's actuals": N_("The month's actuals must cover exactly the scorecard's KPIs "
                          "(%(kpis)s)."),
    "assessment": N_("The assessment must cover exactly the scorecard's KPIs (%(kpis)s)."),
}


def _rows_match_scorecard(rows: list[dict[str, Any]], expected: list[str], what: str) -> None:
    names = [row["kpi"] for row in rows]
    if sorted(names) != sorted(expected):
        _refuse(Message(_ROWS_MUST_MATCH[what], kpis=", ".join(expected) or "none"), "rows")


def _actuals_report(task: HumanTask, case_data: dict[str, Any], data: dict[str, Any]) -> None:
    _rows_match_scorecard(data["employee_actuals"], _kpi_names(case_data, "employee"),
                          "figures you report")


def _actuals_confirm(task: HumanTask, case_data: dict[str, Any], data: dict[str, Any]) -> None:
    _rows_match_scorecard(data["month_values"], _kpi_names(case_data), "month's actuals")
    reported = {r["kpi"]: r["value"] for r in case_data.get("employee_actuals") or []}
    employee_kpis = set(_kpi_names(case_data, "employee"))
    for row in data["month_values"]:
        if row["kpi"] in employee_kpis and row.get("employee_value") != reported.get(row["kpi"]):
            _refuse(Message(N_("“%(kpi)s” is reported by the employee: confirm or correct "
                               "the figure they entered."), kpi=row["kpi"]), "rows")


def _interview_schedule(task: HumanTask, case_data: dict[str, Any],
                        data: dict[str, Any]) -> None:
    cycle = case_data.get("cycle") or {}
    opens, closes = cycle.get("interview_opens_on"), cycle.get("interview_closes_on")
    if opens and closes and not opens <= data["interview_date"] <= closes:
        _refuse(Message(N_("Schedule the interview within the cycle's interview window, "
                           "%(opens)s to %(closes)s."), opens=opens, closes=closes), "date")


def _interview_record(task: HumanTask, case_data: dict[str, Any], data: dict[str, Any]) -> None:
    if data["interview_held"] == "yes":
        _rows_match_scorecard(data["interview_assessment"], _kpi_names(case_data),
                              "assessment")


def has_recorded_interview(case_data: dict[str, Any]) -> bool:
    """The seed's hurdle "absence of appraisal interviews": a rating is final only after an
    interview was held and what was discussed recorded."""
    return (case_data.get("interview_held") == "yes"
            and bool((case_data.get("interview_discussion") or "").strip())
            and bool(case_data.get("interview_assessment")))


def open_calibration_for(case_data: dict[str, Any], task: HumanTask) -> Calibration | None:
    """The open calibration covering this case: its cycle, and the subject's unit or a unit
    above it."""
    return db.session.scalar(select(Calibration).where(
        Calibration.cycle_key == cycle_key(case_data),
        Calibration.org_unit_id.in_(task.case.subject.org_unit.ancestor_ids()),
        Calibration.closed_at.is_(None)))


def _rating_calibration(task: HumanTask, case_data: dict[str, Any],
                        data: dict[str, Any]) -> None:
    if not has_recorded_interview(case_data):
        _refuse(N_("No rating can be finalised without a recorded appraisal interview."))
    if data["band_before_calibration"] != case_data.get("rating_band"):
        _refuse(N_("The rating changed since the calibration screen was opened: reload it."))
    if open_calibration_for(case_data, task) is None:
        _refuse(N_("Ratings are calibrated for a whole department at once: HR opens the "
                   "department's calibration when all its interviews are done."))


def committed_incentives(key: str) -> Decimal:
    """Incentives approved so far in a cycle: what its budget has already paid for."""
    return db.session.scalar(
        select(func.coalesce(func.sum(IncentiveAward.amount), 0))
        .where(IncentiveAward.cycle_key == key)
    ) or Decimal(0)


def _lock_cycle(case_data: dict[str, Any]) -> None:
    """Approvals in one cycle take turns (PostgreSQL row lock), so two at once cannot both
    fit under the budget's last rupees."""
    cycle_id = (case_data.get("cycle") or {}).get("id")
    if isinstance(cycle_id, int):
        db.session.scalars(select(Cycle.id).where(Cycle.id == cycle_id).with_for_update()).all()


def _incentive_approval(task: HumanTask, case_data: dict[str, Any],
                        data: dict[str, Any]) -> None:
    decision = data.get("head_decision") or data.get("finance_decision")
    if decision != "approve":
        return
    budget = (case_data.get("cycle") or {}).get("budget")
    if budget is None:
        return
    _lock_cycle(case_data)
    amount = Decimal(str(case_data.get("incentive_amount") or 0))
    committed = committed_incentives(cycle_key(case_data))
    if committed + amount > Decimal(str(budget)):
        left = Decimal(str(budget)) - committed
        _refuse(Message(
            N_("Approving PKR %(amount)s would overrun the cycle's incentive budget of PKR "
               "%(budget)s: PKR %(committed)s is already approved, PKR %(left)s is left. "
               "Return it to HR to lower it or withdraw it."),
            amount=f"{amount:,.0f}", budget=f"{Decimal(str(budget)):,.0f}",
            committed=f"{committed:,.0f}", left=f"{max(left, Decimal(0)):,.0f}"), "decision")


def _incentive_revision(task: HumanTask, case_data: dict[str, Any],
                        data: dict[str, Any]) -> None:
    if data["incentive_action"] != "resubmit":
        return
    computed = case_data.get("incentive_computed_amount") or 0
    if data["revised_incentive_amount"] > computed:
        _refuse(Message(N_("An incentive can be resubmitted at most at its computed amount, "
                           "PKR %(amount)s."), amount=f"{computed:,.0f}"), "amount")


BEFORE_COMPLETE: dict[str, Rule] = {
    "actuals_report": _actuals_report,
    "actuals_confirm": _actuals_confirm,
    "interview_schedule": _interview_schedule,
    "interview_record": _interview_record,
    "rating_calibration": _rating_calibration,
    "incentive_head_approval": _incentive_approval,
    "incentive_finance_approval": _incentive_approval,
    "incentive_revision": _incentive_revision,
}


def before_complete(task: HumanTask, case_data: dict[str, Any], data: dict[str, Any]) -> None:
    """Refuse (ValidationFailed) a completion the case or its department does not allow."""
    rule = BEFORE_COMPLETE.get(task.form_key)
    if rule is not None:
        rule(task, case_data, data)


def after_complete(task: HumanTask, runtime: WorkflowRuntime, user: User) -> None:
    """Record what a completion means beyond the case: a moved rating, an approved award."""
    case = task.case
    data = runtime.current_data()
    submitted = task.submitted_data or {}
    if task.form_key == "rating_calibration" and (
            submitted.get("calibrated_band") != submitted.get("band_before_calibration")):
        audit.record(AuditEventType.RATING_CALIBRATED, actor=user, case=case, task=task,
                     details={"before": submitted.get("band_before_calibration"),
                              "after": submitted.get("calibrated_band"),
                              "reason": submitted.get("calibration_reason"),
                              "cycle": cycle_key(data)})
    if data.get("incentive_status") == "approved" and db.session.scalar(
            select(IncentiveAward.id).where(IncentiveAward.case_id == case.id)) is None:
        amount = Decimal(str(data.get("incentive_amount") or 0))
        db.session.add(IncentiveAward(
            case_id=case.id, cycle_key=cycle_key(data),
            department_id=department_of(case.subject).id, employee_id=case.subject_employee_id,
            amount=amount))
        audit.record(AuditEventType.INCENTIVE_AWARDED, actor=user, case=case, task=task,
                     details={"amount": float(amount), "cycle": cycle_key(data),
                              "band": data.get("final_band")})
