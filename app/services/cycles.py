"""Performance cycles: HR defines one for some org units and launches it — one case per employee
in scope, started in batches, idempotently.

A launch is a sequence of short transactions, one per batch of employees (streamed in id order
by keyset pagination, so memory stays flat). Each batch inserts its cases, their task rows and
audit events, and one `CycleMember` row per employee: the case, or why none could be started.
`CycleMember` is unique per (cycle, employee) and commits together with the case, so re-running
a launch after any interruption — an exception, a lost connection, `kill -9` — skips everyone
already launched, retries those who could not be launched before (their org data may have been
fixed) and never creates a second case for anyone. On PostgreSQL each batch also locks the cycle
row, so two launchers running at once take turns batch by batch; on SQLite the unique constraint
alone turns a collision into a retried batch.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import Flask, current_app
from sqlalchemy import exists, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from app.clock import clock
from app.engine import EngineError
from app.engine.batch import WorkflowStarter
from app.extensions import db
from app.faults import pause_point
from app.i18n import N_
from app.models import (
    AuditEventType,
    Cycle,
    CycleMember,
    CycleMemberStatus,
    CycleStatus,
    Employee,
    OrgUnit,
    ProcessVersion,
    Role,
    User,
)
from app.services import audit, cases, process_models
from app.services.access import is_admin, is_hr_or_admin
from app.services.assignment import holds_role_for_unit
from app.services.errors import (
    AssignmentError,
    Conflict,
    Message,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from app.services.org import descendant_unit_ids
from app.services.transaction import unit_of_work

log = logging.getLogger(__name__)

RATING_BANDS = ("outstanding", "very_good", "good", "average", "below_average")
DEFAULT_DISTRIBUTION = {"outstanding": 10, "very_good": 20, "good": 40, "average": 20,
                        "below_average": 10}
MAX_INCENTIVE_CAP_PERCENT = Decimal("100")
MAX_BUDGET = Decimal("999999999999.99")  # Numeric(14, 2)
DEFAULT_BATCH_SIZE = 500
# A launch whose last batch committed longer ago than this is taken to have been interrupted.
STALLED_AFTER = timedelta(minutes=2)
_BATCH_RETRIES = 3
# A launch adds a row per employee to several tables; planner statistics taken when they were
# nearly empty make PostgreSQL scan them whole (seconds per batch at 100,000 people) until
# autovacuum re-analyzes them — if it runs at all. So the launch refreshes them itself.
ANALYZE_EVERY = 10_000
_GROWING_TABLES = "cases, cycle_members, human_tasks, audit_events, notifications"


# --- defining a cycle -------------------------------------------------------------------------


@dataclass(frozen=True)
class CycleInput:
    """What HR decides about a cycle. Money and percentages as Decimal; dates as dates."""

    name: str
    year: int
    process_key: str
    org_unit_ids: list[int]
    starts_on: date
    mid_year_on: date
    interview_opens_on: date
    interview_closes_on: date
    ends_on: date
    incentive_cap_percent: Decimal
    budget: Decimal
    guideline_distribution: dict[str, Any] = field(
        default_factory=lambda: dict(DEFAULT_DISTRIBUTION)
    )
    incentive_threshold_amount: Decimal | None = None


def _as_decimal(value: Any) -> Decimal | None:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        return None
    return number if number.is_finite() else None


def validate_cycle_input(data: CycleInput) -> dict[str, list[str]]:
    """Every problem with a cycle definition, by field; empty when it can be saved."""
    errors: dict[str, list[str]] = {}

    def add(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    if not data.name.strip():
        add("name", N_("Give the cycle a name."))
    elif len(data.name.strip()) > 200:
        add("name", N_("A name has at most 200 characters."))
    if not 2000 <= data.year <= 2100:
        add("year", N_("The year must be between 2000 and 2100."))
    if not data.org_unit_ids:
        add("org_unit_ids", N_("Choose at least one org unit."))
    dates = [("starts_on", data.starts_on), ("mid_year_on", data.mid_year_on),
             ("interview_opens_on", data.interview_opens_on),
             ("interview_closes_on", data.interview_closes_on), ("ends_on", data.ends_on)]
    for (_, earlier), (later_name, later) in zip(dates, dates[1:], strict=False):
        if earlier and later and later < earlier:
            add(later_name, N_("Dates must follow each other: start, mid-year review, "
                               "interview window opens, interview window closes, end."))
    if data.starts_on and data.ends_on and data.ends_on <= data.starts_on:
        add("ends_on", N_("The cycle must end after it starts."))
    # Equal opportunity: one cap, a share of base pay, the same for everyone in the cycle.
    cap = _as_decimal(data.incentive_cap_percent)
    if cap is None or not Decimal(0) < cap <= MAX_INCENTIVE_CAP_PERCENT:
        add("incentive_cap_percent",
            Message(N_("The incentive cap is one share of base pay for everyone in the cycle: "
                       "more than 0 and at most %(most)s%%."), most=MAX_INCENTIVE_CAP_PERCENT))
    elif cap != cap.quantize(Decimal("0.01")):
        add("incentive_cap_percent", N_("Give the cap with at most two decimals."))
    budget = _as_decimal(data.budget)
    if budget is None or not Decimal(0) < budget <= MAX_BUDGET:
        add("budget", N_("The budget must be a positive amount."))
    elif budget != budget.quantize(Decimal("0.01")):
        add("budget", N_("Give the budget with at most two decimals."))
    if data.incentive_threshold_amount is not None:
        threshold = _as_decimal(data.incentive_threshold_amount)
        if threshold is None or not Decimal(0) <= threshold <= MAX_BUDGET:
            add("incentive_threshold_amount",
                N_("The finance threshold must be an amount of 0 or more."))
    distribution = data.guideline_distribution or {}
    if set(distribution) != set(RATING_BANDS):
        add("guideline_distribution",
            Message(N_("Give a percentage for each rating band: %(bands)s."),
                    bands=", ".join(RATING_BANDS)))
    else:
        shares = {band: _as_decimal(distribution[band]) for band in RATING_BANDS}
        if any(share is None or not 0 <= share <= 100 for share in shares.values()):
            add("guideline_distribution", N_("Each band's share is a percentage from 0 to 100."))
        elif sum(shares.values()) != 100:
            add("guideline_distribution",
                Message(N_("The guideline distribution must add up to 100%% "
                           "(it adds up to %(total)s%%)."), total=sum(shares.values())))
    return errors


def _normalised_distribution(distribution: dict[str, Any]) -> dict[str, int | float]:
    result: dict[str, int | float] = {}
    for band in RATING_BANDS:
        share = Decimal(str(distribution[band]))
        result[band] = int(share) if share == share.to_integral_value() else float(share)
    return result


def can_manage_units(user: User, unit_ids: list[int]) -> bool:
    """Admins, or HR holding every one of the units (a role at a unit covers those below)."""
    if is_admin(user):
        return True
    return bool(unit_ids) and all(holds_role_for_unit(user, Role.HR, uid) for uid in unit_ids)


def can_manage_cycle(user: User, cycle: Cycle) -> bool:
    return can_manage_units(user, [unit.id for unit in cycle.org_units])


def can_view_cycle(user: User, cycle: Cycle) -> bool:
    """Admins, auditors, and HR of any unit in the cycle's scope."""
    if is_admin(user) or user.has_role(Role.AUDITOR):
        return True
    return any(holds_role_for_unit(user, Role.HR, unit.id) for unit in cycle.org_units)


def may_define_cycles(user: User) -> bool:
    return is_hr_or_admin(user)


def may_read_cycles(user: User) -> bool:
    """Who sees the cycle list: those who define cycles, and auditors (read-only)."""
    return may_define_cycles(user) or user.has_role(Role.AUDITOR)


def manageable_units(user: User) -> list[OrgUnit]:
    """The org units this user may put in a cycle's scope."""
    units = list(db.session.scalars(select(OrgUnit).order_by(OrgUnit.name)))
    if is_admin(user):
        return units
    return [unit for unit in units if holds_role_for_unit(user, Role.HR, unit.id)]


def _check(user: User, data: CycleInput, cycle_id: int | None = None) -> list[OrgUnit]:
    errors = validate_cycle_input(data)
    units = list(db.session.scalars(select(OrgUnit).where(OrgUnit.id.in_(data.org_unit_ids))))
    if len(units) != len(set(data.org_unit_ids)):
        errors.setdefault("org_unit_ids", []).append(N_("Unknown org unit."))
    if not errors.get("process_key"):
        try:
            process_models.current_version(data.process_key)
        except NotFound:
            errors.setdefault("process_key", []).append(Message(
                N_("No process named %(process)s is deployed."), process=repr(data.process_key)))
    same_name = select(Cycle.id).where(func.lower(Cycle.name) == data.name.strip().lower())
    if cycle_id is not None:
        same_name = same_name.where(Cycle.id != cycle_id)
    if data.name.strip() and db.session.scalar(same_name) is not None:
        errors.setdefault("name", []).append(N_("Another cycle already has this name."))
    if errors:
        raise ValidationFailed(next(iter(errors.values()))[0], errors)
    if not can_manage_units(user, [unit.id for unit in units]):
        raise PermissionDenied(
            N_("Only HR of every unit in the cycle's scope, or an administrator, may define it."))
    return units


def _apply(cycle: Cycle, data: CycleInput, units: list[OrgUnit]) -> None:
    cycle.name = data.name.strip()
    cycle.year = data.year
    cycle.process_key = data.process_key
    cycle.org_units = units
    cycle.starts_on = data.starts_on
    cycle.mid_year_on = data.mid_year_on
    cycle.interview_opens_on = data.interview_opens_on
    cycle.interview_closes_on = data.interview_closes_on
    cycle.ends_on = data.ends_on
    cycle.incentive_cap_percent = Decimal(str(data.incentive_cap_percent))
    cycle.budget = Decimal(str(data.budget))
    cycle.guideline_distribution = _normalised_distribution(data.guideline_distribution)
    cycle.incentive_threshold_amount = (
        Decimal(str(data.incentive_threshold_amount))
        if data.incentive_threshold_amount is not None else None
    )


def definition(cycle: Cycle) -> dict[str, Any]:
    """The cycle as HR defined it, in plain JSON (audit details, the API, start data)."""
    return {
        "name": cycle.name,
        "year": cycle.year,
        "process": cycle.process_key,
        "org_units": sorted(unit.code for unit in cycle.org_units),
        "starts_on": cycle.starts_on.isoformat(),
        "mid_year_on": cycle.mid_year_on.isoformat(),
        "interview_opens_on": cycle.interview_opens_on.isoformat(),
        "interview_closes_on": cycle.interview_closes_on.isoformat(),
        "ends_on": cycle.ends_on.isoformat(),
        "incentive_cap_percent": float(cycle.incentive_cap_percent),
        "budget": float(cycle.budget),
        "guideline_distribution": dict(cycle.guideline_distribution),
        **({"incentive_threshold_amount": float(cycle.incentive_threshold_amount)}
           if cycle.incentive_threshold_amount is not None else {}),
    }


def create_cycle(user: User, data: CycleInput) -> Cycle:
    """Define a cycle (not launched yet). Only HR of all its units, or an admin."""
    units = _check(user, data)
    with unit_of_work():
        cycle = Cycle(created_by_id=user.id, status=CycleStatus.DRAFT)
        _apply(cycle, data, units)
        db.session.add(cycle)
        db.session.flush()
        audit.record(AuditEventType.CYCLE_CREATED, actor=user,
                     details={"cycle": cycle.id, **definition(cycle)})
    return cycle


def update_cycle(user: User, cycle_id: int, data: CycleInput) -> Cycle:
    """Change a cycle that has not been launched. Once a launch starts, everything that goes into
    the cases (dates, the cap, the scope) is frozen: employees launched earlier and later must
    get the same cycle — the same maximum incentive above all."""
    cycle = get_cycle_for(user, cycle_id, manage=True)
    if cycle.status != CycleStatus.DRAFT:
        raise Conflict(Message(
            N_("“%(cycle)s” has been launched: its dates, scope and incentive cap are frozen so "
               "that everyone in it has the same cycle and the same maximum incentive."),
            cycle=cycle.name))
    units = _check(user, data, cycle_id)
    with unit_of_work():
        before = definition(cycle)
        _apply(cycle, data, units)
        after = definition(cycle)
        changes = {key: {"before": before[key], "after": value}
                   for key, value in after.items() if before[key] != value}
        audit.record(AuditEventType.CYCLE_UPDATED, actor=user,
                     details={"cycle": cycle.id, "changes": changes})
    return cycle


def get_cycle_for(user: User, cycle_id: int, *, manage: bool = False) -> Cycle:
    cycle = db.session.get(Cycle, cycle_id)
    if cycle is None:
        raise NotFound(Message(N_("No cycle %(id)s."), id=cycle_id))
    allowed = can_manage_cycle(user, cycle) if manage else can_view_cycle(user, cycle)
    if not allowed:
        raise PermissionDenied(N_("Only HR of the cycle's units or an administrator may do this."))
    return cycle


def list_cycles(user: User) -> list[Cycle]:
    cycles = db.session.scalars(
        select(Cycle).options(selectinload(Cycle.org_units)).order_by(Cycle.year.desc(),
                                                                       Cycle.name)
    )
    return [cycle for cycle in cycles if can_view_cycle(user, cycle)]


def define_demo_cycle(hr: User) -> Cycle:
    """The demo department's performance year (this calendar year), defined but not launched:
    the README walks through launching it. Only `flask seed-demo` calls this."""
    year = clock.now().year
    process = "annual_appraisal" if "annual_appraisal" in {
        m.key for m in process_models.startable_processes()} else "goal_setting"
    health = db.session.scalar(select(OrgUnit).where(OrgUnit.code == "KP-HEALTH"))
    return create_cycle(hr, CycleInput(
        name=f"Health Department performance year {year}", year=year, process_key=process,
        org_unit_ids=[health.id], starts_on=date(year, 1, 1), mid_year_on=date(year, 7, 1),
        interview_opens_on=date(year, 12, 1), interview_closes_on=date(year, 12, 20),
        ends_on=date(year, 12, 31), incentive_cap_percent=Decimal("20"),
        budget=Decimal("2000000"), incentive_threshold_amount=Decimal("25000"),
    ))


# --- what each case of a cycle starts with ----------------------------------------------------


def cycle_start_data(cycle: Cycle) -> dict[str, Any]:
    """The cycle's part of every case's start data: the processes read their dates (timers
    on the mid-year date, the interview window...), the cap and the guideline from it."""
    return {"cycle": {"id": cycle.id, **definition(cycle)}}


def incentive_cap(cycle: Cycle, subject: Employee) -> dict[str, Any]:
    """The one cap of the cycle applied to this person's base pay."""
    percent = Decimal(cycle.incentive_cap_percent)
    amount = (
        (Decimal(subject.base_pay) * percent / 100).quantize(Decimal("0.01"))
        if subject.base_pay is not None else None
    )
    return {
        "incentive_cap": {
            "percent_of_base_pay": float(percent),
            "base_pay": float(subject.base_pay) if subject.base_pay is not None else None,
            "amount": float(amount) if amount is not None else None,
        }
    }


def case_start_data(cycle_data: dict[str, Any], cycle: Cycle,
                    subject: Employee) -> dict[str, Any]:
    return {**cases.subject_data(subject), **cycle_data, **incentive_cap(cycle, subject)}


# --- launching --------------------------------------------------------------------------------


@dataclass
class LaunchResult:
    cycle_id: int
    in_scope: int = 0
    already_launched: int = 0  # launched by an earlier run
    cases_started: int = 0
    not_launched: int = 0  # employees whose org data could not route the process


@dataclass(frozen=True)
class BatchOutcome:
    processed: int
    cases_started: int
    not_launched: int
    last_employee_id: int


class _StartsAhead:
    """Engine starts handed to the worker processes for the next batch while this batch writes
    its rows: employee id -> the start data used. A batch uses a result only if the employee's
    start data is still the same (the org data may change in between)."""

    def __init__(self, datas: dict[int, dict[str, Any]], results: Callable[[], list[Any]]):
        self._datas = datas
        self._results = results
        self._outcomes: dict[int, tuple[dict[str, Any], Any]] | None = None

    def outcomes(self) -> dict[int, tuple[dict[str, Any], Any]]:
        if self._outcomes is None:
            results = self._results()
            self._outcomes = {employee_id: (data, result) for (employee_id, data), result
                              in zip(self._datas.items(), results, strict=True)}
        return self._outcomes


def scope_unit_ids(cycle: Cycle) -> set[int]:
    ids: set[int] = set()
    for unit in cycle.org_units:
        ids |= descendant_unit_ids(unit.id)
    return ids


def _in_scope(unit_ids: set[int]) -> Any:
    return Employee.org_unit_id.in_(sorted(unit_ids))


def _launched(cycle_id: int) -> Any:
    return exists().where(
        CycleMember.cycle_id == cycle_id,
        CycleMember.employee_id == Employee.id,
        CycleMember.status == CycleMemberStatus.LAUNCHED,
    )


def _locked_cycle(cycle_id: int) -> Cycle:
    """The cycle row, locked until the transaction ends (PostgreSQL; a no-op on SQLite)."""
    return db.session.scalars(
        select(Cycle).where(Cycle.id == cycle_id).with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def _begin_launch(cycle_id: int, actor: User) -> tuple[int, set[int], int]:
    """Pin the process version, count the people in scope, mark the cycle launching."""
    with unit_of_work():
        cycle = _locked_cycle(cycle_id)
        if cycle.process_version_id is None:
            cycle.process_version = process_models.current_version(cycle.process_key)
        unit_ids = scope_unit_ids(cycle)
        in_scope = db.session.scalar(select(func.count(Employee.id)).where(_in_scope(unit_ids)))
        already = db.session.scalar(
            select(func.count(CycleMember.id)).where(
                CycleMember.cycle_id == cycle.id,
                CycleMember.status == CycleMemberStatus.LAUNCHED)
        )
        now = clock.now()
        cycle.status = CycleStatus.LAUNCHING
        cycle.launched_by_id = actor.id
        cycle.launch_started_at = now
        cycle.launch_heartbeat_at = now
        cycle.launch_finished_at = None
        cycle.in_scope_count = in_scope
        version = cycle.process_version
        audit.record(AuditEventType.CYCLE_LAUNCH_STARTED, actor=actor, details={
            "cycle": cycle.id, "process": cycle.process_key, "version": version.version,
            "in_scope": in_scope, "already_launched": already,
        })
        return version.id, unit_ids, already


def _launch_batch(
    cycle_id: int,
    actor_id: int,
    version_id: int,
    unit_ids: set[int],
    after_employee_id: int,
    batch_size: int,
    starter: WorkflowStarter,
    ahead: _StartsAhead | None = None,
) -> tuple[BatchOutcome | None, _StartsAhead | None]:
    """Launch the next batch of employees in one transaction; None when nobody is left. With
    engine workers, the next batch's starts are handed to them before this batch writes, and
    returned to be used by the next call."""
    try:
        cycle = _locked_cycle(cycle_id)
        actor = db.session.get(User, actor_id)
        version = db.session.get(ProcessVersion, version_id)
        employees = list(db.session.scalars(
            select(Employee)
            .where(Employee.id > after_employee_id, _in_scope(unit_ids), ~_launched(cycle_id))
            .order_by(Employee.id)
            .limit(batch_size)
            .options(joinedload(Employee.org_unit),
                     selectinload(Employee.reporting_officer),
                     selectinload(Employee.countersigning_officer))
        ))
        if not employees:
            db.session.rollback()
            return None, None
        ids = [e.id for e in employees]
        earlier = {m.employee_id: m for m in db.session.scalars(
            select(CycleMember).where(CycleMember.cycle_id == cycle_id,
                                      CycleMember.employee_id.in_(ids)))}
        running = cases.running_cases(version.process_model_id, ids)
        parsed = process_models.parsed_version(version)
        process_name = version.process_model.name
        problems: dict[int, str] = {}
        to_start: list[Employee] = []
        for employee in employees:
            if employee.user_id is not None and employee.user_id == actor.id:
                problems[employee.id] = (
                    "You cannot launch a case about yourself: another HR officer or an "
                    "administrator must launch the cycle for you.")
            elif employee.id in running:
                problems[employee.id] = (
                    f"{employee.full_name} already has a running {process_name} case "
                    f"(#{running[employee.id]}).")
            else:
                try:
                    cases.check_routable(parsed, employee)
                except AssignmentError as exc:
                    problems[employee.id] = str(exc.message)  # stored: English
                else:
                    to_start.append(employee)

        cycle_data = cycle_start_data(cycle)
        datas = {e.id: case_start_data(cycle_data, cycle, e) for e in to_start}
        prestarted = ahead.outcomes() if ahead is not None else {}
        outcome_of = {employee_id: result for employee_id, (data, result) in prestarted.items()
                      if datas.get(employee_id) == data}
        missing = [employee_id for employee_id in datas if employee_id not in outcome_of]
        outcome_of.update(zip(missing, starter.start_many([datas[i] for i in missing]),
                              strict=True))
        next_ahead = None
        if starter.parallel:
            upcoming = list(db.session.scalars(
                select(Employee)
                .where(Employee.id > employees[-1].id, _in_scope(unit_ids), ~_launched(cycle_id))
                .order_by(Employee.id).limit(batch_size).options(joinedload(Employee.org_unit))
            ))
            upcoming_datas = {e.id: case_start_data(cycle_data, cycle, e) for e in upcoming}
            next_ahead = _StartsAhead(upcoming_datas,
                                      starter.start_later(list(upcoming_datas.values())))
        now = clock.now()
        ready = []
        for employee in to_start:
            outcome = outcome_of[employee.id]
            if isinstance(outcome, EngineError):
                problems[employee.id] = f"The process could not start: {outcome}"
            else:
                ready.append((employee, outcome))
        opened = cases.open_cases(version, ready, actor, details={"cycle": cycle_id})
        for (employee, _), case in zip(ready, opened, strict=True):
            member = earlier.get(employee.id) or CycleMember(cycle_id=cycle_id,
                                                             employee_id=employee.id)
            member.case_id, member.status, member.problem = (
                case.id, CycleMemberStatus.LAUNCHED, None)
            member.attempted_at = now
            db.session.add(member)
        for employee_id, problem in problems.items():
            member = earlier.get(employee_id) or CycleMember(cycle_id=cycle_id,
                                                             employee_id=employee_id)
            member.case_id, member.status, member.problem = (
                None, CycleMemberStatus.NOT_LAUNCHED, problem)
            member.attempted_at = now
            db.session.add(member)
        cycle.launch_heartbeat_at = now
        db.session.flush()
        pause_point("cycle_launch.batch_before_commit")
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return BatchOutcome(len(employees), len(opened), len(problems), employees[-1].id), next_ahead


def _release(keep: set[Any]) -> None:
    """Forget every object the batch loaded or created, so memory stays flat over a launch."""
    for key, obj in list(db.session.identity_map.items()):
        if key not in keep:
            db.session.expunge(obj)


def launch_cycle(
    cycle_id: int,
    actor: User,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    workers: int = 0,
    progress: Callable[[LaunchResult, int], None] | None = None,
) -> LaunchResult:
    """Start one case per employee in the cycle's scope who has none in this cycle yet.

    Safe to run again at any time (see the module docstring); the cycle's process version is
    pinned by the first run, so later runs start the same version. `workers` > 0 runs the engine
    in that many processes."""
    cycle = get_cycle_for(actor, cycle_id, manage=True)
    actor_id = actor.id
    version_id, unit_ids, already = _begin_launch(cycle.id, actor)
    version = db.session.get(ProcessVersion, version_id)
    called, decisions = process_models.dependency_documents(version)
    starter = WorkflowStarter(version.bpmn_xml.encode("utf-8"), version.source_name, workers,
                              called_processes=called, decisions=decisions)
    result = LaunchResult(cycle_id=cycle_id, already_launched=already,
                          in_scope=cycle.in_scope_count or 0)
    keep = set(db.session.identity_map.keys())
    last_id = 0
    ahead: _StartsAhead | None = None
    since_analyze = 0
    if progress is not None:
        progress(result, 0)
    with starter:
        while True:
            if since_analyze >= ANALYZE_EVERY:
                _refresh_statistics()
                since_analyze = 0
            outcome, ahead = _with_retries(lambda after=last_id, pre=ahead: _launch_batch(
                cycle_id, actor_id, version_id, unit_ids, after, batch_size, starter, pre))
            _release(keep)
            if outcome is None:
                break
            last_id = outcome.last_employee_id
            since_analyze += outcome.processed
            result.cases_started += outcome.cases_started
            result.not_launched += outcome.not_launched
            if progress is not None:
                progress(result, outcome.processed)
    _finish_launch(cycle_id, db.session.get(User, actor_id), result)
    return result


def _refresh_statistics() -> None:
    if db.engine.dialect.name != "postgresql":
        return  # SQLite plans these queries by their indexes alone
    with unit_of_work():
        db.session.execute(text(f"ANALYZE {_GROWING_TABLES}"))


def _with_retries(run: Callable[[], tuple[BatchOutcome | None, _StartsAhead | None]]
                  ) -> tuple[BatchOutcome | None, _StartsAhead | None]:
    """A batch that collided with another launcher's (a member row already there) is re-read
    and done again: the second reading skips whoever the other launcher took."""
    for attempt in range(_BATCH_RETRIES):
        try:
            return run()
        except IntegrityError:
            if attempt == _BATCH_RETRIES - 1:
                raise
            log.info("launch batch collided with another launcher; retrying")
    return None, None


def _finish_launch(cycle_id: int, actor: User, result: LaunchResult) -> None:
    with unit_of_work():
        cycle = _locked_cycle(cycle_id)
        totals = member_counts(cycle_id)
        cycle.status = CycleStatus.LAUNCHED
        cycle.launch_finished_at = clock.now()
        cycle.launch_heartbeat_at = cycle.launch_finished_at
        audit.record(AuditEventType.CYCLE_LAUNCHED, actor=actor, details={
            "cycle": cycle_id,
            "in_scope": result.in_scope,
            "cases_started": result.cases_started,
            "not_launched": result.not_launched,
            "already_launched": result.already_launched,
            "launched_total": totals[CycleMemberStatus.LAUNCHED],
            "not_launched_total": totals[CycleMemberStatus.NOT_LAUNCHED],
        })


# --- progress and problems --------------------------------------------------------------------


def member_counts(cycle_id: int) -> dict[CycleMemberStatus, int]:
    counts = dict.fromkeys(CycleMemberStatus, 0)
    rows = db.session.execute(
        select(CycleMember.status, func.count(CycleMember.id))
        .where(CycleMember.cycle_id == cycle_id).group_by(CycleMember.status)
    )
    for status, count in rows:
        counts[CycleMemberStatus(status)] = count
    return counts


@dataclass(frozen=True)
class LaunchProgress:
    status: CycleStatus
    in_scope: int
    launched: int
    not_launched: int
    stalled: bool  # launching, but no batch has committed for a while: the launcher stopped

    @property
    def done(self) -> int:
        return self.launched + self.not_launched

    @property
    def percent(self) -> int:
        if not self.in_scope:
            return 100 if self.status == CycleStatus.LAUNCHED else 0
        return min(100, self.done * 100 // self.in_scope)


def launch_progress(cycle: Cycle) -> LaunchProgress:
    counts = member_counts(cycle.id)
    heartbeat = cycle.launch_heartbeat_at
    if heartbeat is not None and heartbeat.tzinfo is None:  # SQLite returns naive UTC
        heartbeat = heartbeat.replace(tzinfo=clock.now().tzinfo)
    stalled = (cycle.status == CycleStatus.LAUNCHING and heartbeat is not None
               and clock.now() - heartbeat > STALLED_AFTER)
    return LaunchProgress(
        status=cycle.status,
        in_scope=cycle.in_scope_count or 0,
        launched=counts[CycleMemberStatus.LAUNCHED],
        not_launched=counts[CycleMemberStatus.NOT_LAUNCHED],
        stalled=stalled,
    )


def not_launched_members(cycle_id: int, limit: int = 100, offset: int = 0) -> list[CycleMember]:
    """Employees the launch reported, with why, in employee order."""
    return list(db.session.scalars(
        select(CycleMember)
        .join(Employee, CycleMember.employee_id == Employee.id)
        .where(CycleMember.cycle_id == cycle_id,
               CycleMember.status == CycleMemberStatus.NOT_LAUNCHED)
        .options(joinedload(CycleMember.employee))
        .order_by(Employee.employee_number)
        .limit(limit).offset(offset)
    ))


# --- launching from the web: a background thread ---------------------------------------------

_threads: dict[int, threading.Thread] = {}
_threads_lock = threading.Lock()


def launch_in_background(user: User, cycle_id: int) -> threading.Thread:
    """Start (or resume) a launch in a thread of this process and return at once; the cycle
    page shows its progress. If the process dies, the launch is resumed from the page or with
    `flask launch-cycle` — it is idempotent."""
    cycle = get_cycle_for(user, cycle_id, manage=True)
    with _threads_lock:
        running = _threads.get(cycle_id)
        if running is not None and running.is_alive():
            raise Conflict(Message(N_("“%(cycle)s” is already being launched."),
                                   cycle=cycle.name))
        if cycle.status == CycleStatus.LAUNCHING and not launch_progress(cycle).stalled:
            raise Conflict(Message(
                N_("“%(cycle)s” is already being launched by another process."),
                cycle=cycle.name))
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        thread = threading.Thread(
            target=_run_launch, args=(app, cycle_id, user.id),
            name=f"meezan-launch-cycle-{cycle_id}", daemon=True,
        )
        _threads[cycle_id] = thread
        thread.start()
    return thread


def _run_launch(app: Flask, cycle_id: int, user_id: int) -> None:
    with app.app_context():
        try:
            launch_cycle(cycle_id, db.session.get(User, user_id))
        except Exception:
            log.exception("launch of cycle %s failed; it can be resumed", cycle_id)
        finally:
            db.session.remove()


def background_launch(cycle_id: int) -> threading.Thread | None:
    """The thread launching this cycle in this process, if any (tests wait on it)."""
    with _threads_lock:
        return _threads.get(cycle_id)
