"""The dashboard in a real browser: HR opens it from the nav, Chart.js draws every chart from
the data the page carries (no inline script: the CSP would block it), and a district's row
drills down to its staff and on to an employee's case."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_goal_setting_in_browser import sign_in
from tests.integration.test_dashboards import health  # noqa: F401 - the fixture

pytestmark = pytest.mark.browser

PAINTED = """canvas => {
  const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
  let painted = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i] > 0) painted++;
  return painted;
}"""


def test_hr_sees_the_charts_drawn_and_drills_down_to_a_case(
        new_page: Callable[[], Page], health, artifacts_dir: Path) -> None:  # noqa: F811
    page = new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))  # a script that failed
    sign_in(page, "hr1")
    page.get_by_role("link", name="Dashboards").click()
    page.get_by_role("link", name="Performance year 2026").click()
    page.get_by_role("link", name="Health Department, Khyber Pakhtunkhwa").click()
    expect(page.get_by_test_id("summary-achievement")).to_have_text("80.0%")
    for chart in ("stages", "ratings", "units", "trend"):
        canvas = page.get_by_test_id(f"chart-{chart}")
        expect(canvas).to_have_attribute("data-state", "drawn")
        assert canvas.evaluate(PAINTED) > 500, f"the {chart} chart drew nothing"
    page.screenshot(path=str(artifacts_dir / "dashboard-department.png"), full_page=True)
    assert errors == []

    page.get_by_role("link", name="District Health Office Peshawar").click()
    staff = page.get_by_test_id("table-employees")
    expect(staff).to_contain_text("Ayesha Khan")
    expect(staff).to_contain_text("Bilal Ahmed")
    staff.get_by_role("link").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Ayesha Khan")
