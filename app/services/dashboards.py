"""The dashboards of a performance cycle: for an org unit (or the reader's whole scope), each
stage's completion, overdue work, KPI achievement, the rating distribution beside the cycle's
guideline, its sub-units ranked, the month-by-month trend and its own staff, drilled down unit
by unit to the employee's case.

Every figure is aggregated by the database from the reporting projection
(app/models/reporting.py) with GROUP BY: a query per table, whatever the number of employees.
A unit's figures cover it and every unit below it; the sub-unit mapping is a recursive query
over the org tree.

Who sees what: administrators and auditors everything; HR the units they hold the role for
(with the units below); a unit's head (OrgUnit.head_employee_id) that unit and the units below.
Employees and officers as such see no dashboard.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import CTE, Select, case, func, literal, select, union_all

from app.clock import clock
from app.extensions import db
from app.models import (
    AppraisalFact,
    AppraisalMonth,
    Cycle,
    CycleStatus,
    Employee,
    OrgUnit,
    Role,
    User,
)
from app.services.errors import NotFound, PermissionDenied, ValidationFailed
from app.services.org import descendant_unit_ids
from app.services.reporting import STAGES

# The stages whose completion the dashboard shows, in the year's order (the mid-year review
# sits inside the months); "completed" is the whole year done.
STAGE_ORDER = ["goal_setting", "monthly_actuals", "mid_year_review", "appraisal_interview",
               "calibration", "incentive_approval"]
BANDS = ["outstanding", "very_good", "good", "average", "below_average"]
TABLES = ("stages", "ratings", "units", "trend", "employees")
EMPLOYEES_PER_PAGE = 100
# League tables rank by one of these (descending, ties by name).
LEAGUE_ORDERS = ("achievement", "score", "completion", "overdue")


def scope_roots(user: User) -> list[int] | None:
    """The org units whose dashboards the user may read (each with the units below it); None
    for the whole organisation, [] for none."""
    if user.has_role(Role.ADMIN) or user.has_role(Role.AUDITOR):
        return None
    roots: set[int] = set()
    for held in user.roles:
        if held.role == Role.HR:
            if held.org_unit_id is None:
                return None
            roots.add(held.org_unit_id)
    if user.employee is not None:
        roots |= set(db.session.scalars(
            select(OrgUnit.id).where(OrgUnit.head_employee_id == user.employee.id)))
    covered: set[int] = set()
    for root in sorted(roots):  # a root below another root is already covered by it
        if root not in covered:
            covered |= descendant_unit_ids(root) - {root}
    return sorted(roots - covered)


def may_see_dashboards(user: User) -> bool:
    """Whether the nav shows the dashboards (HR, administrators, auditors, unit heads)."""
    return user.is_authenticated and scope_roots(user) != []


def _visible_unit_ids(roots: list[int] | None) -> set[int] | None:
    if roots is None:
        return None
    visible: set[int] = set()
    for root in roots:
        visible |= descendant_unit_ids(root)
    return visible


@dataclass(frozen=True)
class UnitRow:
    """One sub-unit (or the unit's own staff) of the dashboard, with the sums behind its
    figures; the league table ranks these."""

    unit_id: int
    name: str
    code: str
    own_staff: bool  # the employees directly in the unit shown, not in a sub-unit
    has_children: bool
    employees: int
    stage_done: dict[str, int]
    at_stage: dict[str, int]
    completed: int
    overdue: int
    achievement: float | None
    achievement_count: int
    score: float | None
    rated: int
    rank: int = 0

    @property
    def completion_percent(self) -> float:
        """Share of the year's stages done, over all employees (each finished stage of each
        employee counts once; the completed year counts as all six)."""
        if not self.employees:
            return 0.0
        done = sum(self.stage_done.values())
        return round(100.0 * done / (self.employees * len(STAGE_ORDER)), 1)


@dataclass
class Dashboard:
    cycle: Cycle
    unit: OrgUnit | None  # None: the reader's whole scope, its top units as rows
    trail: list[OrgUnit]  # the units from the top of the reader's scope down to `unit`
    now_iso: str
    employees: int = 0
    overdue: int = 0
    completed: int = 0
    achievement: float | None = None
    score: float | None = None
    stages: list[dict[str, Any]] = field(default_factory=list)
    ratings: list[dict[str, Any]] = field(default_factory=list)
    rated: int = 0
    units: list[UnitRow] = field(default_factory=list)
    league_order: str = "achievement"
    trend: list[dict[str, Any]] = field(default_factory=list)
    staff: list[dict[str, Any]] = field(default_factory=list)
    staff_total: int = 0
    page: int = 1
    pages: int = 1


def visible_cycles(user: User) -> list[Cycle]:
    """Launched (or launching) cycles reaching into the reader's scope, newest first."""
    roots = scope_roots(user)
    if roots == []:
        raise PermissionDenied("Dashboards are for HR, unit heads, auditors and administrators.")
    found = list(db.session.scalars(
        select(Cycle).where(Cycle.status != CycleStatus.DRAFT)
        .order_by(Cycle.year.desc(), Cycle.id.desc())))
    if roots is None:
        return found
    visible = _visible_unit_ids(roots) or set()
    return [c for c in found if _cycle_reaches(c, visible)]


def _cycle_reaches(cycle: Cycle, visible: set[int]) -> bool:
    for unit in cycle.org_units:
        if unit.id in visible or visible & descendant_unit_ids(unit.id):
            return True
    return False


def _mapping(unit_id: int | None, roots: list[int] | None) -> CTE:
    """(unit_id, group_id): every unit under the dashboard's unit mapped to the row it counts
    for — the sub-unit below the shown unit it belongs to, or the shown unit itself for its own
    staff; with no unit, the top units of the reader's scope."""
    if unit_id is not None:
        seed = select(OrgUnit.id.label("unit_id"), OrgUnit.id.label("group_id")).where(
            OrgUnit.parent_id == unit_id)
    elif roots is None:
        seed = select(OrgUnit.id.label("unit_id"), OrgUnit.id.label("group_id")).where(
            OrgUnit.parent_id.is_(None))
    else:
        seed = select(OrgUnit.id.label("unit_id"), OrgUnit.id.label("group_id")).where(
            OrgUnit.id.in_(roots))
    tree = seed.cte("unit_tree", recursive=True)
    tree = tree.union_all(select(OrgUnit.id, tree.c.group_id)
                          .join(tree, OrgUnit.parent_id == tree.c.unit_id))
    parts: list[Select] = [select(tree.c.unit_id, tree.c.group_id)]
    if unit_id is not None:
        parts.append(select(literal(unit_id).label("unit_id"), literal(unit_id).label("group_id")))
    return union_all(*parts).cte("unit_groups")


def _count_if(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _stage_done_conditions() -> dict[str, Any]:
    rank = AppraisalFact.stage_rank
    return {
        "goal_setting": rank > STAGES["goal_setting"],
        "monthly_actuals": rank > STAGES["monthly_actuals"],
        "mid_year_review": AppraisalFact.mid_year_done.is_(True),
        "appraisal_interview": rank > STAGES["appraisal_interview"],
        "calibration": rank > STAGES["calibration"],
        "incentive_approval": rank > STAGES["incentive_approval"],
    }


def dashboard(user: User, cycle_id: int, unit_id: int | None = None, page: int = 1,
              league_order: str = "achievement", all_staff: bool = False) -> Dashboard:
    """The dashboard of a cycle for a unit the user may see (None: their whole scope)."""
    roots = scope_roots(user)
    if roots == []:
        raise PermissionDenied("Dashboards are for HR, unit heads, auditors and administrators.")
    cycle = db.session.get(Cycle, cycle_id)
    if cycle is None:
        raise NotFound(f"No cycle {cycle_id}.")
    visible = _visible_unit_ids(roots)
    unit = None
    if unit_id is not None:
        unit = db.session.get(OrgUnit, unit_id)
        if unit is None:
            raise NotFound(f"No org unit {unit_id}.")
        if visible is not None and unit_id not in visible:
            raise PermissionDenied("That unit is outside the units whose dashboards you read.")
    if league_order not in LEAGUE_ORDERS:
        raise ValidationFailed("Unknown ranking.", {"order": ["Choose a listed ranking."]})
    if page < 1:
        raise ValidationFailed("Pages start at 1.", {"page": ["Pages start at 1."]})
    if visible is not None and not _cycle_reaches(cycle, visible):
        raise PermissionDenied("That cycle does not reach the units whose dashboards you read.")
    now = clock.now()
    view = Dashboard(cycle=cycle, unit=unit, trail=_trail(unit, roots), now_iso=now.isoformat(),
                     league_order=league_order, page=page)
    key = str(cycle.id)
    groups = _mapping(unit_id, roots)
    _unit_rows(view, key, groups, now, unit_id)
    _ratings(view, key, groups)
    _trend(view, key, groups)
    if unit is not None:
        _staff(view, key, unit.id, now, page, all_staff)
    return view


def _trail(unit: OrgUnit | None, roots: list[int] | None) -> list[OrgUnit]:
    trail: list[OrgUnit] = []
    current = unit
    while current is not None:
        trail.append(current)
        if roots is not None and current.id in roots:
            break
        current = current.parent
    return list(reversed(trail))


def _unit_rows(view: Dashboard, key: str, groups: CTE, now: Any, unit_id: int | None) -> None:
    done = _stage_done_conditions()
    columns = [
        groups.c.group_id,
        func.count().label("employees"),
        _count_if(AppraisalFact.stage_rank >= STAGES["completed"]).label("completed"),
        _count_if(AppraisalFact.next_due_at < now).label("overdue"),
        func.sum(AppraisalFact.achievement).label("achievement_sum"),
        func.count(AppraisalFact.achievement).label("achievement_count"),
        func.sum(AppraisalFact.score).label("score_sum"),
        func.count(AppraisalFact.score).label("score_count"),
        func.count(AppraisalFact.rating_band).label("rated"),
        *[_count_if(condition).label(f"done_{stage}") for stage, condition in done.items()],
        *[_count_if(AppraisalFact.stage == stage).label(f"at_{stage}")
          for stage in [*STAGE_ORDER, "completed"]],
    ]
    rows = {row.group_id: row for row in db.session.execute(
        select(*columns).select_from(AppraisalFact)
        .join(groups, AppraisalFact.org_unit_id == groups.c.unit_id)
        .where(AppraisalFact.cycle_key == key)
        .group_by(groups.c.group_id))}
    # The rows: every sub-unit (even without cases), and the unit's own staff if it has any.
    if unit_id is not None:
        listed = list(db.session.execute(
            select(OrgUnit.id, OrgUnit.name, OrgUnit.code).where(OrgUnit.parent_id == unit_id)))
        if unit_id in rows:
            own = db.session.get(OrgUnit, unit_id)
            listed.append((own.id, own.name, own.code))
    else:
        listed = list(db.session.execute(
            select(OrgUnit.id, OrgUnit.name, OrgUnit.code)
            .where(OrgUnit.id.in_(select(groups.c.group_id)))))
    parents = set(db.session.scalars(
        select(OrgUnit.parent_id).where(OrgUnit.parent_id.is_not(None)).distinct()))
    sums = {"employees": 0, "completed": 0, "overdue": 0, "achievement_sum": 0.0,
            "achievement_count": 0, "score_sum": 0.0, "score_count": 0,
            **{f"done_{s}": 0 for s in STAGE_ORDER},
            **{f"at_{s}": 0 for s in [*STAGE_ORDER, "completed"]}}
    units = []
    for uid, name, code in listed:
        row = rows.get(uid)
        values = {name_: (getattr(row, name_) or 0) if row is not None else 0 for name_ in sums}
        for name_ in sums:
            sums[name_] += values[name_]
        units.append(UnitRow(
            unit_id=uid, name=name, code=code, own_staff=uid == unit_id,
            has_children=uid in parents and uid != unit_id,
            employees=values["employees"],
            stage_done={s: values[f"done_{s}"] for s in STAGE_ORDER},
            at_stage={s: values[f"at_{s}"] for s in [*STAGE_ORDER, "completed"]},
            completed=values["completed"], overdue=values["overdue"],
            achievement=_mean(values["achievement_sum"], values["achievement_count"]),
            achievement_count=values["achievement_count"],
            score=_mean(values["score_sum"], values["score_count"]),
            rated=row.rated if row is not None else 0))
    view.units = _ranked(units, view.league_order)
    view.employees = sums["employees"]
    view.overdue = sums["overdue"]
    view.completed = sums["completed"]
    view.achievement = _mean(sums["achievement_sum"], sums["achievement_count"])
    view.score = _mean(sums["score_sum"], sums["score_count"])
    view.stages = [{
        "stage": stage, "done": sums[f"done_{stage}"], "at_stage": sums[f"at_{stage}"],
        "percent": round(100.0 * sums[f"done_{stage}"] / sums["employees"], 1)
        if sums["employees"] else 0.0,
    } for stage in STAGE_ORDER]


def _mean(total: float, count: int) -> float | None:
    return round(float(total) / count, 1) if count else None


def _ranked(units: list[UnitRow], order: str) -> list[UnitRow]:
    """Units with employees ranked best first (ties share a rank), then units without any."""
    def measure(u: UnitRow) -> float:
        if order == "score":
            return u.score if u.score is not None else -1.0
        if order == "completion":
            return u.completion_percent
        if order == "overdue":  # fewest overdue, as a share of the unit's employees
            return -u.overdue / u.employees
        return u.achievement if u.achievement is not None else -1.0

    staffed = sorted((u for u in units if u.employees),
                     key=lambda u: (-measure(u), u.name))
    ranked: list[UnitRow] = []
    previous: float | None = None
    rank = 0
    for position, row in enumerate(staffed, start=1):
        value = measure(row)
        if value != previous:
            rank, previous = position, value
        ranked.append(replace(row, rank=rank))
    return ranked + sorted((u for u in units if not u.employees), key=lambda u: u.name)


def _ratings(view: Dashboard, key: str, groups: CTE) -> None:
    counts = dict(db.session.execute(
        select(AppraisalFact.rating_band, func.count())
        .join(groups, AppraisalFact.org_unit_id == groups.c.unit_id)
        .where(AppraisalFact.cycle_key == key, AppraisalFact.rating_band.is_not(None))
        .group_by(AppraisalFact.rating_band)).all())
    final = dict(db.session.execute(
        select(AppraisalFact.rating_band, func.count())
        .join(groups, AppraisalFact.org_unit_id == groups.c.unit_id)
        .where(AppraisalFact.cycle_key == key, AppraisalFact.rating_final.is_(True))
        .group_by(AppraisalFact.rating_band)).all())
    rated = sum(counts.values())
    guideline = view.cycle.guideline_distribution or {}
    bands = BANDS + sorted(b for b in counts if b not in BANDS)
    view.rated = rated
    view.ratings = [{
        "band": band, "count": counts.get(band, 0), "final": final.get(band, 0),
        "percent": round(100.0 * counts.get(band, 0) / rated, 1) if rated else 0.0,
        "guideline": float(guideline.get(band, 0)),
    } for band in bands]


def _trend(view: Dashboard, key: str, groups: CTE) -> None:
    view.trend = [{"month": month, "achievement": round(float(avg), 1), "employees": count}
                  for month, avg, count in db.session.execute(
                      select(AppraisalMonth.month, func.avg(AppraisalMonth.achievement),
                             func.count())
                      .join(groups, AppraisalMonth.org_unit_id == groups.c.unit_id)
                      .where(AppraisalMonth.cycle_key == key)
                      .group_by(AppraisalMonth.month).order_by(AppraisalMonth.month))]


def _staff(view: Dashboard, key: str, unit_id: int, now: Any, page: int,
           all_staff: bool) -> None:
    """The employees directly in the unit (not in its sub-units), by name, a page at a time."""
    where = (AppraisalFact.cycle_key == key, AppraisalFact.org_unit_id == unit_id)
    view.staff_total = db.session.scalar(
        select(func.count()).select_from(AppraisalFact).where(*where)) or 0
    view.pages = max(1, -(-view.staff_total // EMPLOYEES_PER_PAGE))
    query = (select(AppraisalFact, Employee.full_name, Employee.employee_number,
                    Employee.designation)
             .join(Employee, AppraisalFact.employee_id == Employee.id)
             .where(*where).order_by(Employee.full_name, AppraisalFact.case_id))
    if not all_staff:
        query = query.limit(EMPLOYEES_PER_PAGE).offset((page - 1) * EMPLOYEES_PER_PAGE)
    view.staff = [{
        "case_id": fact.case_id, "name": name, "employee_number": number,
        "designation": designation, "stage": fact.stage, "months": fact.months_reported,
        "open_tasks": fact.open_tasks,
        "overdue": fact.next_due_at is not None and _aware(fact.next_due_at) < now,
        "achievement": fact.achievement, "score": fact.score, "band": fact.rating_band,
        "final": fact.rating_final,
        "incentive": float(fact.incentive_amount) if fact.incentive_amount is not None else None,
        "incentive_status": fact.incentive_status,
    } for fact, name, number, designation in db.session.execute(query)]


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes (stored in UTC)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
