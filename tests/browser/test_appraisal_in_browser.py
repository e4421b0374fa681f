"""The end of the year in a real browser: the employee reads the interview record and the score
breakdown and signs; HR calibrates the department; the department head sees the breakdown and
the proposed incentive and approves it."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from app.models import User
from tests.appraisal_helpers import (
    ON_TARGET,
    agree_goals,
    interview,
    start,
    through_the_months,
)
from tests.browser.test_goal_setting_in_browser import open_task, sign_in

pytestmark = pytest.mark.browser


pytestmark = pytest.mark.usefixtures("year_clock")  # 5 January of the year (tests/conftest.py)


def test_interview_sign_off_calibration_and_incentive_approval_in_the_browser(
    org: dict[str, User], new_page: Callable[[], Page]
) -> None:
    case = start(org, incentive_threshold_amount=50000)
    agree_goals(org, case)
    through_the_months(org, case, ON_TARGET)
    interview(org, case, ON_TARGET, sign=False)

    employee = new_page()
    sign_in(employee, "emp1")
    open_task(employee, "Sign off appraisal")
    expect(employee.get_by_test_id("interview-record")).to_contain_text("DHO office, Peshawar")
    expect(employee.get_by_test_id("score")).to_have_text("100")
    expect(employee.get_by_test_id("rating-band")).to_have_text("Outstanding")
    employee.get_by_label("I dispute the assessment").check()
    employee.get_by_role("button", name="Submit").click()
    expect(employee.get_by_text("Give your reasons: a dispute needs them.")).to_be_visible()
    employee.get_by_label("I sign the appraisal").check()
    employee.get_by_label("Your comments").fill("A fair record of the year.")
    employee.get_by_role("button", name="Submit").click()
    expect(employee).to_have_url(re.compile(rf"/cases/{case.id}$"))

    hr = new_page()
    sign_in(hr, "hr1")
    hr.goto("/calibration")
    hr.get_by_test_id("calibrations").get_by_role("link", name="Open").click()
    expect(hr.get_by_test_id("distribution")).to_contain_text("Outstanding")
    hr.get_by_role("button", name="Open calibration").click()
    hr.get_by_role("button", name="Finalise these ratings").click()
    expect(hr.get_by_text("the calibration is closed")).to_be_visible()

    head = new_page()
    sign_in(head, "cso1")
    open_task(head, "Approve incentive (department head)")
    expect(head.get_by_test_id("score-breakdown")).to_contain_text("Children fully immunised")
    expect(head.get_by_test_id("incentive-amount")).to_have_text("PKR 28,400")
    head.get_by_label("Return it to HR").check()
    head.get_by_role("button", name="Submit").click()
    expect(head.get_by_text("Say why you return it: a reason is required.")).to_be_visible()
    head.get_by_label("Approve the incentive").check()
    head.get_by_role("button", name="Submit").click()
    expect(head).to_have_url(re.compile(rf"/cases/{case.id}$"))
    expect(head.get_by_test_id("case-status")).to_contain_text("Completed")
    expect(head.get_by_test_id("incentive-status")).to_have_text("approved")
    expect(head.get_by_test_id("kpi-progress")).to_be_visible()
