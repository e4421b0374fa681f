"""Delegating a countersignature in a real browser: the countersigning officer delegates it to a
colleague with a note, the colleague finds it in their queue and approves it, and the case's
timeline records the approval "on behalf of" the officer."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from app.models import User
from app.services.demo import DEMO_PASSWORD
from tests.queue_helpers import to_countersign

pytestmark = pytest.mark.browser

NOTE = "I am at the provincial review all week; please clear this one."


def sign_in(page: Page, username: str) -> None:
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("current-user")).to_contain_text(f"({username})")


def open_queue(page: Page) -> None:
    page.get_by_role("navigation").get_by_role("link", name="Queue").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Queue")


def test_delegate_a_task_and_the_delegate_completes_it_on_behalf(
    org: dict[str, User], new_page: Callable[[], Page]
) -> None:
    task = to_countersign(org)

    cso = new_page()
    sign_in(cso, "cso1")
    open_queue(cso)
    row = cso.get_by_test_id("queue").get_by_role("row").filter(has_text="Ayesha Khan")
    expect(row).to_contain_text("Countersign scorecard")
    row.get_by_role("link", name="Countersign scorecard").click()
    cso.get_by_role("link", name="Delegate…").click()
    picker = cso.get_by_label("Delegate to")
    picker.fill("Nadi")  # names are suggested as one types
    expect(cso.locator("#delegate-people option")).to_have_count(1)
    picker.fill(cso.locator("#delegate-people option").get_attribute("value"))  # picked
    cso.get_by_label("Note for your colleague").fill(NOTE)
    cso.get_by_role("button", name="Delegate").click()
    expect(cso.get_by_role("status")).to_have_text("“Countersign scorecard” delegated.")
    expect(cso.get_by_test_id("queue-empty")).to_be_visible()
    held = cso.get_by_test_id("delegated-by-me")
    expect(held).to_contain_text("Nadia Shah (owner1)")
    expect(held).to_contain_text(NOTE)
    cso.context.close()

    owner = new_page()
    sign_in(owner, "owner1")
    open_queue(owner)
    row = owner.get_by_test_id("queue").get_by_role("row").filter(has_text="Ayesha Khan")
    expect(row.get_by_test_id("on-behalf")).to_have_text("for Farah Qureshi (delegated)")
    row.get_by_role("link", name="Countersign scorecard").click()
    expect(owner.get_by_test_id("acting-for")).to_contain_text(
        "You are acting for Farah Qureshi (cso1)")
    expect(owner.get_by_test_id("acting-for")).to_contain_text(NOTE)
    owner.get_by_role("radio", name="Approve the scorecard").check()
    owner.get_by_role("button", name="Submit").click()
    expect(owner).to_have_url(re.compile(rf"/cases/{task.case_id}$"))
    expect(owner.get_by_test_id("case-status")).to_have_text("Completed")
    approval = owner.get_by_test_id("timeline").locator("li").filter(
        has_text="completed “Countersign scorecard”")
    expect(approval.locator(".actor")).to_have_text("Nadia Shah (owner1)")
    expect(approval.get_by_test_id("on-behalf-of")).to_have_text(
        "on behalf of Farah Qureshi (cso1)")
    delegated = owner.get_by_test_id("timeline").locator("li").filter(has_text="delegated")
    expect(delegated).to_contain_text("Farah Qureshi (cso1)")
    expect(delegated).to_contain_text("to Nadia Shah (owner1)")
