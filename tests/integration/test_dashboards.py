"""Dashboards: the figures of a small, hand-computed organisation; who sees which units; the
CSV and XLSX exports; and the reporting projection agreeing with the engine after every save,
including a completion that fails and rolls back.

The organisation (Health Department, KP) and its 2026 cycle, launched on 1 January:

    Health Department           (no one launched: officers, HR)
    ├── DHO Peshawar            Ayesha Khan (emp1), Bilal Ahmed (emp2)
    └── DHO Mardan              MRD-00001, MRD-00002

Scorecard (every case): children immunised (target 12000), vaccinator attendance (95),
cold-chain audits passed (90). Achievement = actual / target, capped at 100%.

    emp1   goals agreed; Jan 6000/95/81 -> 50,100,90 (mean 80); Feb 12000/95/63 -> 100,100,70
           (mean 90); over both months 510/6 = 85.0
    emp2   goals agreed; January's actuals not recorded (due 10 Feb: overdue)
    MRD-1  goals agreed; Jan 3000/95/90 -> 25,100,100 (mean 75.0); February's not yet (due 10 Mar)
    MRD-2  scorecard never designed (due 15 Jan: overdue)

Read on 5 March 2026: 4 employees; goal setting done by 3 (75.0%); 2 cases overdue (emp2,
MRD-2); average achievement (85 + 75) / 2 = 80.0; trend Jan (80 + 75) / 2 = 77.5 over 2
employees, Feb 90.0 over 1; league by achievement: Peshawar 85.0 first, Mardan 75.0 second;
completion (stages done / 6 per employee): Peshawar 2/12 = 16.7%, Mardan 1/12 = 8.3%.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from openpyxl import load_workbook
from sqlalchemy import delete, func, select

from app.engine import WorkflowRuntime
from app.extensions import db
from app.models import (
    AppraisalFact,
    AppraisalKpiMonth,
    AppraisalMonth,
    Case,
    OrgUnit,
    Role,
    User,
    UserRole,
)
from app.services import cycles, dashboards, process_models, reporting
from app.services.errors import PermissionDenied
from tests.appraisal_helpers import (
    ON_TARGET,
    at,
    case_data,
    complete,
    fire_timers,
    interview,
    open_tasks,
    record_month,
    through_the_months,
)
from tests.conftest import employee_of
from tests.helpers import good_scorecard, login, logout
from tests.org_factory import add_employees, add_unit, cycle_input, employee, unit

JAN_EMP1 = {"Children fully immunised": 6000, "Vaccinator attendance": 95,
            "Cold-chain audits passed": 81}
FEB_EMP1 = {"Children fully immunised": 12000, "Vaccinator attendance": 95,
            "Cold-chain audits passed": 63}
JAN_MRD1 = {"Children fully immunised": 3000, "Vaccinator attendance": 95,
            "Cold-chain audits passed": 90}


def _cycle_2026(org: dict[str, User]) -> Any:
    return cycles.create_cycle(org["hr1"], cycle_input(
        name="Performance year 2026", year=2026, process_key="annual_appraisal",
        starts_on=date(2026, 1, 1), mid_year_on=date(2026, 7, 1),
        interview_opens_on=date(2026, 12, 1), interview_closes_on=date(2026, 12, 20),
        ends_on=date(2026, 12, 31), budget=Decimal("5000000")))


def _case_of(number_or_user: str | User) -> Case:
    subject = (employee_of(number_or_user) if isinstance(number_or_user, User)
               else employee(number_or_user))
    found = db.session.scalar(select(Case).where(Case.subject_employee_id == subject.id))
    assert found is not None
    return found


def _user_of(number: str) -> User:
    user = db.session.get(User, employee(number).user_id)
    assert user is not None
    return user


def _agree_goals(org: dict[str, User], case: Case, subject: User) -> None:
    complete(org["ro1"], case, "design_scorecard", {"kpis": good_scorecard()})
    complete(subject, case, "review_scorecard", {"decision": "agree"})
    complete(org["cso1"], case, "countersign_scorecard", {"decision": "approve"})


@pytest.fixture
def health(org: dict[str, User]) -> dict[str, Any]:
    """The organisation above, its cycle launched and worked to 1 March, read on 5 March."""
    add_employees(2)  # DHO Mardan, reporting to ro1, countersigned by cso1
    for number in ("MRD-00001", "MRD-00002"):
        _user_of(number).set_password("meezan-demo")
    db.session.commit()
    at("2026-01-01", 5)
    cycle = _cycle_2026(org)
    result = cycles.launch_cycle(cycle.id, org["hr1"])
    assert result.cases_started == 4
    emp1, emp2, mrd1 = _case_of(org["emp1"]), _case_of(org["emp2"]), _case_of("MRD-00001")
    _agree_goals(org, emp1, org["emp1"])
    _agree_goals(org, emp2, org["emp2"])
    _agree_goals(org, mrd1, _user_of("MRD-00001"))
    at("2026-02-01", 5)
    fire_timers()
    record_month(org, emp1, JAN_EMP1)
    record_month(org, mrd1, JAN_MRD1)
    at("2026-03-01", 5)
    fire_timers()
    record_month(org, emp1, FEB_EMP1)
    at("2026-03-05", 9)
    return {"cycle": cycle, "department": unit("KP-HEALTH"), "peshawar": unit("KP-HEALTH-PSH"),
            "mardan": unit("KP-HEALTH-MRD")}


def _stored(case_id: int) -> dict[str, Any]:
    fact = db.session.get(AppraisalFact, case_id)
    assert fact is not None
    values = {c.key: getattr(fact, c.key) for c in AppraisalFact.__table__.columns
              if c.key not in ("updated_at", "case_id")}
    values["next_due_at"] = _utc(values["next_due_at"])
    return values


def _utc(moment: datetime | None) -> datetime | None:
    """SQLite hands stored times back without their zone (they are UTC)."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def assert_projection_matches_engine(case: Case) -> None:
    """The stored rows of a case are exactly what its engine state says now."""
    db.session.expire_all()
    case = db.session.get(Case, case.id)
    stored = _stored(case.id)
    stored_kpis = {(r.month, r.kpi): (r.target, r.actual, r.achievement)
                   for r in db.session.scalars(
                       select(AppraisalKpiMonth).where(AppraisalKpiMonth.case_id == case.id))}
    runtime = WorkflowRuntime.load(process_models.parsed_version(case.process_version),
                                   case.workflow_state, case.serializer_version)
    kpi_rows = reporting.kpi_month_rows(runtime.current_data())
    expected = reporting.fact_values(case, case.process_version.process_model.key, runtime,
                                     kpi_rows)
    expected.pop("updated_at")
    expected["next_due_at"] = _utc(expected["next_due_at"])
    if expected["incentive_amount"] is not None:
        expected["incentive_amount"] = Decimal(str(expected["incentive_amount"]))
    assert stored == expected
    assert stored_kpis == {(r["month"], r["kpi"]): (r["target"], r["actual"], r["achievement"])
                           for r in kpi_rows}


# --- The figures ---------------------------------------------------------------------------


def test_department_dashboard_shows_the_hand_computed_figures(org, health) -> None:
    view = dashboards.dashboard(org["hr1"], health["cycle"].id, health["department"].id)

    assert (view.employees, view.completed, view.overdue) == (4, 0, 2)
    assert view.achievement == 80.0
    assert view.score is None and view.rated == 0
    stages = {s["stage"]: (s["done"], s["percent"], s["at_stage"]) for s in view.stages}
    assert stages == {
        "goal_setting": (3, 75.0, 1),
        "monthly_actuals": (0, 0.0, 3),
        "mid_year_review": (0, 0.0, 0),
        "appraisal_interview": (0, 0.0, 0),
        "calibration": (0, 0.0, 0),
        "incentive_approval": (0, 0.0, 0),
    }
    league = [(u.rank, u.code, u.employees, u.stage_done["goal_setting"], u.overdue,
               u.achievement, u.completion_percent) for u in view.units]
    assert league == [
        (1, "KP-HEALTH-PSH", 2, 2, 1, 85.0, 16.7),
        (2, "KP-HEALTH-MRD", 2, 1, 1, 75.0, 8.3),
    ]
    assert view.trend == [
        {"month": "2026-01", "achievement": 77.5, "employees": 2},
        {"month": "2026-02", "achievement": 90.0, "employees": 1},
    ]
    assert [r["count"] for r in view.ratings] == [0, 0, 0, 0, 0]
    assert [r["guideline"] for r in view.ratings] == [10.0, 20.0, 40.0, 20.0, 10.0]


def test_league_table_ranks_by_the_chosen_measure(org, health) -> None:
    by_completion = dashboards.dashboard(org["hr1"], health["cycle"].id,
                                         health["department"].id, league_order="completion")
    assert [(u.rank, u.code) for u in by_completion.units] == [
        (1, "KP-HEALTH-PSH"), (2, "KP-HEALTH-MRD")]
    # One overdue case each, two employees each: they tie and share the first place.
    by_overdue = dashboards.dashboard(org["hr1"], health["cycle"].id,
                                      health["department"].id, league_order="overdue")
    assert [(u.rank, u.code) for u in by_overdue.units] == [
        (1, "KP-HEALTH-MRD"), (1, "KP-HEALTH-PSH")]


def test_drilling_down_to_a_district_lists_its_staff_with_their_cases(org, health) -> None:
    view = dashboards.dashboard(org["hr1"], health["cycle"].id, health["peshawar"].id)
    assert [u.name for u in view.trail] == ["Health Department, Khyber Pakhtunkhwa",
                                            "District Health Office Peshawar"]
    assert [(u.code, u.own_staff, u.employees) for u in view.units] == [
        ("KP-HEALTH-PSH", True, 2)]
    assert view.achievement == 85.0 and view.overdue == 1
    assert view.trend == [{"month": "2026-01", "achievement": 80.0, "employees": 1},
                          {"month": "2026-02", "achievement": 90.0, "employees": 1}]
    staff = [(e["name"], e["stage"], e["months"], e["achievement"], e["overdue"], e["case_id"])
             for e in view.staff]
    assert staff == [
        ("Ayesha Khan", "monthly_actuals", 2, 85.0, False, _case_of(org["emp1"]).id),
        ("Bilal Ahmed", "monthly_actuals", 0, None, True, _case_of(org["emp2"]).id),
    ]


def test_the_page_shows_the_figures_charts_and_links_down_to_the_case(app: Flask, org,
                                                                      health) -> None:
    client = app.test_client()
    login(client, "hr1")
    cycle_id = health["cycle"].id
    page = client.get(f"/dashboards/{cycle_id}?unit={health['department'].id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-testid="summary-achievement">80.0%' in html
    assert 'data-testid="summary-overdue">2<' in html
    for chart in ("stages", "ratings", "units", "trend"):
        assert f'data-testid="chart-{chart}"' in html
    assert "build/dashboard.js" in html and "<script>" not in html
    assert f"/dashboards/{cycle_id}?unit={health['peshawar'].id}" in html
    district = client.get(f"/dashboards/{cycle_id}?unit={health['peshawar'].id}")
    assert f"/cases/{_case_of(org['emp1']).id}" in district.get_data(as_text=True)
    listing = client.get("/dashboards")
    assert "Performance year 2026" in listing.get_data(as_text=True)
    assert 'href="/dashboards"' in listing.get_data(as_text=True)  # the nav link


def test_rating_distribution_counts_bands_beside_the_guideline(org) -> None:
    at("2026-01-01", 5)
    cycle = _cycle_2026(org)
    cycles.launch_cycle(cycle.id, org["hr1"])
    case = _case_of(org["emp1"])
    _agree_goals(org, case, org["emp1"])
    through_the_months(org, case, ON_TARGET, until_month=11)
    interview(org, case, {"Children fully immunised": 11400, "Vaccinator attendance": 95,
                          "Cold-chain audits passed": 90})  # 40 x 0.95 + 25 + 35 = 98.0
    assert case_data(case)["rating_band"] == "outstanding"

    view = dashboards.dashboard(org["admin"], cycle.id, unit("KP-HEALTH-PSH").id)
    assert view.rated == 1 and view.score == 98.0
    ratings = {r["band"]: (r["count"], r["percent"], r["guideline"], r["final"])
               for r in view.ratings}
    assert ratings["outstanding"] == (1, 100.0, 10.0, 0)  # not final before calibration
    assert ratings["good"] == (0, 0.0, 40.0, 0)
    stages = {s["stage"]: s["done"] for s in view.stages}
    assert stages["goal_setting"] == 1 and stages["monthly_actuals"] == 1
    assert stages["mid_year_review"] == 1 and stages["appraisal_interview"] == 1
    assert view.units[0].at_stage["calibration"] == 1
    assert_projection_matches_engine(case)


# --- Who sees what ------------------------------------------------------------------------


def _hr_of(username: str, unit_code: str) -> User:
    user = User(username=username, full_name=f"HR {unit_code}")
    user.set_password("meezan-demo")
    db.session.add(user)
    db.session.flush()
    db.session.add(UserRole(user_id=user.id, role=Role.HR, org_unit_id=unit(unit_code).id))
    db.session.commit()
    return user


def test_hr_of_another_department_sees_nothing_of_this_one(app: Flask, org, health) -> None:
    add_unit("KP-EDU", "Elementary & Secondary Education Department", parent_code=None)
    hr_edu = _hr_of("hr_edu", "KP-EDU")
    cycle_id = health["cycle"].id
    assert dashboards.visible_cycles(hr_edu) == []
    with pytest.raises(PermissionDenied):
        dashboards.dashboard(hr_edu, cycle_id, health["department"].id)
    with pytest.raises(PermissionDenied):
        dashboards.dashboard(hr_edu, cycle_id)

    client = app.test_client()
    login(client, "hr_edu")
    listing = client.get("/dashboards").get_data(as_text=True)
    assert "Performance year 2026" not in listing
    assert client.get(f"/dashboards/{cycle_id}").status_code == 403
    assert client.get(f"/dashboards/{cycle_id}?unit={health['peshawar'].id}").status_code == 403
    assert client.get(f"/dashboards/{cycle_id}/export.csv?table=employees"
                      f"&unit={health['peshawar'].id}").status_code == 403


def test_hr_of_one_district_sees_that_district_only(org, health) -> None:
    hr_psh = _hr_of("hr_psh", "KP-HEALTH-PSH")
    top = dashboards.dashboard(hr_psh, health["cycle"].id)
    assert [(u.code, u.employees) for u in top.units] == [("KP-HEALTH-PSH", 2)]
    assert top.employees == 2 and top.overdue == 1
    with pytest.raises(PermissionDenied):
        dashboards.dashboard(hr_psh, health["cycle"].id, health["mardan"].id)
    with pytest.raises(PermissionDenied):
        dashboards.dashboard(hr_psh, health["cycle"].id, health["department"].id)


def test_the_department_head_reads_it_but_officers_and_employees_do_not(app: Flask, org,
                                                                       health) -> None:
    # cso1 heads the Health Department (seed-demo); ro1 is an officer, emp1 an employee.
    head = dashboards.dashboard(org["cso1"], health["cycle"].id, health["department"].id)
    assert head.employees == 4
    client = app.test_client()
    login(client, "cso1")
    assert client.get(f"/dashboards/{health['cycle'].id}").status_code == 200
    logout(client)
    for username in ("ro1", "emp1"):
        login(client, username)
        assert client.get(f"/dashboards/{health['cycle'].id}").status_code == 403
        assert client.get("/dashboards").status_code == 403
        assert 'href="/dashboards"' not in client.get("/tasks").get_data(as_text=True)
        logout(client)


def test_bad_dashboard_parameters_are_refused_with_400(app: Flask, org, health) -> None:
    client = app.test_client()
    login(client, "hr1")
    cycle_id = health["cycle"].id
    assert client.get(f"/dashboards/{cycle_id}?unit=abc").status_code == 400
    assert client.get(f"/dashboards/{cycle_id}?order=salary").status_code == 400
    assert client.get(f"/dashboards/{cycle_id}?page=0").status_code == 400
    assert client.get(f"/dashboards/{cycle_id}/export.csv?table=salaries").status_code == 400
    assert client.get(f"/dashboards/{cycle_id}/export.pdf").status_code == 404
    assert client.get("/dashboards/999999").status_code == 404


# --- Exports -------------------------------------------------------------------------------


def _xlsx_rows(body: bytes) -> list[tuple]:
    sheet = load_workbook(io.BytesIO(body), read_only=True).active
    return [tuple(row) for row in sheet.iter_rows(values_only=True)]


def test_league_table_exports_as_xlsx_with_the_page_figures(app: Flask, org, health) -> None:
    client = app.test_client()
    login(client, "hr1")
    response = client.get(f"/dashboards/{health['cycle'].id}/export.xlsx?table=units"
                          f"&unit={health['department'].id}")
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    assert "cycle-" in response.headers["Content-Disposition"]
    rows = _xlsx_rows(response.data)
    assert rows[0][:4] == ("Rank", "Unit", "Code", "Employees")
    assert rows[1:] == [
        (1, "District Health Office Peshawar", "KP-HEALTH-PSH", 2, 2, 0, 16.7, 1, 85.0, None, 0),
        (2, "District Health Office Mardan", "KP-HEALTH-MRD", 2, 1, 0, 8.3, 1, 75.0, None, 0),
    ]


def test_every_table_exports_as_csv_and_xlsx(app: Flask, org, health) -> None:
    client = app.test_client()
    login(client, "auditor1")
    base = f"/dashboards/{health['cycle'].id}/export"
    unit_arg = f"&unit={health['peshawar'].id}"
    trend = client.get(f"{base}.csv?table=trend&unit={health['department'].id}")
    text = trend.data.decode("utf-8-sig")
    assert list(csv.reader(io.StringIO(text))) == [
        ["Month", "Average KPI achievement (%)", "Employees reporting"],
        ["2026-01", "77.5", "2"], ["2026-02", "90.0", "1"]]
    stages = _xlsx_rows(client.get(f"{base}.xlsx?table=stages{unit_arg}").data)
    assert stages[1] == ("Goal setting", 2, 100.0, 0)
    assert stages[2] == ("Monthly actuals", 0, 0.0, 2)
    ratings = _xlsx_rows(client.get(f"{base}.xlsx?table=ratings{unit_arg}").data)
    assert [r[0] for r in ratings[1:]] == ["Outstanding", "Very good", "Good", "Average",
                                           "Below average"]
    staff = _xlsx_rows(client.get(f"{base}.xlsx?table=employees{unit_arg}").data)
    assert [(r[0], r[1], r[3], r[4], r[6], r[7]) for r in staff[1:]] == [
        ("KP-00003", "Ayesha Khan", "Monthly actuals", 2, "no", 85.0),
        ("KP-00004", "Bilal Ahmed", "Monthly actuals", 0, "yes", None)]
    staff_csv = client.get(f"{base}.csv?table=employees{unit_arg}").data.decode("utf-8-sig")
    assert len(list(csv.reader(io.StringIO(staff_csv)))) == 3


def test_exports_write_formula_like_names_as_plain_text(app: Flask, org, health) -> None:
    person = employee_of(org["emp1"])
    person.full_name = "=HYPERLINK(\"http://x\")"
    db.session.commit()
    client = app.test_client()
    login(client, "hr1")
    base = f"/dashboards/{health['cycle'].id}/export"
    unit_arg = f"&unit={health['peshawar'].id}"
    rows = _xlsx_rows(client.get(f"{base}.xlsx?table=employees{unit_arg}").data)
    assert rows[1][1] == "=HYPERLINK(\"http://x\")"  # a string cell, not a formula
    book = load_workbook(io.BytesIO(client.get(f"{base}.xlsx?table=employees{unit_arg}").data))
    assert book.active.cell(row=2, column=2).data_type == "s"
    text = client.get(f"{base}.csv?table=employees{unit_arg}").data.decode("utf-8-sig")
    assert "'=HYPERLINK" in text


# --- The projection agrees with the engine ---------------------------------------------------


def test_projection_follows_every_completion_and_timer(org, health) -> None:
    for case in db.session.scalars(select(Case)).all():
        assert_projection_matches_engine(case)
    mrd1 = _case_of("MRD-00001")
    assert _stored(mrd1.id)["months_reported"] == 1
    record_month(org, mrd1, JAN_MRD1)  # February's figures, the same as January's
    assert_projection_matches_engine(mrd1)
    assert _stored(mrd1.id)["months_reported"] == 2
    assert db.session.scalar(select(func.count()).select_from(AppraisalMonth)
                             .where(AppraisalMonth.case_id == mrd1.id)) == 2


def test_a_failed_completion_leaves_the_projection_as_it_was(org, health,
                                                            monkeypatch) -> None:
    mrd1 = _case_of("MRD-00001")
    before = _stored(mrd1.id)
    months_before = db.session.scalar(select(func.count()).select_from(AppraisalKpiMonth)
                                      .where(AppraisalKpiMonth.case_id == mrd1.id))

    def fail_after_the_engine_moved(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the database went away")

    # after_complete runs after the case's state and projection were written, before commit.
    monkeypatch.setattr("app.services.tasks.task_rules.after_complete",
                        fail_after_the_engine_moved)
    with pytest.raises(RuntimeError):
        record_month(org, mrd1, JAN_MRD1)
    monkeypatch.undo()
    db.session.expire_all()
    assert _stored(mrd1.id) == before
    assert db.session.scalar(select(func.count()).select_from(AppraisalKpiMonth)
                             .where(AppraisalKpiMonth.case_id == mrd1.id)) == months_before
    assert [t.task_name for t in open_tasks(mrd1)] == ["confirm_actuals"]
    assert_projection_matches_engine(mrd1)


def test_refresh_reporting_rebuilds_the_projection_from_the_cases(app: Flask, org,
                                                                  health) -> None:
    expected = {case_id: _stored(case_id) for case_id in db.session.scalars(select(Case.id))}
    cycle_id, department_id = health["cycle"].id, health["department"].id
    db.session.execute(delete(AppraisalKpiMonth))
    db.session.execute(delete(AppraisalMonth))
    db.session.execute(delete(AppraisalFact))
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["refresh-reporting", "--batch-size", "3"])
    assert result.exit_code == 0, result.output
    assert "recomputed for 4 case(s)" in result.output
    db.session.expire_all()
    assert {case_id: _stored(case_id) for case_id in expected} == expected
    hr1 = db.session.scalar(select(User).where(User.username == "hr1"))
    view = dashboards.dashboard(hr1, cycle_id, department_id)
    assert view.achievement == 80.0 and len(view.trend) == 2


def test_an_employee_who_moves_unit_counts_for_the_new_unit(org, health) -> None:
    bilal = employee_of(org["emp2"])
    bilal.org_unit_id = health["mardan"].id
    reporting.sync_units([bilal.id])
    db.session.commit()
    view = dashboards.dashboard(org["hr1"], health["cycle"].id, health["department"].id)
    assert [(u.code, u.employees) for u in view.units] == [
        ("KP-HEALTH-PSH", 1), ("KP-HEALTH-MRD", 3)]
    assert db.session.scalar(select(OrgUnit.code).join(
        AppraisalFact, AppraisalFact.org_unit_id == OrgUnit.id).where(
        AppraisalFact.employee_id == bilal.id)) == "KP-HEALTH-MRD"


def test_an_org_import_that_moves_an_employee_moves_their_figures(org, health) -> None:
    from app.services import org_import
    bilal = employee_of(org["emp2"])
    header = ("employee_number,name,grade,base_pay,unit_code,reporting_officer,"
              "countersigning_officer,email\n")
    row = (f"{bilal.employee_number},{bilal.full_name},17,138000,KP-HEALTH-MRD,KP-00002,"
           f"KP-00001,{bilal.email}\n")
    report = org_import.import_org_csv(org["hr1"], (header + row).encode(), "move.csv")
    assert report.imported, report
    view = dashboards.dashboard(org["hr1"], health["cycle"].id, health["mardan"].id)
    assert view.employees == 3 and view.overdue == 2
    assert "Bilal Ahmed" in [e["name"] for e in view.staff]


def test_the_dashboard_reads_in_urdu_figures_and_charts_included(app: Flask, org,
                                                                  health) -> None:
    client = app.test_client()
    login(client, "hr1")
    token = client.get("/tasks").get_data(as_text=True).split('name="csrf_token" value="')[1]
    client.post("/language", data={"language": "ur", "csrf_token": token.split('"')[0]})
    html = client.get(f"/dashboards/{health['cycle'].id}?unit={health['department'].id}"
                      ).get_data(as_text=True)
    assert 'dir="rtl"' in html
    for urdu in ("درجہ بندی کی تقسیم", "سائیکل کے مراحل", "ماہ بہ ماہ",
                 "ایسے کیس جن کا کوئی کام تاخیر کا شکار ہے", "اہداف کا تعین"):
        assert urdu in html, urdu
    main = html.split("<main>")[1]
    for english in ("Rating distribution", "Stages of the cycle", "Month by month",
                    "Goal setting", "Done (%)", "League table"):
        assert english not in main, english  # charts' labels too
    assert 'data-testid="summary-achievement">80.0%' in html  # the figures stay the same
