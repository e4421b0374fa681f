"""The appraisal report as PDF: what it says after a whole year and early in the year, who may
draw it, how a printed copy is checked against the audit trail, and Urdu text."""

from __future__ import annotations

import io

import pytest
from flask import Flask, g
from flask.testing import FlaskClient
from pypdf import PdfReader
from sqlalchemy import select

from app.clock import clock
from app.extensions import db
from app.models import AuditEvent, AuditEventType, Case
from app.services import appraisal_report, auth, calibration, cases, report_pdf
from app.services.errors import PermissionDenied
from tests.appraisal_helpers import (
    ON_TARGET,
    YEAR,
    agree_goals,
    at,
    case_data,
    complete,
    fire_timers,
    interview,
    month_values,
    open_tasks,
    province,
    record_month,
    scorecard_with_employee_kpi,
    start,
    through_the_months,
)
from tests.conftest import employee_of
from tests.helpers import good_scorecard, login

pytestmark = pytest.mark.usefixtures("year_clock")  # 5 January of the year (tests/conftest.py)


class Pdf:
    """A generated report read back with pypdf: its pages and its text."""

    def __init__(self, content: bytes) -> None:
        assert content.startswith(b"%PDF-")
        self.reader = PdfReader(io.BytesIO(content))
        self.pages = [page.extract_text() for page in self.reader.pages]
        self.text = " ".join(" ".join(self.pages).split())  # wrapped lines joined

    def fonts(self) -> set[str]:
        names = set()
        for page in self.reader.pages:
            for font in page["/Resources"]["/Font"].values():
                names.add(str(font.get_object()["/BaseFont"]))
        return names


def fetch(client: FlaskClient, case_id: int) -> Pdf:
    response = client.get(f"/cases/{case_id}/report.pdf")
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/pdf"
    assert response.headers["Cache-Control"] == "no-store"
    assert "inline; filename=\"appraisal-case-" in response.headers["Content-Disposition"]
    return Pdf(response.data)


def _revise_at_mid_year(org, case) -> None:  # noqa: ANN001
    complete(org["emp1"], case, "self_assessment", {"progress": "Attendance lagging",
                                                    "support_needed": "Two more vaccinators"})
    revised = scorecard_with_employee_kpi()
    revised[0]["target"] = 11000
    complete(org["ro1"], case, "officer_review", {
        "comment": "The district lost two vaccinators", "revise_kpis": True,
        "revision_reason": "Two vaccinator posts fell vacant in May", "kpis": revised})
    complete(org["cso1"], case, "approve_revision", {"decision": "approve"})


def _whole_year(org) -> Case:  # noqa: ANN001
    """A year with everything the report must show: a mid-year revision, an employee's figure
    corrected by the officer, a disputed appraisal upheld by the countersigning officer, a
    rating moved at calibration, an incentive returned once and then approved."""
    case = start(org)
    agree_goals(org, case, scorecard_with_employee_kpi())
    through_the_months(org, case, ON_TARGET, until_month=10, on_mid_year=_revise_at_mid_year)
    at(f"{YEAR}-12-01", 5)  # November's actuals: the officer corrects the employee's figure
    fire_timers()
    complete(org["emp1"], case, "report_actuals",
             {"rows": [{"kpi": "Vaccinator attendance", "value": 90}]})
    rows = month_values(case, ON_TARGET)
    for row in rows:
        if row["kpi"] == "Vaccinator attendance":
            row["note"] = "The attendance register shows 95"
    complete(org["ro1"], case, "confirm_actuals", {"rows": rows})
    interview(org, case, ON_TARGET, sign=False)
    complete(org["emp1"], case, "sign_off_interview", {
        "decision": "dispute", "comments": "The other KPIs are fair.",
        "dispute_reasons": "Audits were understated"})
    complete(org["cso1"], case, "decide_dispute", {
        "outcome": "uphold", "reason": "The audit log supports the score"})
    calibration.open_calibration(org["hr1"], province(org).id, "test-2026")
    calibration.close_calibration(org["hr1"], province(org).id, "test-2026", {
        case.id: ("very_good", "Above the department's guideline for outstanding")})
    complete(org["cso1"], case, "head_approval",
             {"decision": "return", "comment": "Check the base pay"})
    amount = case_data(case)["incentive_computed_amount"]
    complete(org["hr1"], case, "revise_incentive",
             {"action": "resubmit", "amount": amount, "note": "Base pay checked"})
    complete(org["cso1"], case, "head_approval", {"decision": "approve"})
    if "finance_approval" in [t.task_name for t in open_tasks(case)]:
        complete(org["fin1"], case, "finance_approval", {"decision": "approve"})
    return case


def test_the_report_of_a_whole_year_states_every_fact_with_its_date(app: Flask, org) -> None:
    case = _whole_year(org)
    data = case_data(case)
    assert data["incentive_status"] == "approved"
    client = app.test_client()
    login(client, "emp1")  # the employee files their own copy
    pdf = fetch(client, case.id)
    text = pdf.text
    # A4, every page numbered "page X of Y" with the case in the footer.
    for number, page in enumerate(pdf.reader.pages, start=1):
        assert (round(float(page.mediabox.width)), round(float(page.mediabox.height))) == (
            595, 842)
        assert f"Page {number} of {len(pdf.pages)}" in pdf.pages[number - 1]
        assert f"case #{case.id}" in pdf.pages[number - 1]
    expected = [
        # header
        "Ayesha Khan", "KP-00003", "Deputy District Health Officer", "BPS-17",
        "Health Department, Khyber Pakhtunkhwa", "District Health Office Peshawar",
        "Pilot 2026: 01 Jan 2026 to 31 Dec 2026", "Imran Khattak (KP-00002)",
        "Farah Qureshi (KP-00001)", "Completed on",
        # scorecard: original and revised, with the reason
        "Original scorecard, as agreed at goal setting", "Revised scorecard after the mid-year",
        "Children fully immunised", "Vaccinator attendance", "Cold-chain audits passed",
        "12,000", "11,000", "Employee, confirmed by officer",
        "Reason: “Two vaccinator posts fell vacant in May”", "Decided by Farah Qureshi (cso1)",
        # monthly actuals, with the correction
        "Jan 2026", "Nov 2026", "11 of 11 months recorded",
        "the employee reported 90, the officer recorded 95; “The attendance register shows 95”",
        # mid-year review
        "Attendance lagging", "Two more vaccinators", "The district lost two vaccinators",
        # interview
        "10 Dec 2026 10:00 PKT", "DHO office, Peshawar", "Reviewed the year KPI by KPI.",
        "Actual for the year",
        # score, formula, band, calibration
        "Score (0–100)", "min(actual ÷ target, 100%)", "Band from the score Outstanding",
        "Moved from Outstanding to Very good by Sana Afridi (hr1)",
        "Above the department's guideline for outstanding", "Final rating Very good",
        # comments, dispute, countersignature with dates
        "Disputed the assessment", "The other KPIs are fair.", "Audits were understated",
        "Upheld the rating", "The audit log supports the score",
        "Employee's signature Ayesha Khan (emp1) on 10 Dec 2026 11:00 PKT",
        "Countersignature Farah Qureshi (cso1) on 10 Dec 2026 11:00 PKT",
        # incentive and its approval chain
        f"Incentive PKR {data['incentive_amount']:,.0f}", "Check the base pay",
        "Base pay checked", "returned", "resubmitted", "Approved",
        # signatures
        "countersigned the scorecard: approved", "signed off the appraisal: disputed",
        "decided the dispute: upheld the rating", "calibrated the rating",
    ]
    missing = [fact for fact in expected if fact not in text]
    assert missing == []
    assert "not yet" not in text.lower()


def test_a_printed_copy_is_checked_against_the_audit_trail(app: Flask, org) -> None:
    case = start(org)
    agree_goals(org, case)
    client = app.test_client()
    login(client, "hr1")
    first = client.get(f"/cases/{case.id}/report.pdf")
    again = client.get(f"/cases/{case.id}/report.pdf")
    digest = first.headers["X-Report-SHA256"]
    # The same state of the case gives the same digest; the generations are audit events.
    assert again.headers["X-Report-SHA256"] == digest
    events = list(db.session.scalars(select(AuditEvent).where(
        AuditEvent.case_id == case.id,
        AuditEvent.event_type == AuditEventType.REPORT_GENERATED).order_by(AuditEvent.seq)))
    assert [(e.actor_id, e.details["sha256"]) for e in events] == [(org["hr1"].id, digest)] * 2
    text = Pdf(first.data).text
    assert f"SHA-256 {digest[:16]}" in text  # on every page's footer
    assert f"Generation recorded as audit event #{events[0].seq}" in text
    assert f"Reflects the case up to audit event #{events[0].details['as_of_event']}" in text
    # Once the case moves on, the report (and its digest) changes.
    at(f"{YEAR}-02-01", 5)
    fire_timers()
    record_month(org, case, ON_TARGET)
    later = client.get(f"/cases/{case.id}/report.pdf")
    assert later.headers["X-Report-SHA256"] != digest


def test_a_case_early_in_the_year_says_what_has_not_happened_yet(app: Flask, org) -> None:
    case = start(org)
    client = app.test_client()
    login(client, "ro1")
    text = fetch(client, case.id).text
    assert "Scorecard not yet designed" in text
    assert "No monthly actuals recorded yet: Jan 2026's fall due" in text
    assert "waiting for Design scorecard (Imran Khattak (ro1))" in text

    agree_goals(org, case)
    at(f"{YEAR}-02-01", 5)
    fire_timers()
    record_month(org, case, ON_TARGET)
    text = fetch(client, case.id).text
    assert "Countersigned by Farah Qureshi (cso1) on 05 Jan 2026" in text
    assert "1 of 11 months recorded" in text
    for sentence in [
        "Mid-year review not yet held: it opens on 01 Jul 2026.",
        "Interview not yet scheduled: the interview window is 01 Dec 2026 to 20 Dec 2026.",
        "Not yet computed: the score is computed when the interview is recorded.",
        "Not yet signed by the employee",
        "Incentive not yet computed: it follows the final rating.",
        "Running; no step is open",
    ]:
        assert sentence in text
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert f'href="/cases/{case.id}/report.pdf"' in page


def test_a_scheduled_interview_not_yet_held_says_so(org) -> None:
    case = start(org)
    agree_goals(org, case)
    through_the_months(org, case, ON_TARGET)
    at(f"{YEAR}-12-01", 5)
    fire_timers()
    complete(org["ro1"], case, "schedule_interview",
             {"date": f"{YEAR}-12-10", "time": "10:00", "place": "DHO office, Peshawar"})
    text = appraisal_report.build_report(db.session.get(Case, case.id)).text()
    assert "Held: Interview not yet held." in text
    assert "Scheduled for: 10 Dec 2026 10:00 PKT" in text


def _client_of(app: Flask, username: str | None) -> FlaskClient:
    for name in list(g):  # test requests share the app context's `g` (signed-in user, CSRF)
        g.pop(name)
    client = app.test_client()
    if username:
        login(client, username)
    return client


def test_an_interview_not_held_and_a_dispute_are_on_the_record(org) -> None:
    case = start(org)
    agree_goals(org, case)
    through_the_months(org, case, ON_TARGET)
    at(f"{YEAR}-12-01", 5)
    fire_timers()
    complete(org["ro1"], case, "schedule_interview",
             {"date": f"{YEAR}-12-10", "time": "10:00", "place": "DHO office, Peshawar"})
    at(f"{YEAR}-12-10", 6)
    fire_timers()
    complete(org["ro1"], case, "record_interview",
             {"held": "no", "not_held_reason": "The employee was on leave"})
    complete(org["ro1"], case, "schedule_interview",
             {"date": f"{YEAR}-12-15", "time": "11:30", "place": "Committee room"})
    at(f"{YEAR}-12-15", 7)
    fire_timers()
    complete(org["ro1"], case, "record_interview", {
        "held": "yes", "discussion": "Second sitting: the year reviewed.",
        "assessment": [{"kpi": k["name"], "actual": ON_TARGET[k["name"]], "comment": "Met"}
                       for k in good_scorecard()]})
    complete(org["emp1"], case, "sign_off_interview", {
        "decision": "dispute", "dispute_reasons": "Audits were understated"})

    def report() -> str:
        return appraisal_report.build_report(db.session.get(Case, case.id)).text()

    text = report()
    assert "Scheduled for: 15 Dec 2026 11:30 PKT" in text
    assert ("An earlier interview was not held (recorded by Imran Khattak (ro1) on "
            "10 Dec 2026 11:00 PKT): “The employee was on leave”.") in text
    assert "Reasons for the dispute: Audits were understated" in text
    assert "Employee's comments: None" in text
    assert ("Countersigning officer's decision: Not yet decided: awaiting the countersigning "
            "officer.") in text
    complete(org["cso1"], case, "decide_dispute", {
        "outcome": "revise", "revised_band": "very_good", "reason": "Audit log incomplete"})
    text = report()
    assert "Countersigning officer's decision: Changed the rating band to Very good" in text
    assert "Why: Audit log incomplete" in text
    assert "Countersignature: Farah Qureshi (cso1) on 15 Dec 2026 12:00 PKT" in text
    assert "Changed on dispute to: Very good" in text
    assert "Calibration: Not yet calibrated" in text
    assert "Final rating: Not yet final: it is final after calibration." in text


def test_only_people_who_may_see_the_case_get_its_report(app: Flask, org) -> None:
    case = start(org)
    for username in ["emp2", "fin1", "owner1"]:  # a colleague, finance, the process owner
        client = _client_of(app, username)
        assert client.get(f"/cases/{case.id}/report.pdf").status_code == 403
    client = _client_of(app, None)
    response = client.get(f"/cases/{case.id}/report.pdf")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    login(client, "auditor1")
    assert client.get(f"/cases/{case.id + 1000}/report.pdf").status_code == 404
    assert client.get(f"/cases/{case.id}/report.pdf").status_code == 200
    with pytest.raises(PermissionDenied):
        appraisal_report.generate(org["emp2"], case.id)
    generated_by = db.session.scalars(select(AuditEvent.actor_id).where(
        AuditEvent.event_type == AuditEventType.REPORT_GENERATED)).all()
    assert generated_by == [org["auditor1"].id]  # refusals leave no report behind


def test_the_api_serves_the_same_report_to_case_viewers_only(client: FlaskClient,
                                                              org) -> None:
    case = start(org)
    agree_goals(org, case)
    hr_token, _ = auth.issue_token(org["hr1"], 1)
    response = client.get(f"/api/v1/cases/{case.id}/report.pdf",
                          headers={"Authorization": f"Bearer {hr_token}"})
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert "Farah Qureshi (cso1) on 05 Jan 2026" in Pdf(response.data).text
    colleague_token, _ = auth.issue_token(org["emp2"], 1)
    refused = client.get(f"/api/v1/cases/{case.id}/report.pdf",
                         headers={"Authorization": f"Bearer {colleague_token}"})
    assert refused.status_code == 403 and "error" in refused.get_json()
    assert client.get(f"/api/v1/cases/{case.id}/report.pdf").status_code == 401


def test_a_goal_setting_case_reports_only_the_stages_it_has(org) -> None:
    case = cases.start_case("goal_setting", employee_of(org["emp1"]).id, org["hr1"])
    complete(org["ro1"], case, "design_scorecard", {"kpis": good_scorecard()})
    report = appraisal_report.build_report(db.session.get(Case, case.id))
    assert [s.title for s in report.sections] == ["Employee and cycle", "Scorecard",
                                                  "Signatures"]
    assert "Not yet agreed: awaiting the employee's review of the scorecard." in report.text()
    complete(org["emp1"], case, "review_scorecard",
             {"decision": "return", "comment": "Attendance target is too high"})
    text = appraisal_report.build_report(db.session.get(Case, case.id)).text()
    assert ("Not yet agreed: sent back by the employee on 05 Jan 2026 14:00 PKT (“Attendance "
            "target is too high”); awaiting the reporting officer's redesign.") in text
    assert "reviewed the scorecard: returned" in text


def test_urdu_names_and_kpis_are_drawn_with_an_arabic_script_font(org) -> None:
    employee = employee_of(org["emp1"])
    employee.full_name = "عائشہ خان"
    db.session.commit()
    case = cases.start_case("goal_setting", employee.id, org["hr1"])
    kpis = good_scorecard()
    kpis[0]["name"] = "بچوں کی مکمل حفاظتی ٹیکہ کاری"
    agree_goals(org, case, kpis)
    pdf = Pdf(appraisal_report.generate(org["hr1"], case.id).content)
    assert any("Scheherazade" in name for name in pdf.fonts())
    urdu_letters = set("عائشہ خان" + kpis[0]["name"]) - {" "}
    assert urdu_letters <= set(pdf.text)  # every letter drawn, none lost as a missing glyph
    assert "Vaccinator attendance" in pdf.text


def test_urdu_in_a_table_heading_is_drawn_with_the_arabic_script_font(org) -> None:
    case = start(org)
    report = appraisal_report.build_report(db.session.get(Case, case.id))
    kpi = "ٹیکہ کاری"
    report.sections.append(appraisal_report.Section("Monthly actuals", [appraisal_report.Table(
        ["Month", kpi], [["Jan 2026", "12,000"]], [20, 20], [False, True])]))
    pdf = Pdf(report_pdf.render(report, digest=report.digest(), audit_seq=1,
                                generated_at=clock.now(), generated_by="HR"))
    assert any("Scheherazade" in name for name in pdf.fonts())
    assert set(kpi) - {" "} <= set(pdf.text)


def test_without_the_unicode_fonts_the_report_falls_back_to_helvetica(
        app: Flask, org, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(report_pdf, "FONT_DIRS", ())
    monkeypatch.setitem(app.config, "REPORT_FONT_DIRS", ())
    case = start(org)
    agree_goals(org, case)
    pdf = Pdf(appraisal_report.generate(org["hr1"], case.id).content)
    assert pdf.fonts() <= {"/Helvetica", "/Helvetica-Bold"}
    assert "Ayesha Khan" in pdf.text and "Children fully immunised" in pdf.text
    assert "Page 1 of" in pdf.text

