"""The reporting projection: typed rows copied from a case's engine state whenever the state is
stored, inside the same transaction (`cases.open_cases` and `cases.save_runtime` call
`project`), so the dashboards never disagree with the cases and a rolled-back completion
leaves its old rows in place.

What is read from the case (see app/services/appraisal.py for the data's keys):

- the stage: which element of the main process is under way (a call activity running, a
  timer waiting, the calibration task ready), mapped through `ELEMENT_STAGES`; a case of one of
  the called processes started on its own (e.g. a lone goal setting) is at that process's stage;
- the monthly actuals (`actuals`) against the scorecard's targets, one row per KPI and month,
  with the achievement by the score's rule (actual / target, capped at 100%, a zero target
  counting as achieved) and one row per month with the mean of its KPIs;
- the score, the band (the final band once calibrated, else the interview's band), the
  incentive's amount and status;
- the open tasks and the earliest due time among them (overdue is judged when read).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from sqlalchemy import delete, insert, select, update

from app.engine import WorkflowRuntime
from app.extensions import db
from app.models import (
    AppraisalFact,
    AppraisalKpiMonth,
    AppraisalMonth,
    Case,
    Employee,
    TaskStatus,
)
from app.models.base import utcnow
from app.services import process_models
from app.services.appraisal import cycle_key

# The stages of the year in order. Monthly actuals and the mid-year review share a rank: the
# review happens in the middle of the months. "Has finished stage S" is `stage_rank > rank(S)`,
# except the mid-year review, which has its own flag.
STAGES: dict[str, int] = {
    "goal_setting": 0,
    "monthly_actuals": 1,
    "mid_year_review": 1,
    "appraisal_interview": 2,
    "calibration": 3,
    "incentive_approval": 4,
    "completed": 5,
}

# Elements of workflows/annual_appraisal.bpmn -> the stage a case is at while they are under way.
ELEMENT_STAGES: dict[str, str] = {
    "prepare_year": "goal_setting",
    "call_goal_setting": "goal_setting",
    "plan_next_month": "monthly_actuals",
    "mid_year_first_gateway": "monthly_actuals",
    "more_months_gateway": "monthly_actuals",
    "wait_month_end": "monthly_actuals",
    "call_monthly_actuals": "monthly_actuals",
    "advance_month": "monthly_actuals",
    "wait_mid_year": "monthly_actuals",
    "call_mid_year_review": "mid_year_review",
    "mark_mid_year_done": "mid_year_review",
    "wait_interview_window": "appraisal_interview",
    "call_appraisal_interview": "appraisal_interview",
    "calibrate_rating": "calibration",
    "finalise_rating": "calibration",
    "call_incentive_approval": "incentive_approval",
}

# A called process started as a case of its own is at its own stage throughout.
PROCESS_STAGES: dict[str, str] = {
    "goal_setting": "goal_setting",
    "monthly_actuals": "monthly_actuals",
    "mid_year_review": "mid_year_review",
    "appraisal_interview": "appraisal_interview",
    "incentive_approval": "incentive_approval",
}


class EngineView(Protocol):
    """What the projection reads of a workflow: a live `WorkflowRuntime`, or a
    `StartedWorkflow` computed by a cycle launch's worker."""

    @property
    def is_completed(self) -> bool: ...

    def current_data(self) -> dict[str, Any]: ...

    def active_elements(self) -> list[str]: ...


def stage_of(process_key: str, runtime: EngineView) -> str:
    """The stage of the year a case is at (a key of STAGES)."""
    if runtime.is_completed:
        return "completed"
    if process_key in PROCESS_STAGES:
        return PROCESS_STAGES[process_key]
    stages = [ELEMENT_STAGES[e] for e in runtime.active_elements() if e in ELEMENT_STAGES]
    if not stages:
        return "goal_setting"
    return max(stages, key=lambda s: (STAGES[s], s == "mid_year_review"))


def achievement(actual: float, target: float) -> float:
    """The score's rule for one KPI: percent of target, capped at 100; a zero target counts
    as achieved."""
    if target <= 0:
        return 100.0
    return min(100.0, 100.0 * actual / target)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def kpi_month_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per recorded KPI value: month, KPI, weight, target, actual, achievement. Targets
    come from the current scorecard, or the original one for a KPI revised away at mid-year."""
    kpis: dict[str, dict[str, Any]] = {}
    for card in (data.get("original_scorecard"), data.get("scorecard")):
        for kpi in card or []:
            if isinstance(kpi, dict) and "name" in kpi:
                kpis[str(kpi["name"])] = kpi
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for month in data.get("actuals") or []:
        if not isinstance(month, dict) or not isinstance(month.get("month"), str):
            continue
        for value in month.get("values") or []:
            kpi = kpis.get(str(value.get("kpi"))) if isinstance(value, dict) else None
            actual = _number(value.get("value")) if isinstance(value, dict) else None
            target = _number(kpi.get("target")) if kpi else None
            if kpi is None or actual is None or target is None:
                continue
            rows[(month["month"][:7], str(kpi["name"])[:200])] = {
                "month": month["month"][:7], "kpi": str(kpi["name"])[:200],
                "weight": _number(kpi.get("weight")) or 0.0, "target": target,
                "actual": actual, "achievement": round(achievement(actual, target), 2)}
    return list(rows.values())


def month_rows(kpi_rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per month: the mean achievement of the KPIs recorded for it."""
    months: dict[str, list[float]] = {}
    for row in kpi_rows:
        months.setdefault(row["month"], []).append(row["achievement"])
    return [{"month": month, "achievement": round(sum(values) / len(values), 2),
             "kpi_count": len(values)} for month, values in sorted(months.items())]


def fact_values(case: Case, process_key: str, runtime: EngineView,
                kpi_rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The case's row of `appraisal_facts`, as column values."""
    data = runtime.current_data()
    stage = stage_of(process_key, runtime)
    open_rows = [t for t in case.tasks if t.status == TaskStatus.OPEN]
    dues = [t.due_at for t in open_rows if t.due_at is not None]
    band = data.get("final_band") or data.get("rating_band")
    incentive = _number(data.get("incentive_amount"))
    return {
        "cycle_key": cycle_key(data)[:100],
        "process_key": process_key,
        "employee_id": case.subject_employee_id,
        "org_unit_id": case.subject.org_unit_id,
        "stage": stage,
        "stage_rank": STAGES[stage],
        "mid_year_done": bool(data.get("mid_year_done")),
        "months_reported": len({row["month"] for row in kpi_rows}),
        "achievement": round(sum(r["achievement"] for r in kpi_rows) / len(kpi_rows), 2)
        if kpi_rows else None,
        "open_tasks": len(open_rows),
        "next_due_at": min(dues) if dues else None,
        "score": _number(data.get("score")),
        "rating_band": str(band)[:32] if band else None,
        "rating_final": bool(data.get("rating_finalised")),
        "incentive_amount": round(incentive, 2) if incentive is not None else None,
        "incentive_status": str(data["incentive_status"])[:20]
        if data.get("incentive_status") else None,
        "updated_at": utcnow(),
    }


def project_new(cases: Iterable[tuple[Case, EngineView]]) -> None:
    """Projection rows for cases being inserted now (a launch batch, or one started case):
    their facts go in with the cases, in the caller's transaction."""
    facts = []
    for case, runtime in cases:
        kpi_rows = kpi_month_rows(runtime.current_data())
        values = fact_values(case, case.process_version.process_model.key, runtime, kpi_rows)
        facts.append(AppraisalFact(case_id=case.id, **values))
        if kpi_rows:
            _write_months(case.id, {}, values["cycle_key"], values["org_unit_id"], kpi_rows)
    db.session.add_all(facts)


def project(case: Case, runtime: EngineView) -> AppraisalFact:
    """Bring the case's projection rows in line with its engine state, in the caller's
    transaction (call after the task rows are synced, before commit)."""
    kpi_rows = kpi_month_rows(runtime.current_data())
    values = fact_values(case, case.process_version.process_model.key, runtime, kpi_rows)
    fact = db.session.get(AppraisalFact, case.id)
    # Statements a save needs beyond the case's own row: the stored KPI-months are read only
    # if there are (or may be) any, and the months' unit follows only a moved case.
    may_have_months = fact is None or fact.months_reported > 0
    moved = fact is not None and (fact.org_unit_id, fact.cycle_key) != (
        values["org_unit_id"], values["cycle_key"])
    if fact is None:
        fact = AppraisalFact(case_id=case.id, **values)
        db.session.add(fact)
    else:
        for name, value in values.items():
            setattr(fact, name, value)
    stored = _stored_kpi_rows(case.id) if may_have_months or kpi_rows else {}
    _write_months(case.id, stored, values["cycle_key"], values["org_unit_id"], kpi_rows,
                  moved)
    return fact


def _stored_kpi_rows(case_id: int) -> dict[tuple[str, str], tuple[float, ...]]:
    return {(r.month, r.kpi): (r.weight, r.target, r.actual, r.achievement)
            for r in db.session.execute(
                select(AppraisalKpiMonth.month, AppraisalKpiMonth.kpi, AppraisalKpiMonth.weight,
                       AppraisalKpiMonth.target, AppraisalKpiMonth.actual,
                       AppraisalKpiMonth.achievement)
                .where(AppraisalKpiMonth.case_id == case_id))}


def _write_months(case_id: int, stored: dict[tuple[str, str], tuple[float, ...]],
                  key: str, unit_id: int, kpi_rows: Sequence[dict[str, Any]],
                  moved: bool = False) -> None:
    """Rewrite the case's month and KPI-month rows if what the engine holds differs from what
    is stored (most saves change no month); keep the months' cycle and unit current."""
    wanted = {(r["month"], r["kpi"]): (r["weight"], r["target"], r["actual"], r["achievement"])
              for r in kpi_rows}
    if stored == wanted:
        if not moved or not stored:
            return
        db.session.execute(
            update(AppraisalMonth)
            .where(AppraisalMonth.case_id == case_id,
                   (AppraisalMonth.org_unit_id != unit_id) | (AppraisalMonth.cycle_key != key))
            .values(org_unit_id=unit_id, cycle_key=key))
        return
    if stored:
        db.session.execute(delete(AppraisalKpiMonth).where(AppraisalKpiMonth.case_id == case_id))
        db.session.execute(delete(AppraisalMonth).where(AppraisalMonth.case_id == case_id))
    if kpi_rows:
        db.session.execute(insert(AppraisalKpiMonth),
                           [{"case_id": case_id, **row} for row in kpi_rows])
        db.session.execute(insert(AppraisalMonth),
                           [{"case_id": case_id, "cycle_key": key, "org_unit_id": unit_id, **row}
                            for row in month_rows(kpi_rows)])


def refresh_case(case: Case) -> AppraisalFact:
    """Recompute a case's projection from its stored engine state (the backfill)."""
    runtime = WorkflowRuntime.load(process_models.parsed_version(case.process_version),
                                   case.workflow_state, case.serializer_version)
    return project(case, runtime)


def refresh_all(batch_size: int = 200, after_id: int = 0) -> Iterable[int]:
    """Recompute every case's projection, a batch per transaction; yields how many cases each
    committed batch covered. Safe to run again at any time (rows are recomputed, not added)."""
    while True:
        batch = list(db.session.scalars(
            select(Case).where(Case.id > after_id).order_by(Case.id).limit(batch_size)))
        if not batch:
            return
        try:
            for case in batch:
                refresh_case(case)
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
        after_id = batch[-1].id
        db.session.expunge_all()
        yield len(batch)


def sync_units(employee_ids: Iterable[int] | None = None) -> None:
    """Follow employees who moved to another unit (an org import): their cases' rows now count
    for the new unit. Part of the caller's transaction; one UPDATE per table (None: check
    every employee)."""
    ids = None if employee_ids is None else list(employee_ids)
    current_unit = (select(Employee.org_unit_id)
                    .where(Employee.id == AppraisalFact.employee_id).scalar_subquery())
    moved = update(AppraisalFact).where(AppraisalFact.org_unit_id != current_unit)
    fact_unit = (select(AppraisalFact.org_unit_id)
                 .where(AppraisalFact.case_id == AppraisalMonth.case_id).scalar_subquery())
    months = update(AppraisalMonth).where(AppraisalMonth.org_unit_id != fact_unit)
    if ids is not None:
        moved = moved.where(AppraisalFact.employee_id.in_(ids))
        months = months.where(AppraisalMonth.case_id.in_(
            select(AppraisalFact.case_id).where(AppraisalFact.employee_id.in_(ids))))
    options = {"synchronize_session": False}
    db.session.execute(moved.values(org_unit_id=current_unit), execution_options=options)
    db.session.execute(months.values(org_unit_id=fact_unit), execution_options=options)
