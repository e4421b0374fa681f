"""The dashboards of a performance cycle: for an org unit (or the reader's whole scope), each
stage's completion, overdue work, KPI achievement, the rating distribution beside the cycle's
guideline, its sub-units ranked, the month-by-month trend and its own staff, drilled down unit
by unit to the employee's case.

Every figure is aggregated by the database from the reporting projection
(app/models/reporting.py) with GROUP BY: a query per table, whatever the number of employees.
A unit's figures cover it and every unit below it; which sub-unit row each unit counts for comes
from the org tree (a few hundred rows), applied to the per-unit groups, never to people.

Who sees what: administrators and auditors everything; HR the units they hold the role for
(with the units below); a unit's head (OrgUnit.head_employee_id) that unit and the units below.
Employees and officers as such see no dashboard.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ARRAY, Integer, all_, any_, bindparam, case, func, select

from app.clock import clock
from app.extensions import db
from app.i18n import N_
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
from app.services.errors import Message, NotFound, PermissionDenied, ValidationFailed
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
        raise PermissionDenied(
            N_("Dashboards are for HR, unit heads, auditors and administrators."))
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


def _unit_groups(unit_id: int | None, roots: list[int] | None) -> UnitGroups:
    """Every unit under the dashboard's unit -> the row it counts for: the sub-unit below the
    shown unit it belongs to, or the shown unit itself for its own staff; with no unit shown,
    the top units of the reader's scope. The org tree is a few hundred rows, read once."""
    children: dict[int | None, list[int]] = {}
    for uid, parent in db.session.execute(select(OrgUnit.id, OrgUnit.parent_id)):
        children.setdefault(parent, []).append(uid)
    if unit_id is not None:
        tops = children.get(unit_id, [])
    else:
        tops = children.get(None, []) if roots is None else roots
    groups = UnitGroups() if unit_id is None else UnitGroups({unit_id: unit_id})
    groups.every_unit = frozenset(uid for ids in children.values() for uid in ids)
    for top in tops:
        stack = [top]
        while stack:
            current = stack.pop()
            if current in groups:
                continue
            groups[current] = top
            stack.extend(children.get(current, []))
    return groups


class UnitGroups(dict[int, int]):
    """unit id -> the id of the row it counts for; `every_unit` holds every unit's id."""

    every_unit: frozenset[int] = frozenset()


def _in_units(column: Any, groups: UnitGroups) -> Any:
    """`column` is one of the grouped units: as `IN (units)`, or as `NOT IN (the others)` when
    those are fewer (a province's dashboard covers nearly every unit). On PostgreSQL one array
    parameter (`= ANY`): the same short statement for 3 units or 3,000."""
    others = groups.every_unit - groups.keys()
    negate = len(others) < len(groups)
    ids = sorted(others if negate else groups.keys())
    if not ids:
        return column.is_not(None) if negate else column.is_(None)
    if db.session.get_bind().dialect.name == "postgresql":
        array = bindparam("unit_ids", ids, type_=ARRAY(Integer))
        return column != all_(array) if negate else column == any_(array)
    return column.not_in(ids) if negate else column.in_(ids)


def dashboard(user: User, cycle_id: int, unit_id: int | None = None, page: int = 1,
              league_order: str = "achievement", staff: str = "page",
              tables: tuple[str, ...] = TABLES) -> Dashboard:
    """The dashboard of a cycle for a unit the user may see (None: their whole scope), with
    its own staff a page at a time (`staff="all"`: everyone, for the export; "none": not
    listed). `tables`: the tables to compute (an export needs one)."""
    roots = scope_roots(user)
    if roots == []:
        raise PermissionDenied(
            N_("Dashboards are for HR, unit heads, auditors and administrators."))
    cycle = db.session.get(Cycle, cycle_id)
    if cycle is None:
        raise NotFound(Message(N_("No cycle %(id)s."), id=cycle_id))
    visible = _visible_unit_ids(roots)
    unit = None
    if unit_id is not None:
        unit = db.session.get(OrgUnit, unit_id)
        if unit is None:
            raise NotFound(Message(N_("No org unit %(id)s."), id=unit_id))
        if visible is not None and unit_id not in visible:
            raise PermissionDenied(
                N_("That unit is outside the units whose dashboards you read."))
    if league_order not in LEAGUE_ORDERS:
        raise ValidationFailed(N_("Unknown ranking."), {"order": ["Choose a listed ranking."]})
    if page < 1:
        raise ValidationFailed(N_("Pages start at 1."), {"page": ["Pages start at 1."]})
    if visible is not None and not _cycle_reaches(cycle, visible):
        raise PermissionDenied(
            N_("That cycle does not reach the units whose dashboards you read."))
    now = clock.now()
    view = Dashboard(cycle=cycle, unit=unit, trail=_trail(unit, roots), now_iso=now.isoformat(),
                     league_order=league_order, page=page)
    key = str(cycle.id)
    groups = _unit_groups(unit_id, roots)
    if {"units", "stages"} & set(tables):
        _unit_rows(view, key, groups, now, unit_id)
    if "ratings" in tables:
        _ratings(view, key, groups)
    if "trend" in tables:
        _trend(view, key, groups)
    if unit is not None and staff != "none" and "employees" in tables:
        _staff(view, key, unit.id, now, page, staff == "all")
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


def _unit_rows(view: Dashboard, key: str, groups: UnitGroups, now: datetime,
               unit_id: int | None) -> None:
    # One pass over the cycle's cases in the units shown (PostgreSQL reads it from the covering
    # index alone): counts and sums per unit, stage and mid-year flag. Folding those groups
    # (units x stages, not people) into the table's rows happens below.
    fact = AppraisalFact
    grouped = db.session.execute(
        select(fact.org_unit_id, fact.stage, fact.mid_year_done,
               func.count().label("employees"),
               func.count(case((fact.next_due_at < now, 1))).label("overdue"),
               func.sum(fact.achievement).label("achievement_sum"),
               func.count(fact.achievement).label("achievement_count"),
               func.sum(fact.score).label("score_sum"),
               func.count(fact.score).label("score_count"),
               func.count(fact.rating_band).label("rated"))
        .where(fact.cycle_key == key, _in_units(fact.org_unit_id, groups))
        .group_by(fact.org_unit_id, fact.stage, fact.mid_year_done)).all()
    tallies: dict[int, dict[str, Any]] = {}
    for row in grouped:
        tally = tallies.setdefault(groups[row.org_unit_id], _empty_tally())
        rank = STAGES.get(row.stage, 0)
        employees = int(row.employees)
        for name in ("employees", "overdue", "achievement_count", "score_count", "rated"):
            tally[name] += int(row._mapping[name] or 0)
        tally["achievement_sum"] += float(row.achievement_sum or 0)
        tally["score_sum"] += float(row.score_sum or 0)
        if row.stage in tally["at"]:
            tally["at"][row.stage] += employees
        for stage in STAGE_ORDER:
            done = bool(row.mid_year_done) if stage == "mid_year_review" \
                else rank > STAGES[stage]
            if done:
                tally["done"][stage] += employees
    # The rows: every sub-unit (even without cases), and the unit's own staff if it has any.
    if unit_id is not None:
        listed = list(db.session.execute(
            select(OrgUnit.id, OrgUnit.name, OrgUnit.code).where(OrgUnit.parent_id == unit_id)))
        if unit_id in tallies:
            own = db.session.get(OrgUnit, unit_id)
            listed.append((own.id, own.name, own.code))
    else:
        listed = list(db.session.execute(
            select(OrgUnit.id, OrgUnit.name, OrgUnit.code)
            .where(OrgUnit.id.in_(set(groups.values())))))
    parents = set(db.session.scalars(
        select(OrgUnit.parent_id).where(OrgUnit.parent_id.is_not(None)).distinct()))
    total = _empty_tally()
    units = []
    for uid, name, code in listed:
        tally = tallies.get(uid, _empty_tally())
        _add(total, tally)
        units.append(UnitRow(
            unit_id=uid, name=name, code=code, own_staff=uid == unit_id,
            has_children=uid in parents and uid != unit_id,
            employees=tally["employees"], stage_done=tally["done"], at_stage=tally["at"],
            completed=tally["at"]["completed"], overdue=tally["overdue"],
            achievement=_mean(tally["achievement_sum"], tally["achievement_count"]),
            achievement_count=tally["achievement_count"],
            score=_mean(tally["score_sum"], tally["score_count"]), rated=tally["rated"]))
    view.units = _ranked(units, view.league_order)
    view.employees = total["employees"]
    view.overdue = total["overdue"]
    view.completed = total["at"]["completed"]
    view.achievement = _mean(total["achievement_sum"], total["achievement_count"])
    view.score = _mean(total["score_sum"], total["score_count"])
    view.stages = [{
        "stage": stage, "done": total["done"][stage], "at_stage": total["at"][stage],
        "percent": round(100.0 * total["done"][stage] / total["employees"], 1)
        if total["employees"] else 0.0,
    } for stage in STAGE_ORDER]


def _empty_tally() -> dict[str, Any]:
    return {"employees": 0, "overdue": 0, "achievement_sum": 0.0, "achievement_count": 0,
            "score_sum": 0.0, "score_count": 0, "rated": 0,
            "done": dict.fromkeys(STAGE_ORDER, 0),
            "at": dict.fromkeys([*STAGE_ORDER, "completed"], 0)}


def _add(total: dict[str, Any], tally: dict[str, Any]) -> None:
    for name, value in tally.items():
        if isinstance(value, dict):
            for key, count in value.items():
                total[name][key] += count
        else:
            total[name] += value


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


def _ratings(view: Dashboard, key: str, groups: UnitGroups) -> None:
    fact = AppraisalFact
    counts: dict[str, int] = {}
    final: dict[str, int] = {}
    for band, is_final, count in db.session.execute(
            select(fact.rating_band, fact.rating_final, func.count())
            .where(fact.cycle_key == key, fact.rating_band.is_not(None),
                   _in_units(fact.org_unit_id, groups))
            .group_by(fact.rating_band, fact.rating_final)):
        counts[band] = counts.get(band, 0) + count
        if is_final:
            final[band] = final.get(band, 0) + count
    rated = sum(counts.values())
    guideline = view.cycle.guideline_distribution or {}
    bands = BANDS + sorted(b for b in counts if b not in BANDS)
    view.rated = rated
    view.ratings = [{
        "band": band, "count": counts.get(band, 0), "final": final.get(band, 0),
        "percent": round(100.0 * counts.get(band, 0) / rated, 1) if rated else 0.0,
        "guideline": float(guideline.get(band, 0)),
    } for band in bands]


def _trend(view: Dashboard, key: str, groups: UnitGroups) -> None:
    """Per month: the mean of the employees' monthly achievement (PostgreSQL reads it from the
    covering index alone)."""
    month = AppraisalMonth
    view.trend = [
        {"month": name, "achievement": round(float(total) / int(count), 1),
         "employees": int(count)}
        for name, total, count in db.session.execute(
            select(month.month, func.sum(month.achievement), func.count())
            .where(month.cycle_key == key, _in_units(month.org_unit_id, groups))
            .group_by(month.month).order_by(month.month))]


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
