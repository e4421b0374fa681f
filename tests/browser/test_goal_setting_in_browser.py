"""Goal setting end to end in a real browser: HR starts the case, the reporting officer designs
the scorecard (tripping the weights check first), the employee sends it back once and then
agrees, the countersigning officer approves, and the case page tells the whole story."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from app.models import User
from app.services.demo import DEMO_PASSWORD

pytestmark = pytest.mark.browser

EMPLOYEE = "Ayesha Khan"
SUBMIT_DESIGN = f"Send to {EMPLOYEE} for review"
RETURN_COMMENT = "Target for immunisation is too high"
KPIS = [
    ("Children fully immunised", "quantity", "children", "12000", "40"),
    ("Vaccinator attendance", "quantity", "%", "95", "25"),
    ("Cold-chain audits passed", "quality", "%", "90", "35"),
]
REVISED_TARGET = "10000"


def sign_in(page: Page, username: str) -> None:
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("current-user")).to_contain_text(f"({username})")


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_role("status")).to_have_text("You are signed out.")
    expect(page.get_by_test_id("current-user")).to_have_count(0)


def open_my_tasks(page: Page) -> None:
    page.get_by_role("navigation").get_by_role("link", name="My tasks").click()
    expect(page).to_have_url(re.compile(r"/tasks$"))
    expect(page.get_by_role("heading", name="My tasks")).to_be_visible()


def open_task(page: Page, title: str) -> None:
    open_my_tasks(page)
    row = page.get_by_test_id("task-list").get_by_role("row").filter(has_text=title)
    expect(row).to_have_count(1)
    expect(row).to_contain_text(EMPLOYEE)
    row.get_by_role("link", name=title).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(title)


def assert_emp1_never_offered_design(page: Page) -> None:
    """emp1's My tasks: whatever is there, never the design of their own scorecard."""
    open_my_tasks(page)
    expect(page.get_by_test_id("task-list").or_(page.get_by_test_id("no-tasks"))).to_be_visible()
    expect(page.get_by_role("main")).not_to_contain_text("Design scorecard")


def fill_kpi(page: Page, index: int, kpi: tuple[str, str, str, str, str]) -> None:
    name, kind, unit, target, weight = kpi
    page.locator(f'[name="kpis-{index}-name"]').fill(name)
    page.locator(f'[name="kpis-{index}-kind"]').select_option(kind)
    page.locator(f'[name="kpis-{index}-unit"]').fill(unit)
    page.locator(f'[name="kpis-{index}-target"]').fill(target)
    page.locator(f'[name="kpis-{index}-weight"]').fill(weight)


def expect_kpi(page: Page, index: int, kpi: tuple[str, str, str, str, str]) -> None:
    for field, value in zip(("name", "kind", "unit", "target", "weight"), kpi, strict=True):
        expect(page.locator(f'[name="kpis-{index}-{field}"]')).to_have_value(value)


def expect_on_case_page(page: Page, case_url: str, flash: str) -> None:
    expect(page).to_have_url(case_url)
    expect(page.get_by_role("status")).to_have_text(flash)


def decide(page: Page, choice: str, comment: str = "") -> None:
    page.get_by_role("radio", name=choice).check()
    if comment:
        page.get_by_label("Comment").fill(comment)
    page.get_by_role("button", name="Submit").click()


def test_goal_setting_through_the_browser(
    org: dict[str, User], new_page: Callable[[], Page], artifacts_dir: Path
) -> None:
    # 1. HR starts the case for emp1.
    hr = new_page()
    sign_in(hr, "hr1")
    hr.goto("/cases/new")
    hr.get_by_label("Process").select_option(label="Goal setting")
    employee = hr.get_by_label("Employee")
    employee.fill(EMPLOYEE[:5])  # suggestions as one types
    option = hr.locator("#subject-people option")
    expect(option).to_have_count(1)
    employee.fill(option.get_attribute("value"))  # picked
    hr.get_by_role("button", name="Start case").click()
    expect(hr).to_have_url(re.compile(r"/cases/\d+$"))
    case_url = hr.url
    case_number = case_url.rsplit("/", 1)[1]
    expect(hr.get_by_role("status")).to_have_text(f"Case #{case_number} started.")
    expect(hr.get_by_role("heading", level=1)).to_have_text(f"Goal setting — {EMPLOYEE}")
    expect(hr.get_by_test_id("case-status")).to_have_text("Running")
    expect(hr.get_by_test_id("current-tasks")).to_contain_text(
        "Design scorecard — Imran Khattak (ro1)"
    )
    sign_out(hr)
    hr.context.close()

    # While the design is with the reporting officer, emp1 has nothing to do.
    emp = new_page()
    sign_in(emp, "emp1")
    assert_emp1_never_offered_design(emp)
    expect(emp.get_by_test_id("no-tasks")).to_have_text("Nothing is waiting for you.")
    sign_out(emp)
    emp.context.close()

    # 2. The reporting officer designs the scorecard; the weights check bites first.
    ro = new_page()
    sign_in(ro, "ro1")
    open_task(ro, "Design scorecard")
    unbalanced = [*KPIS[:2], (*KPIS[2][:4], "30")]
    for index, kpi in enumerate(unbalanced):
        fill_kpi(ro, index, kpi)
    ro.get_by_role("button", name=SUBMIT_DESIGN).click()
    expect(ro.get_by_test_id("form-error")).to_contain_text("Weights must add up to 100")
    expect(ro.get_by_test_id("form-error")).to_contain_text("they add up to 95")
    expect(ro.get_by_role("alert")).to_have_text("Some fields need attention.")
    for index, kpi in enumerate(unbalanced):
        expect_kpi(ro, index, kpi)
    expect(ro.locator('[name="kpis-3-name"]')).to_have_value("")
    ro.locator('[name="kpis-2-weight"]').fill("35")
    ro.get_by_role("button", name=SUBMIT_DESIGN).click()
    expect_on_case_page(ro, case_url, "“Design scorecard” completed.")
    expect(ro.get_by_test_id("current-tasks")).to_contain_text(
        f"Review scorecard — {EMPLOYEE} (emp1)"
    )
    sign_out(ro)
    ro.context.close()

    # 3. The employee sends it back; the officer sees why, lowers the target; emp1 agrees.
    emp = new_page()
    sign_in(emp, "emp1")
    assert_emp1_never_offered_design(emp)
    open_task(emp, "Review scorecard")
    expect(emp.get_by_test_id("scorecard")).to_contain_text("12000")
    decide(emp, "Send it back for changes", RETURN_COMMENT)
    expect_on_case_page(emp, case_url, "“Review scorecard” completed.")
    assert_emp1_never_offered_design(emp)
    sign_out(emp)
    emp.context.close()

    ro = new_page()
    sign_in(ro, "ro1")
    open_task(ro, "Design scorecard")
    expect(ro.get_by_test_id("returned-comment")).to_contain_text(
        f"The employee sent the scorecard back: {RETURN_COMMENT}"
    )
    expect(ro.locator('[name="kpis-0-name"]')).to_have_value(KPIS[0][0])
    expect(ro.locator('[name="kpis-2-weight"]')).to_have_value("35")
    ro.locator('[name="kpis-0-target"]').fill(REVISED_TARGET)
    ro.get_by_role("button", name=SUBMIT_DESIGN).click()
    expect_on_case_page(ro, case_url, "“Design scorecard” completed.")
    sign_out(ro)
    ro.context.close()

    emp = new_page()
    sign_in(emp, "emp1")
    assert_emp1_never_offered_design(emp)
    open_task(emp, "Review scorecard")
    first_kpi = emp.get_by_test_id("scorecard").get_by_role("row").filter(has_text=KPIS[0][0])
    expect(first_kpi).to_contain_text(REVISED_TARGET)
    decide(emp, "I agree to this scorecard")
    expect_on_case_page(emp, case_url, "“Review scorecard” completed.")
    assert_emp1_never_offered_design(emp)
    sign_out(emp)
    emp.context.close()

    # 4. The countersigning officer approves.
    cso = new_page()
    sign_in(cso, "cso1")
    open_task(cso, "Countersign scorecard")
    expect(cso.get_by_text("The employee agreed to this scorecard")).to_be_visible()
    decide(cso, "Approve the scorecard")
    expect_on_case_page(cso, case_url, "“Countersign scorecard” completed.")
    expect(cso.get_by_test_id("case-status")).to_have_text("Completed")
    sign_out(cso)
    cso.context.close()

    # 5. HR and the employee see the finished case.
    for username in ("emp1", "hr1"):
        page = new_page()
        sign_in(page, username)
        if username == "emp1":
            assert_emp1_never_offered_design(page)
        page.goto(case_url)
        expect_completed_case(page)
        if username == "hr1":
            # Let late fetches (the case diagram, where one is built) settle: not an assertion.
            page.wait_for_load_state("networkidle")
            page.screenshot(path=artifacts_dir / "case-page.png", full_page=True)
        sign_out(page)
        page.context.close()


def expect_completed_case(page: Page) -> None:
    expect(page.get_by_test_id("case-status")).to_have_text("Completed")
    expect(page.get_by_test_id("current-tasks")).to_have_text(
        "No open steps: the case is complete."
    )

    scorecard = page.get_by_test_id("scorecard")
    rows = scorecard.locator("tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(0).get_by_role("cell")).to_have_text(
        [KPIS[0][0], "Quantity", "children", REVISED_TARGET, "40%"]
    )
    expect(rows.nth(1).get_by_role("cell")).to_have_text([KPIS[1][0], "Quantity", "%", "95", "25%"])
    expect(rows.nth(2).get_by_role("cell")).to_have_text([KPIS[2][0], "Quality", "%", "90", "35%"])
    expect(scorecard).not_to_contain_text("12000")
    expect(scorecard.locator("tfoot")).to_contain_text("100%")
    expect(page.get_by_text("Agreed by the employee and countersigned.")).to_be_visible()

    timeline = page.get_by_test_id("timeline")

    def completions(task: str) -> Locator:
        return timeline.locator("li").filter(has_text=f"completed “{task}”").locator(".actor")

    expect(timeline.locator("li").filter(has_text="started")).to_contain_text("Sana Afridi (hr1)")
    expect(completions("Design scorecard")).to_have_text(
        ["Imran Khattak (ro1)", "Imran Khattak (ro1)"]
    )
    expect(completions("Review scorecard")).to_have_text(
        ["Ayesha Khan (emp1)", "Ayesha Khan (emp1)"]
    )
    expect(completions("Countersign scorecard")).to_have_text(["Farah Qureshi (cso1)"])
    expect(timeline).to_contain_text(f"comment: “{RETURN_COMMENT}”")
    expect(timeline).to_contain_text(f"“{KPIS[0][0]}” target 12000 → {REVISED_TARGET}")
    expect(timeline).to_contain_text("sent it back")
    expect(timeline.locator("li").last).to_contain_text("case completed")
