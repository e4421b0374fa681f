"""Urdu and English: which language a page is in, how the choice is remembered, that every
page renders in Urdu right to left, and that the Urdu catalogue is complete."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import write_po
from flask import Flask, g
from flask.testing import FlaskClient
from flask_babel import refresh
from sqlalchemy import select

from app.extensions import db
from app.i18n import (
    LOCALE_COOKIE,
    TRANSLATIONS_DIR,
    catalogue_problems,
    format_amount,
    format_day,
    format_when,
    source_messages,
)
from app.models import HumanTask, TaskStatus, User
from tests import appraisal_helpers
from tests.helpers import csrf_token, login

URDU_PO = TRANSLATIONS_DIR / "ur" / "LC_MESSAGES" / "messages.po"
TEMPLATES = Path(__file__).resolve().parents[2] / "app" / "templates"
HTML_TAG = re.compile(r"<html[^>]*>")


@pytest.fixture(autouse=True)
def each_request_starts_afresh(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test's application context (and its `g`) outlives each test-client request; a real
    request starts with an empty `g`, so several browsers in one test must not share the
    signed-in user Flask-Login keeps there."""
    original = FlaskClient.open

    def open_afresh(self: FlaskClient, *args: Any, **kwargs: Any) -> Any:
        for name in ("_login_user", "csrf_valid", "csrf_token"):
            g.pop(name, None)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(FlaskClient, "open", open_afresh)


def html_tag(response: Any) -> str:
    match = HTML_TAG.search(response.get_data(as_text=True))
    assert match, f"no <html> tag (status {response.status_code})"
    return match.group(0)


def choose(client: FlaskClient, language: str, token_page: str = "/login",  # noqa: S107
           next_page: str = "/tasks") -> Any:
    token = csrf_token(client, token_page)
    return client.post("/language", data={"language": language, "next": next_page,
                                           "csrf_token": token})


def saved_locale(username: str) -> str | None:
    db.session.expire_all()
    return db.session.scalar(select(User.locale).where(User.username == username))


# --- which language, and remembering it ------------------------------------------------------


def test_english_is_the_default_when_the_browser_asks_for_nothing_we_have(client, org) -> None:
    for headers in ({}, {"Accept-Language": "fr-FR,fr;q=0.9,de;q=0.5"}):
        page = client.get("/login", headers=headers)
        assert html_tag(page) == '<html lang="en" dir="ltr">'
        assert "Sign in to Meezan" in page.get_data(as_text=True)


def test_a_browser_asking_for_urdu_gets_the_sign_in_page_in_urdu_right_to_left(client,
                                                                               org) -> None:
    page = client.get("/login", headers={"Accept-Language": "ur-PK,ur;q=0.9,en;q=0.5"})
    body = page.get_data(as_text=True)
    assert html_tag(page) == '<html lang="ur" dir="rtl">'
    assert "میزان میں سائن اِن کریں" in body and "Sign in to Meezan" not in body
    # The switcher offers the other language in its own script.
    assert ">English</button>" in body


def test_a_visitor_who_switches_to_urdu_keeps_it_by_cookie_whatever_the_browser_says(
        client, org) -> None:
    response = choose(client, "ur", next_page="/login")
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    cookie = client.get_cookie(LOCALE_COOKIE)
    assert cookie is not None and cookie.value == "ur" and cookie.http_only
    page = client.get("/login", headers={"Accept-Language": "en"})
    assert html_tag(page) == '<html lang="ur" dir="rtl">'


def test_a_signed_in_persons_choice_is_saved_and_follows_them_into_a_new_session(
        app: Flask, org) -> None:
    first = app.test_client()
    login(first, "emp1")
    assert saved_locale("emp1") is None
    choose(first, "ur", token_page="/tasks")
    assert saved_locale("emp1") == "ur"

    # Another browser: no cookie, an English Accept-Language; after signing in, Urdu.
    second = app.test_client()
    assert html_tag(second.get("/login", headers={"Accept-Language": "en"})).startswith(
        '<html lang="en"')
    login(second, "emp1")
    page = second.get("/tasks", headers={"Accept-Language": "en"})
    body = page.get_data(as_text=True)
    assert html_tag(page) == '<html lang="ur" dir="rtl">'
    assert ">میرے کام</a>" in body and ">قطار</a>" in body  # the nav: My tasks, Queue
    # Someone else signing in on an English browser still gets English.
    other = app.test_client()
    login(other, "emp2")
    assert html_tag(other.get("/tasks", headers={"Accept-Language": "en"})).startswith(
        '<html lang="en"')


def test_switching_back_to_english_is_remembered_too(app: Flask, org) -> None:
    client = app.test_client()
    login(client, "ro1")
    choose(client, "ur", token_page="/tasks")
    choose(client, "en", token_page="/tasks")
    assert saved_locale("ro1") == "en"
    fresh = app.test_client()
    login(fresh, "ro1")
    page = fresh.get("/tasks", headers={"Accept-Language": "ur"})
    assert html_tag(page) == '<html lang="en" dir="ltr">'  # the saved choice beats the browser


def test_only_english_or_urdu_can_be_chosen(app: Flask, org) -> None:
    client = app.test_client()
    login(client, "emp1")
    token = csrf_token(client, "/tasks")
    response = client.post("/language", data={"language": "fr", "csrf_token": token})
    assert response.status_code == 400
    assert saved_locale("emp1") is None and client.get_cookie(LOCALE_COOKIE) is None


def test_switching_language_needs_the_forms_csrf_token(client, org) -> None:
    response = client.post("/language", data={"language": "ur"})
    assert response.status_code == 400
    assert client.get_cookie(LOCALE_COOKIE) is None


@pytest.mark.parametrize("target", ["https://evil.example/x", "//evil.example/x",
                                    "/\\evil.example", "javascript:alert(1)"])
def test_the_switcher_goes_back_only_to_pages_of_this_site(client, org, target: str) -> None:
    response = choose(client, "ur", next_page=target)
    assert response.status_code == 302 and response.headers["Location"] == "/tasks"


def test_the_json_api_answers_in_english_whatever_the_person_chose(app: Flask, org) -> None:
    org["emp1"].locale = "ur"
    db.session.commit()
    client = app.test_client()
    client.set_cookie(LOCALE_COOKIE, "ur")
    response = client.post("/api/v1/tokens", json={"username": "emp1", "password": "wrong"},
                           headers={"Accept-Language": "ur"})
    assert response.status_code == 401
    assert re.search(r"[a-z]{3}", response.get_json()["error"])
    assert not re.search(r"[\u0600-\u06FF]", response.get_data(as_text=True))


# --- messages, forms, dates and amounts --------------------------------------------------------


def test_flash_and_form_messages_are_in_the_readers_language(client, org) -> None:
    choose(client, "ur", next_page="/login")
    token = csrf_token(client, "/login")
    wrong = client.post("/login", data={"username": "emp1", "password": "nope",
                                        "csrf_token": token}, follow_redirects=True)
    assert "صارف نام یا پاس ورڈ غلط ہے۔" in wrong.get_data(as_text=True)
    empty = client.post("/login", data={"username": "", "password": "",
                                        "csrf_token": csrf_token(client, "/login")})
    assert "یہ خانہ لازمی ہے۔" in empty.get_data(as_text=True)  # WTForms' own message


def test_a_scorecard_that_breaks_the_rules_is_refused_in_urdu(app: Flask, org) -> None:
    from app.services import cases
    from tests.conftest import employee_of

    case = cases.start_case("goal_setting", employee_of(org["emp1"]).id, org["hr1"])
    task_id = db.session.scalar(select(HumanTask.id).where(
        HumanTask.case_id == case.id, HumanTask.status == TaskStatus.OPEN))
    client = app.test_client()
    login(client, "ro1")
    choose(client, "ur", token_page="/tasks")
    token = csrf_token(client, f"/tasks/{task_id}")
    response = client.post(f"/tasks/{task_id}", data={
        "csrf_token": token, "kpis-0-name": "Children fully immunised", "kpis-0-kind": "quantity",
        "kpis-0-unit": "children", "kpis-0-target": "12000", "kpis-0-weight": "100"})
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "اسکور کارڈ میں 3 سے 8 کے پی آئی ہوتے ہیں؛ اس میں 1 ہیں۔" in body
    assert "کچھ خانے توجہ طلب ہیں۔" in body  # the service's refusal, flashed in Urdu
    # The same refusal through the API stays English.
    from app.services import auth

    token, _ = auth.issue_token(org["ro1"], 1)
    api = client.post(f"/api/v1/tasks/{task_id}/complete", json={"data": {"kpis": []}},
                      headers={"Authorization": f"Bearer {token}", "Accept-Language": "ur"})
    assert api.status_code == 422 and api.get_json()["error"] == "Some fields need attention."


def test_a_refusal_with_values_is_urdu_on_the_page_and_english_in_the_api(app: Flask, org) -> None:
    """A service refusal built as a Message: the page fills the Urdu template with the same
    values (the names isolated), the API keeps the English sentence."""
    from app.services import auth, cases
    from tests.conftest import employee_of

    emp1 = employee_of(org["emp1"])
    running = cases.start_case("goal_setting", emp1.id, org["hr1"])
    client = app.test_client()
    login(client, "hr1")
    choose(client, "ur", token_page="/cases/new")
    page = client.post("/cases/new", data={"process_key": "goal_setting",
                                            "subject": emp1.employee_number,
                                            "csrf_token": csrf_token(client, "/cases/new")})
    assert page.status_code == 409
    assert (f"\u2068{emp1.full_name}\u2069 کا \u2068Goal setting\u2069 کیس پہلے سے جاری ہے "
            f"(#{running.id})۔") in page.get_data(as_text=True)
    token, _ = auth.issue_token(org["hr1"], 1)
    api = client.post("/api/v1/cases", json={"process": "goal_setting", "subject": emp1.id},
                      headers={"Authorization": f"Bearer {token}", "Accept-Language": "ur"})
    assert api.status_code == 409
    assert api.get_json()["error"] == (
        f"{emp1.full_name} already has a running Goal setting case (#{running.id}).")


def test_a_cycle_form_error_is_urdu_beside_its_field_and_english_for_the_service(
        app: Flask, org) -> None:
    """The cycle service's field errors are catalogue messages: the form shows them (and the
    flashed refusal) in the reader's language, the service itself still says them in English."""
    from app.services import cycles
    from tests.org_factory import cycle_input, unit

    client = app.test_client()
    login(client, "hr1")
    choose(client, "ur", token_page="/cycles/new")
    form = {
        "name": "FY 2027-28", "year": "2027", "process_key": "goal_setting",
        "org_unit_ids": [str(unit("KP-HEALTH").id)], "starts_on": "2027-07-01",
        "mid_year_on": "2028-01-01", "interview_opens_on": "2028-06-01",
        "interview_closes_on": "2028-06-20", "ends_on": "2028-06-30",
        "incentive_cap_percent": "20", "budget": "2500000", "incentive_threshold_amount": "",
        "outstanding": "30", "very_good": "20", "good": "40", "average": "20",
        "below_average": "10", "csrf_token": csrf_token(client, "/cycles/new"),
    }
    page = client.post("/cycles/new", data=form)
    body = page.get_data(as_text=True)
    assert page.status_code == 422
    urdu = "رہنما تقسیم کا مجموعہ 100% ہونا چاہیے (اس کا مجموعہ 120% ہے)۔"
    assert body.count(urdu) == 2  # beside the field, and flashed
    assert "must add up to" not in body
    problems = cycles.validate_cycle_input(cycle_input(guideline_distribution={
        "outstanding": 30, "very_good": 20, "good": 40, "average": 20, "below_average": 10}))
    assert problems["guideline_distribution"] == [
        "The guideline distribution must add up to 100% (it adds up to 120%)."]


def test_dates_and_amounts_follow_the_readers_language(app: Flask) -> None:
    moment = datetime(2026, 11, 23, 13, 5, tzinfo=UTC)
    with app.test_request_context(headers={"Accept-Language": "en"}):
        refresh()  # the locale Flask-Babel keeps on the test's long-lived `g`
        assert format_when(moment) == "23 Nov 2026 13:05 UTC"
        assert format_day(moment) == "23 Nov 2026"
        assert format_amount(1250000) == "1,250,000"
        assert format_amount(2500000.5, 2) == "2,500,000.50"
    with app.test_request_context(headers={"Accept-Language": "ur"}):
        refresh()
        assert format_day(moment) == "23 نومبر 2026"
        assert format_when(moment).startswith("23 نومبر 2026 13:05")
        assert format_amount(1250000) == "1,250,000"
        assert format_day(None) == "—"


# --- every page in Urdu ------------------------------------------------------------------------


class TemplateLog:
    """The templates the app loads, pages and the partials and macros they pull in."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.names: set[str] = set()
        self._original = app.jinja_env.get_template

    def __enter__(self) -> TemplateLog:
        def get_template(name: Any, *args: Any, **kwargs: Any) -> Any:
            if isinstance(name, str):
                self.names.add(name)
            return self._original(name, *args, **kwargs)

        self.app.jinja_env.get_template = get_template  # type: ignore[method-assign]
        self.app.jinja_env.cache.clear()
        return self

    def __exit__(self, *exc: object) -> None:
        del self.app.jinja_env.get_template


@pytest.fixture
def urdu_clients(app: Flask) -> Iterator[dict[str, FlaskClient]]:
    """A signed-in client per demo user, each having chosen Urdu (lazily made)."""
    made: dict[str, FlaskClient] = {}

    class Clients(dict):
        def __missing__(self, username: str) -> FlaskClient:
            client = app.test_client()
            login(client, username)
            choose(client, "ur", token_page="/tasks")
            made[username] = client
            self[username] = client
            return client

    yield Clients()


def assert_urdu_page(response: Any, what: str, server_error_expected: bool = False) -> str:
    assert server_error_expected or response.status_code < 500, f"{what}: {response.status_code}"
    if not response.mimetype.startswith("text/"):
        return ""  # the PDF report, CSV/XLSX exports, JSON
    body = response.get_data(as_text=True)
    if response.mimetype == "text/html" and response.status_code // 100 != 3:
        assert html_tag(response) == '<html lang="ur" dir="rtl">', what
    return body


def _page_routes(app: Flask) -> list[tuple[str, str]]:
    return sorted({(rule.endpoint, rule.rule) for rule in app.url_map.iter_rules()
                   if "GET" in rule.methods and not rule.rule.startswith(("/api/", "/static"))
                   and rule.endpoint not in ("i18n.set_language", "health.healthz")})


def test_every_template_renders_in_urdu_right_to_left(app: Flask, org, urdu_clients,
                                                      monkeypatch) -> None:
    """Walks an employee through the whole year, opening every task's page in Urdu as the
    person who holds it before completing it, then opens every page of the app as each demo
    user with another person's case and task in the URL, and a few pages that only answer a
    form. Every template under app/templates must have been rendered, in Urdu, right to left."""
    from app.services import calibration, cases
    from tests.conftest import employee_of

    helpers = appraisal_helpers
    original_complete = helpers.complete

    def complete_after_looking(user: User, case: Any, name: str, data: dict) -> HumanTask:
        task = helpers.open_task(case, name)
        client = urdu_clients[user.username]
        body = assert_urdu_page(client.get(f"/tasks/{task.id}"), f"task {name}")
        assert 'data-testid="task-form"' in body or name == "calibrate_rating", name
        assert_urdu_page(client.get(f"/cases/{case.id}"), f"case at {name}")
        return original_complete(user, case, name, data)

    monkeypatch.setattr(helpers, "complete", complete_after_looking)

    with TemplateLog(app) as log:
        helpers.at(f"{helpers.YEAR}-01-05")
        try:
            case = helpers.start(org)
            helpers.agree_goals(org, case, helpers.scorecard_with_employee_kpi())

            def revise_at_mid_year(org: dict, case: Any) -> None:
                helpers.complete(org["emp1"], case, "self_assessment", {"progress": "On track"})
                revised = helpers.scorecard_with_employee_kpi()
                revised[0]["target"] = 11000
                helpers.complete(org["ro1"], case, "officer_review", {
                    "comment": "Two posts vacant", "revise_kpis": True,
                    "revision_reason": "Two vaccinator posts fell vacant", "kpis": revised})
                helpers.complete(org["cso1"], case, "approve_revision", {"decision": "approve"})

            helpers.through_the_months(org, case, helpers.ON_TARGET,
                                       on_mid_year=revise_at_mid_year)
            helpers.interview(org, case, helpers.ON_TARGET, sign=False)
            helpers.complete(org["emp1"], case, "sign_off_interview", {
                "decision": "dispute", "dispute_reasons": "The audits were not counted."})
            helpers.complete(org["cso1"], case, "decide_dispute", {
                "outcome": "uphold", "reason": "The audits were counted."})
            calibrate = helpers.open_task(case, "calibrate_rating")
            assert_urdu_page(urdu_clients["hr1"].get(f"/tasks/{calibrate.id}"), "calibrate")
            unit = helpers.province(org)
            page = f"/calibration/{unit.id}/test-2026"
            assert_urdu_page(urdu_clients["hr1"].get(page), "calibration")
            calibration.open_calibration(org["hr1"], unit.id, "test-2026")
            assert_urdu_page(urdu_clients["hr1"].get(page), "calibration form")
            calibration.close_calibration(org["hr1"], unit.id, "test-2026", {})
            assert_urdu_page(urdu_clients["hr1"].get(page), "calibration closed")
            helpers.complete(org["cso1"], case, "head_approval", {
                "decision": "return", "comment": "Check the base pay."})
            helpers.complete(org["hr1"], case, "revise_incentive", {
                "action": "resubmit", "amount": "28400", "note": "Base pay checked."})
            helpers.complete(org["cso1"], case, "head_approval", {"decision": "approve"})
            helpers.complete(org["fin1"], case, "finance_approval", {"decision": "approve"})
            assert_urdu_page(urdu_clients["hr1"].get(f"/cases/{case.id}"), "completed case")
        finally:
            appraisal_helpers.clock.reset()

        # Every page, as everyone, with emp2's goal-setting case and its task in the URL.
        other = cases.start_case("goal_setting", employee_of(org["emp2"]).id, org["hr1"])
        task_id = db.session.scalar(select(HumanTask.id).where(
            HumanTask.case_id == other.id, HumanTask.status == TaskStatus.OPEN))
        values = _url_values(org, other.id, task_id)
        for username in ("emp1", "ro1", "cso1", "hr1", "fin1", "owner1", "auditor1", "admin"):
            client = urdu_clients[username]
            for endpoint, rule in _page_routes(app):
                url = re.sub(r"<(?:[a-z_]+(?:\([^)]*\))?:)?([a-z_]+)>",
                             lambda m: values.get(m.group(1), "1"), rule)
                response = client.get(url)
                assert_urdu_page(response, f"{username} GET {url} ({endpoint})")
                response.close()
        _pages_that_answer_a_form(urdu_clients, task_id)
        anonymous = app.test_client()
        choose(anonymous, "ur", next_page="/login")
        assert_urdu_page(anonymous.get("/login"), "sign-in page")
        missing = assert_urdu_page(anonymous.get("/no-such-page"), "404 page")
        assert "ایسا کوئی صفحہ نہیں۔" in missing
        _second_factor_page(app, org)
    names = log.names | _unavailable_page()

    rendered = {name for name in names if name.endswith(".html")}
    everything = {str(p.relative_to(TEMPLATES)) for p in TEMPLATES.rglob("*.html")}
    assert everything - rendered == set(), "templates never rendered in Urdu"


def _url_values(org: dict[str, User], case_id: int, task_id: int) -> dict[str, str]:
    from app.models import OrgUnit
    from app.services import cycles
    from tests.org_factory import cycle_input

    cycle = cycles.create_cycle(org["hr1"], cycle_input())
    unit_id = db.session.scalar(select(OrgUnit.id).where(OrgUnit.code == "KP-HEALTH"))
    return {"case_id": str(case_id), "task_id": str(task_id), "cycle_id": str(cycle.id),
            "unit_id": str(unit_id), "cycle_key": str(cycle.year),
            "process_key": "goal_setting", "number": "1", "fmt": "csv", "absence_id": "1"}


def _pages_that_answer_a_form(clients: dict[str, FlaskClient], task_id: int) -> None:
    """Pages drawn only in answer to a form: the bulk result, an import report, a DMN check,
    a version diff, the deploy page with a draft."""
    import io

    hr = clients["hr1"]
    token = csrf_token(hr, "/queue")
    body = assert_urdu_page(hr.post("/queue/bulk", data={
        "csrf_token": token, "task_ids": [str(task_id)], "action": "approve", "comment": ""}),
        "bulk result")
    assert "<html" in body
    token = csrf_token(hr, "/org/import")
    assert_urdu_page(hr.post("/org/import", data={
        "csrf_token": token, "dry_run": "y",
        "file": (io.BytesIO(b"employee_number,name\nX-1,Nobody\n"), "org.csv")},
        content_type="multipart/form-data"), "import report")
    owner = clients["owner1"]
    dmn = (Path(__file__).resolve().parents[2] / "workflows" / "rating_band.dmn").read_bytes()
    token = csrf_token(owner, "/processes")
    assert_urdu_page(owner.post("/processes/decisions/validate", data={
        "csrf_token": token, "file": (io.BytesIO(dmn), "rating_band.dmn")},
        content_type="multipart/form-data"), "DMN report")
    # A second version of goal setting: the deploy page with a draft and its changes, then a
    # diff of the two versions.
    from app.services import modeler, process_models

    xml = process_models.current_version("goal_setting").bpmn_xml
    modeler.save_draft(org_user("owner1"), "goal_setting",
                       xml.replace('name="Design scorecard"',
                                   'name="Design the KPI scorecard"').encode("utf-8"))
    assert_urdu_page(owner.get("/processes/goal_setting/modeler"), "modeler with a draft")
    assert_urdu_page(owner.get("/processes/goal_setting/deploy"), "deploy page")
    token = csrf_token(owner, "/processes/goal_setting/deploy")
    assert_urdu_page(owner.post("/processes/goal_setting/deploy", data={
        "csrf_token": token, "comment": "Clearer step name"}, follow_redirects=True), "deployed")
    assert_urdu_page(owner.get("/processes/goal_setting/diff?old=1&new=2"), "diff")
    assert_urdu_page(owner.get("/processes/goal_setting/versions"), "two versions")


def org_user(username: str) -> User:
    return db.session.scalar(select(User).where(User.username == username))


def _second_factor_page(app: Flask, org: dict[str, User]) -> None:
    import pyotp

    from app.services import two_factor

    secret = pyotp.random_base32()
    two_factor.enable(org["admin"], secret, pyotp.TOTP(secret).now())
    client = app.test_client()
    choose(client, "ur", next_page="/login")
    token = csrf_token(client, "/login")
    response = client.post("/login", data={"username": "admin", "password": "meezan-demo",
                                           "csrf_token": token}, follow_redirects=True)
    assert "اپنا کوڈ درج کریں" in assert_urdu_page(response, "second factor")


def _unavailable_page() -> set[str]:
    """The page shown while the database is unreachable, in the visitor's language (from the
    cookie: there is no database to read their account from). A separate app, so the failing
    route can be added before it serves anything."""
    from sqlalchemy.exc import OperationalError

    from app import create_app

    flaky = create_app("test")

    @flaky.route("/__database_gone")
    def database_gone() -> None:
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))

    with TemplateLog(flaky) as log:
        client = flaky.test_client()
        client.set_cookie(LOCALE_COOKIE, "ur")
        response = client.get("/__database_gone")
        assert response.status_code == 503
        assert "میزان کچھ دیر کے لیے دستیاب نہیں" in assert_urdu_page(response, "unavailable", True)
    return log.names


# --- the catalogue -----------------------------------------------------------------------------


def test_the_urdu_catalogue_translates_every_message_of_the_source() -> None:
    """Fails when someone marks a new string for translation without translating it (run
    scripts/translations.sh extract, then translate what it adds to the Urdu .po)."""
    expected = source_messages()
    assert len(expected) > 500
    assert catalogue_problems(URDU_PO, expected) == []


def test_the_catalogue_check_catches_missing_untranslated_fuzzy_and_broken_messages(
        tmp_path: Path) -> None:
    catalog = Catalog(locale="ur")
    catalog.add("Queue", "قطار")
    catalog.add("Absences", "")
    catalog.add("Cases", "کیس", flags=["fuzzy"])
    catalog.add("Case #%(id)s", "کیس #%(number)s", flags=["python-format"])
    po = tmp_path / "messages.po"
    with po.open("wb") as handle:
        write_po(handle, catalog)
    problems = catalogue_problems(po, {"Queue": "x", "My tasks": "app/templates/base.html:1"})
    assert problems == [
        "untranslated: 'Absences'",
        "fuzzy: 'Cases'",
        "named values differ: 'Case #%(id)s'",
        "missing (run scripts/translations.sh extract): 'My tasks' at app/templates/base.html:1",
    ]


def test_a_services_message_with_names_in_it_is_shown_in_the_readers_language(
        app: Flask, org) -> None:
    """A refusal or result that carries values (a task's title, a person's name, a status) is
    translated by its template and then filled in; the API keeps English."""
    from app.services import tasks
    from forms import formdata_from_json
    from tests.queue_helpers import to_countersign

    done_elsewhere, waiting = to_countersign(org, "emp1"), to_countersign(org, "emp2")
    tasks.complete_task(org["cso1"], done_elsewhere.id,
                        formdata_from_json({"decision": "approve", "comment": ""}))
    client = app.test_client()
    login(client, "cso1")
    choose(client, "ur", token_page="/queue")
    page = client.post("/queue/bulk", data={
        "csrf_token": csrf_token(client, "/queue"), "action": "approve",
        "task_ids": [str(done_elsewhere.id), str(waiting.id)]}).get_data(as_text=True)
    title = "\u2068Countersign scorecard\u2069"
    assert f"“{title}” پہلے ہی \u2068مکمل\u2069 ہو چکا ہے۔" in page  # status word in Urdu too
    assert f"“{title}” منظور ہو گیا۔" in page
    assert "already" not in page and "approved." not in page

    from app.services import auth

    token, _ = auth.issue_token(org["cso1"], 1)
    api = client.post("/api/v1/tasks/bulk", json={"task_ids": [done_elsewhere.id],
                                                  "action": "approve"},
                      headers={"Authorization": f"Bearer {token}", "Accept-Language": "ur"})
    assert api.get_json()["results"][0]["message"] == (
        "“Countersign scorecard” has already been completed.")


# Words that are the same in every language: the product's name and file formats.
UNTRANSLATED_WORDS = {"Meezan", "CSV", "XLSX"}
_TEMPLATE_TEXT = re.compile(r">\s*([^<>{}]*[A-Za-z]{3,}[^<>{}]*?)\s*<")
_TEMPLATE_ATTRIBUTE = re.compile(
    r'\b(?:aria-label|title|placeholder|alt)="([^"{}]*[A-Za-z]{3,}[^"{}]*)"')
_NOT_PAGE_TEXT = re.compile(
    r"\{#.*?#\}|\{%-?\s*trans\b.*?\{%-?\s*endtrans\s*-?%\}|<script.*?</script>|<style.*?</style>",
    re.S)


def test_no_template_shows_text_that_bypasses_the_catalogue() -> None:
    """Words written straight into a template's markup (not in `_()` or `{% trans %}`) stay
    English on an Urdu page: every such text node and label attribute is listed here."""
    found = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        markup = _NOT_PAGE_TEXT.sub("", path.read_text(encoding="utf-8"))
        for match in [*_TEMPLATE_TEXT.finditer(markup), *_TEMPLATE_ATTRIBUTE.finditer(markup)]:
            if match.group(1).strip() not in UNTRANSLATED_WORDS:
                found.append(f"{path.relative_to(TEMPLATES)}: {match.group(1).strip()[:60]!r}")
    assert found == []
