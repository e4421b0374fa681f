"""Walking annual-appraisal cases through the year with the service layer and the app clock."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from app.clock import clock
from app.engine import WorkflowRuntime
from app.extensions import db
from app.models import Case, HumanTask, OrgUnit, TaskStatus, User
from app.services import appraisal, cases, process_models, tasks, timers
from forms import formdata_from_json
from tests.conftest import employee_of
from tests.helpers import good_scorecard

YEAR = 2026
CYCLE = {**appraisal.default_cycle(YEAR), "id": "test-2026", "name": "Pilot 2026",
         "budget": 100000, "incentive_cap_percent": 20, "incentive_threshold_amount": 25000}


def at(day: str, hour: int = 9) -> None:
    """Set the app clock to a moment of the year (UTC)."""
    clock.freeze(datetime.fromisoformat(f"{day}T{hour:02d}:00:00").replace(tzinfo=UTC))


def start(org: dict[str, User], subject: str = "emp1", **cycle: Any) -> Case:
    return cases.start_case("annual_appraisal", employee_of(org[subject]).id, org["hr1"],
                            {"cycle": {**CYCLE, **cycle}})


def open_tasks(case: Case) -> list[HumanTask]:
    db.session.expire_all()
    return list(db.session.scalars(select(HumanTask).where(
        HumanTask.case_id == case.id, HumanTask.status == TaskStatus.OPEN)
        .order_by(HumanTask.id)))


def open_task(case: Case, name: str) -> HumanTask:
    found = [t for t in open_tasks(case) if t.task_name == name]
    assert found, f"no open {name}; open: {[t.task_name for t in open_tasks(case)]}"
    return found[0]


def complete(user: User, case: Case, name: str, data: dict[str, Any]) -> HumanTask:
    return tasks.complete_task(user, open_task(case, name).id, formdata_from_json(data))


def case_data(case: Case) -> dict[str, Any]:
    db.session.expire_all()
    case = db.session.get(Case, case.id)
    runtime = WorkflowRuntime.load(process_models.parsed_version(case.process_version),
                                   case.workflow_state, case.serializer_version)
    return runtime.current_data()


def fire_timers() -> int:
    return timers.run_due_timers().timers_fired


def scorecard_with_employee_kpi() -> list[dict[str, Any]]:
    kpis = good_scorecard()
    kpis[1]["reporter"] = "employee"  # vaccinator attendance: the employee reports it
    return kpis


def agree_goals(org: dict[str, User], case: Case, scorecard: list | None = None) -> None:
    complete(org["ro1"], case, "design_scorecard", {"kpis": scorecard or good_scorecard()})
    complete(org["emp1"], case, "review_scorecard", {"decision": "agree"})
    complete(org["cso1"], case, "countersign_scorecard", {"decision": "approve"})


def month_values(case: Case, values: dict[str, float]) -> list[dict[str, Any]]:
    """The officer's rows for the month's record, confirming the employee's figures."""
    form = open_task(case, "confirm_actuals")
    data = tasks.task_form_view(form.assignee, form.id).initial_data["rows"]
    return [{**row, "value": values.get(row["kpi"], row.get("value"))} for row in data]


def record_month(org: dict[str, User], case: Case, values: dict[str, float]) -> None:
    names = [t.task_name for t in open_tasks(case)]
    if "report_actuals" in names:
        data = case_data(case)
        own = [k["name"] for k in data["scorecard"] if k.get("reporter") == "employee"]
        complete(org["emp1"], case, "report_actuals",
                 {"rows": [{"kpi": name, "value": values[name]} for name in own]})
    complete(org["ro1"], case, "confirm_actuals", {"rows": month_values(case, values)})


def through_the_months(org: dict[str, User], case: Case, values: dict[str, float],
                       until_month: int = 11, on_mid_year: Any = None) -> None:
    """Report Jan..`until_month` as each month ends (the mid-year review when it opens)."""
    for month in range(1, until_month + 1):
        at(f"{YEAR}-{month + 1:02d}-01", 5) if month < 12 else at(f"{YEAR + 1}-01-01", 5)
        fire_timers()
        if "self_assessment" in [t.task_name for t in open_tasks(case)]:
            (on_mid_year or plain_mid_year)(org, case)
        record_month(org, case, values)


def plain_mid_year(org: dict[str, User], case: Case) -> None:
    complete(org["emp1"], case, "self_assessment", {"progress": "On track"})
    complete(org["ro1"], case, "officer_review", {"comment": "Good progress"})


def to_interview_day(org: dict[str, User], case: Case) -> None:
    """The window opens, the officer schedules the interview for 10 December, the day comes:
    the interview is waiting to be recorded."""
    at(f"{YEAR}-12-01", 5)
    fire_timers()
    complete(org["ro1"], case, "schedule_interview",
             {"date": f"{YEAR}-12-10", "time": "10:00", "place": "DHO office, Peshawar"})
    at(f"{YEAR}-12-10", 6)
    fire_timers()


def interview(org: dict[str, User], case: Case, actuals: dict[str, float],
              sign: bool = True) -> None:
    to_interview_day(org, case)
    data = case_data(case)
    complete(org["ro1"], case, "record_interview", {
        "held": "yes", "discussion": "Reviewed the year KPI by KPI.",
        "assessment": [{"kpi": k["name"], "actual": actuals[k["name"]]}
                       for k in data["scorecard"]]})
    if sign:
        complete(org["emp1"], case, "sign_off_interview", {"decision": "sign",
                                                            "comments": "Fair."})


def to_calibration(org: dict[str, User], subject: str = "emp1",
                   actuals: dict[str, float] | None = None, **cycle: Any) -> Case:
    """A year started, goals agreed, every month reported and the interview signed: the case
    waits for its department's calibration."""
    case = start(org, subject, **cycle)
    agree_goals(org, case)
    through_the_months(org, case, actuals or ON_TARGET)
    interview(org, case, actuals or ON_TARGET)
    return case


def province(org: dict[str, User]) -> OrgUnit:
    return db.session.scalar(select(OrgUnit).where(OrgUnit.code == "KP-HEALTH"))


ON_TARGET = {"Children fully immunised": 12000, "Vaccinator attendance": 95,
             "Cold-chain audits passed": 90}
