"""Doctrine at design, monthly reporting, the case page's chart, pinned called versions, the
incentive's DMN and delegation of an incentive approval."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.extensions import db
from app.services import cases, delegation, process_models
from app.services.errors import AssignmentError, ValidationFailed
from forms import form_for_key, formdata_from_json
from tests.appraisal_helpers import (
    ON_TARGET,
    YEAR,
    agree_goals,
    at,
    case_data,
    complete,
    fire_timers,
    open_task,
    open_tasks,
    scorecard_with_employee_kpi,
    start,
)
from tests.conftest import employee_of
from tests.helpers import good_scorecard, login, logout

ROOT = Path(__file__).resolve().parents[2]


pytestmark = pytest.mark.usefixtures("year_clock")  # 5 January of the year (tests/conftest.py)


def _design_errors(kpis: list[dict]) -> str:
    form_class = form_for_key("scorecard_design")
    form = form_class(form_class.prepare_formdata(formdata_from_json({"kpis": kpis})))
    assert not form.validate()
    return str(form.errors)


def test_team_kpis_sit_beside_individual_ones_not_instead_of_them() -> None:
    kpis = [{**kpi, "scope": "team"} for kpi in good_scorecard()]
    assert "add at least one individual KPI" in _design_errors(kpis)


def test_a_linked_kpi_names_the_unit_it_is_shared_from() -> None:
    kpis = good_scorecard()
    kpis[2]["scope"] = "linked"
    assert "Name the unit whose scorecard this linked KPI comes from" in _design_errors(kpis)


def test_a_linked_kpi_is_shown_as_linked_on_the_case_page(org, client) -> None:  # noqa: ANN001
    kpis = good_scorecard()
    kpis[2].update(scope="linked", linked_from="Provincial EPI Cell")
    case = start(org)
    complete(org["ro1"], case, "design_scorecard", {"kpis": kpis})
    login(client, "ro1")
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "Linked: Cold-chain audits passed (from Provincial EPI Cell)" in page


def test_an_employee_reported_kpi_is_entered_by_the_employee_and_confirmed_by_the_officer(
        org) -> None:  # noqa: ANN001
    case = start(org)
    agree_goals(org, case, scorecard_with_employee_kpi())
    at(f"{YEAR}-02-01", 5)
    fire_timers()
    assert open_task(case, "report_actuals").assignee_id == org["emp1"].id
    complete(org["emp1"], case, "report_actuals",
             {"rows": [{"kpi": "Vaccinator attendance", "value": 97}]})
    rows = [{"kpi": k, "value": v, "reported_by": "officer"} for k, v in ON_TARGET.items()]
    rows[1].update(reported_by="employee", employee_value="97", value=93)
    with pytest.raises(ValidationFailed, match="Some fields"):
        complete(org["ro1"], case, "confirm_actuals", {"rows": rows})
    rows[1]["note"] = "Two absences not on the register"
    complete(org["ro1"], case, "confirm_actuals", {"rows": rows})
    [month] = case_data(case)["actuals"]
    attendance = next(v for v in month["values"] if v["kpi"] == "Vaccinator attendance")
    assert (attendance["value"], attendance["employee_value"]) == (93, 97)


def test_the_case_page_charts_each_kpi_month_by_month(org, client) -> None:  # noqa: ANN001
    case = start(org)
    agree_goals(org, case)
    at(f"{YEAR}-02-01", 5)
    fire_timers()
    complete(org["ro1"], case, "confirm_actuals", {"rows": [
        {"kpi": k, "value": v} for k, v in ON_TARGET.items()]})
    login(client, "emp1")
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert page.count('<figure class="kpi-chart">') == 3
    assert "<title>2026-01: 12000</title>" in page and "<script" not in page.split("<main>")[1]


def test_a_running_case_keeps_the_called_versions_it_started_with(org) -> None:  # noqa: ANN001
    old = start(org)
    renamed = (ROOT / "workflows" / "goal_setting.bpmn").read_bytes().replace(
        b'name="Design scorecard"', b'name="Design the scorecard"')
    process_models.deploy(renamed, "goal_setting.bpmn", org["owner1"], "rename")
    annual = process_models.current_version("annual_appraisal")
    process_models.deploy(annual.bpmn_xml.encode(), annual.source_name, org["owner1"], "re-pin")
    db.session.commit()
    new = start(org, "emp2")
    assert new.process_version.version == annual.version + 1
    assert open_task(old, "design_scorecard").title == "Design scorecard"
    assert open_task(new, "design_scorecard").title == "Design the scorecard"
    complete(org["ro1"], old, "design_scorecard", {"kpis": good_scorecard()})
    assert [t.task_name for t in open_tasks(old)] == ["review_scorecard"]


def test_a_dmn_cell_that_escapes_the_script_restrictions_is_refused(org) -> None:  # noqa: ANN001
    path = ROOT / "tests" / "data" / "dmn_malicious" / "dunder_output.dmn"
    with pytest.raises(ValidationFailed, match="not allowed"):
        process_models.deploy_decision(path.read_bytes(), path.name)


def _incentive_case(org, subject: str = "emp1", **data):  # noqa: ANN001, ANN202
    return cases.start_case("incentive_approval", employee_of(org[subject]).id, org["hr1"],
                            {"final_band": "outstanding", **data})


def test_the_incentive_share_comes_from_the_dmn_by_band_and_grade(org) -> None:  # noqa: ANN001
    senior = _incentive_case(org)
    employee_of(org["emp2"]).grade = 16
    db.session.commit()
    junior = _incentive_case(org, "emp2")
    assert case_data(senior)["incentive_share_percent"] == 20
    assert case_data(junior)["incentive_share_percent"] == 25
    assert case_data(junior)["incentive_amount"] == 138000 * 20 / 100  # the cycle cap: 20%


def test_a_below_average_rating_earns_no_incentive_and_needs_no_approval(org) -> None:  # noqa
    case = _incentive_case(org, final_band="below_average")
    assert open_tasks(case) == [] and case_data(case)["incentive_status"] == "none"


def test_an_incentive_approval_is_never_delegated_to_the_scorecard_designer(org) -> None:  # noqa
    case = _incentive_case(org)
    task = open_task(case, "head_approval")
    with pytest.raises(AssignmentError, match="sole approver"):
        delegation.delegate_task(org["cso1"], task.id, org["ro1"].id, "please handle")


def test_only_hr_of_the_unit_reaches_its_calibration(org, client) -> None:  # noqa: ANN001
    unit = employee_of(org["emp1"]).org_unit.parent
    for username, status in (("ro1", 403), ("emp1", 403), ("fin1", 403), ("hr1", 200)):
        login(client, username)
        assert client.get(f"/calibration/{unit.id}/test-2026").status_code == status, username
        logout(client)
