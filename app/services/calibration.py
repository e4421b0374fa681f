"""Calibration: HR compares a department's ratings with the cycle's guideline distribution and
moves ratings, each only with a reason, before they become final.

It spans many cases, so each case's process waits for it in one user task, `calibrate_rating`
in the `hr` lane. HR opens a calibration for an org unit (and the units below it) once every
running annual-appraisal case of the cycle there is waiting at that task — all interviews are
done. Closing it completes those tasks, one case per transaction (each through
`tasks.complete_task`, so locks, permissions, the audit trail and the rules of
`task_rules` apply exactly as for a single task); a closing interrupted half-way is finished by
closing again. Nobody calibrates their own rating: an HR officer's own case is left for another.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from app.engine import WorkflowRuntime
from app.extensions import db
from app.i18n import N_
from app.models import (
    AuditEvent,
    AuditEventType,
    Calibration,
    Case,
    CaseStatus,
    Employee,
    HumanTask,
    OrgUnit,
    ProcessModel,
    ProcessVersion,
    Role,
    TaskStatus,
    User,
)
from app.models.base import utcnow
from app.services import audit, process_models, tasks
from app.services.appraisal import DEFAULT_GUIDELINE, cycle_key
from app.services.assignment import holds_role_for_unit, may_act_on
from app.services.errors import (
    Conflict,
    Message,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from app.services.org import descendant_unit_ids
from app.services.transaction import unit_of_work
from forms.appraisal import BAND_LABELS, RATING_BANDS

CALIBRATION_TASK = "calibrate_rating"
APPRAISAL_PROCESS = "annual_appraisal"


@dataclass
class CalibrationRow:
    case: Case
    task: HumanTask | None
    score: float | None
    band: str | None
    may_calibrate: bool
    breakdown: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class CalibrationView:
    unit: OrgUnit
    cycle_key: str
    cycle_name: str
    guideline: dict[str, float]
    rows: list[CalibrationRow]
    pending: list[Case]  # running cases of the cycle not yet at calibration
    calibration: Calibration | None
    moves: list[AuditEvent]

    @property
    def interviews_done(self) -> bool:
        return not self.pending and bool(self.rows)

    def distribution(self) -> list[dict[str, Any]]:
        """Per band: how many people, their share, and the guideline's share."""
        counts = Counter(row.band for row in self.rows)
        total = len(self.rows) or 1
        return [{"band": c.value, "label": c.label, "count": counts.get(c.value, 0),
                 "percent": round(100 * counts.get(c.value, 0) / total, 1),
                 "guideline": self.guideline.get(c.value, 0)} for c in RATING_BANDS]


def _require_hr(user: User, unit: OrgUnit) -> None:
    if not holds_role_for_unit(user, Role.HR, unit.id):
        raise PermissionDenied(N_("Only HR of the unit may calibrate its ratings."))


def _unit(unit_id: int) -> OrgUnit:
    unit = db.session.get(OrgUnit, unit_id)
    if unit is None:
        raise NotFound(Message(N_("No org unit %(id)s."), id=unit_id))
    return unit


def _running_appraisals(unit: OrgUnit) -> list[Case]:
    return list(db.session.scalars(
        select(Case).join(Employee, Case.subject_employee_id == Employee.id)
        .join(ProcessVersion, Case.process_version_id == ProcessVersion.id)
        .join(ProcessModel, ProcessVersion.process_model_id == ProcessModel.id)
        .where(ProcessModel.key == APPRAISAL_PROCESS, Case.status == CaseStatus.RUNNING,
               Employee.org_unit_id.in_(descendant_unit_ids(unit.id)))
        .order_by(Employee.full_name)))


def _case_data(case: Case, task: HumanTask | None) -> dict[str, Any]:
    runtime = WorkflowRuntime.load(process_models.parsed_version(case.process_version),
                                   case.workflow_state, case.serializer_version)
    if task is not None:
        return runtime.task_data(task.engine_task_id)
    return runtime.current_data()


def _open_calibration_task(case: Case) -> HumanTask | None:
    return next((t for t in case.tasks
                 if t.status == TaskStatus.OPEN and t.task_name == CALIBRATION_TASK), None)


def cycles_waiting(user: User) -> list[dict[str, Any]]:
    """For each unit the user is HR of: the cycles with ratings waiting for calibration."""
    found: dict[tuple[int, str], dict[str, Any]] = {}
    units = [db.session.get(OrgUnit, held.org_unit_id) for held in user.roles
             if held.role == Role.HR and held.org_unit_id is not None]
    for unit in units:
        for case in _running_appraisals(unit):
            task = _open_calibration_task(case)
            if task is None:
                continue
            data = _case_data(case, task)
            key = (unit.id, cycle_key(data))
            entry = found.setdefault(key, {"unit": unit, "cycle_key": key[1],
                                           "cycle_name": (data.get("cycle") or {}).get("name"),
                                           "waiting": 0})
            entry["waiting"] += 1
    return list(found.values())


def calibration_view(user: User, unit_id: int, key: str) -> CalibrationView:
    unit = _unit(unit_id)
    _require_hr(user, unit)
    rows, pending, cycle = [], [], {}
    for case in _running_appraisals(unit):
        task = _open_calibration_task(case)
        data = _case_data(case, task)
        if cycle_key(data) != key:
            continue
        cycle = data.get("cycle") or cycle
        if task is None:
            pending.append(case)
            continue
        rows.append(CalibrationRow(case=case, task=task, score=data.get("score"),
                                   band=data.get("rating_band"),
                                   may_calibrate=may_act_on(user, task),
                                   breakdown=data.get("score_breakdown") or []))
    calibration = db.session.scalar(select(Calibration).where(
        Calibration.cycle_key == key, Calibration.org_unit_id == unit.id))
    moves = list(db.session.scalars(
        select(AuditEvent).join(Case, AuditEvent.case_id == Case.id)
        .join(Employee, Case.subject_employee_id == Employee.id)
        .where(AuditEvent.event_type == AuditEventType.RATING_CALIBRATED,
               Employee.org_unit_id.in_(descendant_unit_ids(unit.id)))
        .order_by(AuditEvent.id)))
    moves = [m for m in moves if str(m.details.get("cycle")) == key]
    guideline = (cycle.get("guideline_distribution") if cycle else None) or DEFAULT_GUIDELINE
    return CalibrationView(unit=unit, cycle_key=key, cycle_name=cycle.get("name") or key,
                           guideline=guideline, rows=rows, pending=pending,
                           calibration=calibration, moves=moves)


def open_calibration(user: User, unit_id: int, key: str) -> Calibration:
    """Open the department's calibration: only when all its interviews are done."""
    view = calibration_view(user, unit_id, key)
    if view.calibration is not None:
        raise Conflict(Message(
            N_("The calibration of %(unit)s for this cycle is already open.")
            if view.calibration.closed_at is None
            else N_("The calibration of %(unit)s for this cycle is already closed."),
            unit=view.unit.name))
    if not view.interviews_done:
        raise Conflict(
            Message(N_("%(count)s appraisal(s) in %(unit)s have not reached calibration yet: "
                       "open the calibration when all interviews are done."),
                    count=len(view.pending), unit=view.unit.name)
            if view.pending else
            Message(N_("No ratings in %(unit)s are waiting for calibration."),
                    unit=view.unit.name))
    with unit_of_work():
        calibration = Calibration(cycle_key=key, org_unit_id=view.unit.id,
                                  guideline=dict(view.guideline), opened_by_id=user.id)
        db.session.add(calibration)
        db.session.flush()
        audit.record(AuditEventType.CALIBRATION_OPENED, actor=user, details={
            "calibration": calibration.id, "unit": view.unit.code, "cycle": key,
            "ratings": len(view.rows), "distribution": view.distribution()})
    return calibration


@dataclass
class CloseResult:
    calibrated: int = 0
    moved: int = 0
    left_for_others: list[str] = field(default_factory=list)
    closed: bool = False


def close_calibration(user: User, unit_id: int, key: str,
                      moves: dict[int, tuple[str, str]]) -> CloseResult:
    """Make every rating the user may calibrate final, moving those in `moves` (case id ->
    (band, reason)); close the calibration once no rating is left."""
    view = calibration_view(user, unit_id, key)
    if view.calibration is None or view.calibration.closed_at is not None:
        raise Conflict(N_("Open the calibration first."))
    errors: dict[str, list[str]] = {}
    for row in view.rows:
        band, reason = moves.get(row.case.id, (row.band, ""))
        if band not in BAND_LABELS:
            errors[f"band-{row.case.id}"] = ["Choose a rating band."]
        elif band != row.band and not reason.strip():
            errors[f"reason-{row.case.id}"] = [
                f"Moving {row.case.subject.full_name}'s rating needs a reason."]
    if errors:
        raise ValidationFailed(N_("A rating may be moved only with a reason."), errors)
    result = CloseResult()
    for row in view.rows:
        if not row.may_calibrate:
            result.left_for_others.append(row.case.subject.full_name)
            continue
        band, reason = moves.get(row.case.id, (row.band, ""))
        tasks.complete_task(user, row.task.id, MultiDict(
            {"band_before": row.band or "", "band": band, "reason": reason}),
            audit_details={"calibration": view.calibration.id})
        result.calibrated += 1
        result.moved += int(band != row.band)
    remaining = [r for r in calibration_view(user, unit_id, key).rows]
    if not remaining:
        with unit_of_work():
            calibration = db.session.get(Calibration, view.calibration.id)
            calibration.closed_at = utcnow()
            calibration.closed_by_id = user.id
            audit.record(AuditEventType.CALIBRATION_CLOSED, actor=user, details={
                "calibration": calibration.id, "unit": view.unit.code, "cycle": key,
                "calibrated": result.calibrated, "moved": result.moved})
        result.closed = True
    return result
