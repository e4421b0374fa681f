"""Urdu in a real browser: an officer switches the interface to Urdu from the header, the page
turns right to left (the nav bar and tables mirrored, Urdu labels), and the choice survives a
reload, signing out and in again, and a different browser."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from app.models import User
from app.services.demo import DEMO_PASSWORD

pytestmark = pytest.mark.browser

MY_TASKS_UR = "میرے کام"
QUEUE_UR = "قطار"


def sign_in(page: Page, username: str, labels: tuple[str, str, str]) -> None:
    user_label, password_label, button = labels
    page.goto("/login")
    page.get_by_label(user_label).fill(username)
    page.get_by_label(password_label).fill(DEMO_PASSWORD)
    page.get_by_role("button", name=button, exact=True).click()
    expect(page.get_by_test_id("current-user")).to_contain_text(f"({username})")


ENGLISH_SIGN_IN = ("Username", "Password", "Sign in")
URDU_SIGN_IN = ("صارف نام", "پاس ورڈ", "سائن اِن")


def computed_direction(page: Page, selector: str) -> str:
    return page.eval_on_selector(selector, "element => getComputedStyle(element).direction")


def expect_urdu(page: Page) -> None:
    html = page.locator("html")
    expect(html).to_have_attribute("dir", "rtl")
    expect(html).to_have_attribute("lang", "ur")
    assert computed_direction(page, "body") == "rtl"
    assert computed_direction(page, "header.topbar nav") == "rtl"
    expect(page.get_by_role("navigation").get_by_role("link", name=MY_TASKS_UR)).to_be_visible()


def test_an_officer_switches_to_urdu_and_it_stays_urdu(
    org: dict[str, User], new_page: Callable[[], Page], artifacts_dir: Path
) -> None:
    page = new_page()
    sign_in(page, "ro1", ENGLISH_SIGN_IN)
    expect(page.locator("html")).to_have_attribute("dir", "ltr")
    nav = page.get_by_role("navigation")
    english_first = nav.get_by_role("link", name="My tasks").bounding_box()
    english_second = nav.get_by_role("link", name="Queue").bounding_box()
    assert english_first["x"] < english_second["x"]  # left to right

    page.get_by_test_id("language-switch").get_by_role("button", name="اردو").click()
    expect_urdu(page)
    expect(page.get_by_role("heading", level=1)).to_have_text(MY_TASKS_UR)
    # Mirrored: the first nav link now sits to the right of the second, the brand on the right.
    first = nav.get_by_role("link", name=MY_TASKS_UR).bounding_box()
    second = nav.get_by_role("link", name=QUEUE_UR).bounding_box()
    brand = page.locator("a.brand").bounding_box()
    assert first["x"] > second["x"]
    assert brand["x"] > first["x"]
    page.screenshot(path=str(artifacts_dir / "urdu-my-tasks.png"), full_page=True)

    page.reload()
    expect_urdu(page)

    # Signing out keeps Urdu on this browser (cookie); signing in again with Urdu labels.
    page.get_by_role("button", name="سائن آؤٹ").click()
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.get_by_role("heading", level=1)).to_have_text("میزان میں سائن اِن کریں")
    sign_in(page, "ro1", URDU_SIGN_IN)
    expect_urdu(page)

    # Another browser (no cookie, English Accept-Language): the account remembers Urdu.
    other = new_page()
    sign_in(other, "ro1", ENGLISH_SIGN_IN)
    expect_urdu(other)
    other.get_by_test_id("language-switch").get_by_role("button", name="English").click()
    expect(other.locator("html")).to_have_attribute("dir", "ltr")
    expect(other.get_by_role("navigation").get_by_role("link", name="My tasks")).to_be_visible()
