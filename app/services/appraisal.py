"""The appraisal year's contract with the rest of the app: what a case's start data says about
its cycle, and plain readings of a case's data for the screens (progress per KPI, the score).

START DATA (for whoever starts an `annual_appraisal` case — app/services/cycles.py does for a
launched cycle). Besides `subject` (cases.subject_data), a case gets `cycle`, a JSON object:

    id                          the cycle's id (int or str); calibrations and the budget are kept
                                per cycle
    name, year                  for people to read
    starts_on                   ISO date; monthly actuals are reported from this month on
    mid_year_on                 ISO date; the mid-year review opens on it (09:00 local time)
    interview_opens_on          ISO date; the interview window opens (monthly reporting stops
    interview_closes_on         the month before); an interview must be scheduled inside it
    ends_on                     ISO date
    incentive_cap_percent       the most incentive anyone in the cycle can get, as a percentage
                                of base pay (one number for the whole cycle: equal opportunity)
    budget                      the cycle's incentive budget (PKR) for its department; approvals
                                beyond it are refused; null means no budget is set
    guideline_distribution      {band: percent of people}; shown beside calibration results
optional:
    incentive_threshold_amount  above this amount (PKR) finance approves after the department
                                head (default 25,000)
    utc_offset                  local time of the cycle's dates (default "+05:00", PKT)

A case started without a cycle (e.g. from "Start a case") gets `default_cycle()` for the
current calendar year.
"""

from __future__ import annotations

from typing import Any

from app.clock import clock
from app.models import Employee, OrgUnit

DEFAULT_GUIDELINE = {"outstanding": 10, "very_good": 20, "good": 40, "average": 20,
                     "below_average": 10}
DEFAULT_CAP_PERCENT = 20
DEFAULT_THRESHOLD_AMOUNT = 25000
DEFAULT_UTC_OFFSET = "+05:00"


def default_cycle(year: int | None = None) -> dict[str, Any]:
    """The calendar year as a cycle, for cases started without one."""
    year = year or clock.now().year
    return {
        "id": f"default-{year}",
        "name": f"{year} performance year",
        "year": year,
        "starts_on": f"{year}-01-01",
        "mid_year_on": f"{year}-07-01",
        "interview_opens_on": f"{year}-12-01",
        "interview_closes_on": f"{year}-12-20",
        "ends_on": f"{year}-12-31",
        "incentive_cap_percent": DEFAULT_CAP_PERCENT,
        "incentive_threshold_amount": DEFAULT_THRESHOLD_AMOUNT,
        "budget": None,
        "guideline_distribution": dict(DEFAULT_GUIDELINE),
        "utc_offset": DEFAULT_UTC_OFFSET,
    }


def default_start_data() -> dict[str, Any]:
    """What every case starts with unless its starter says otherwise."""
    return {"cycle": default_cycle()}


def department_of(employee: Employee) -> OrgUnit:
    """The top of the employee's org tree: the department whose budget and calibration the
    employee belongs to."""
    unit = employee.org_unit
    seen = set()
    while unit.parent is not None and unit.parent.id not in seen:
        seen.add(unit.id)
        unit = unit.parent
    return unit


def cycle_key(case_data: dict[str, Any]) -> str:
    cycle = case_data.get("cycle") or {}
    return str(cycle.get("id", "none"))


def kpi_progress(case_data: dict[str, Any]) -> list[dict[str, Any]]:
    """Per KPI of the current scorecard: target and the value recorded each month (for the case
    page's chart)."""
    months = [m for m in case_data.get("actuals") or [] if isinstance(m, dict)]
    progress = []
    for kpi in case_data.get("scorecard") or []:
        points = []
        for month in months:
            for value in month.get("values", []):
                if value.get("kpi") == kpi["name"]:
                    points.append({"month": month["month"], "value": value["value"],
                                   "reported_by": value.get("reported_by", "officer")})
        progress.append({"kpi": kpi["name"], "unit": kpi.get("unit", ""),
                         "target": kpi["target"], "points": points})
    return progress


def chart_geometry(item: dict[str, Any], width: int = 320, height: int = 120) -> dict[str, Any]:
    """Bars of a KPI's monthly values against its target line, in SVG coordinates (drawn on
    the server: the CSP allows no inline script)."""
    values = [p["value"] for p in item["points"]]
    top = max([item["target"], *values, 1]) * 1.1
    pad = 18
    plot_h = height - pad * 2
    count = max(len(values), 1)
    slot = (width - pad * 2) / count
    bars = []
    for index, point in enumerate(item["points"]):
        bar_h = plot_h * point["value"] / top
        bars.append({"x": round(pad + index * slot + slot * 0.15, 1),
                     "y": round(pad + plot_h - bar_h, 1), "w": round(slot * 0.7, 1),
                     "h": round(bar_h, 1), "label": point["month"][5:7],
                     "value": point["value"], "month": point["month"],
                     "met": point["value"] >= item["target"]})
    return {"width": width, "height": height, "bars": bars,
            "target_y": round(pad + plot_h - plot_h * item["target"] / top, 1),
            "baseline": pad + plot_h, "pad": pad}
