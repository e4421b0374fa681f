"""A process owner adds a step in the browser modeler and deploys it: a case started afterwards
reaches the new step, a case already running does not.

The diagram is edited through bpmn-js's own API (the modeler instance is exposed to tests only),
the form and due date through the properties panel, and save, validate and deploy through the
page's real buttons.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from app.extensions import db
from app.models import Case, TaskStatus, User
from app.services import cases, process_models, tasks
from app.services.demo import DEMO_PASSWORD
from forms import formdata_from_json
from forms.registry import FORM_REGISTRY
from tests.conftest import employee_of
from tests.helpers import good_scorecard

pytestmark = pytest.mark.browser

ADD_CHECK_STEP = """() => {
  const modeler = window.meezanModeler;
  const registry = modeler.get('elementRegistry');
  const modeling = modeler.get('modeling');
  const factory = modeler.get('elementFactory');
  const participant = registry.get('Participant_goal_setting');
  const shape = modeling.createShape(
    factory.createShape({ type: 'bpmn:UserTask' }), { x: 620, y: 267 }, participant);
  modeling.updateProperties(shape, { id: 'check_scorecard', name: 'Check scorecard' });
  modeling.reconnectEnd(registry.get('flow_design_to_review'), shape,
    { x: shape.x, y: shape.y + shape.height / 2 });
  modeling.connect(shape, registry.get('review_scorecard'));
  modeler.get('selection').select(shape);
  return shape.businessObject.$parent.laneSets[0].lanes
    .filter((lane) => (lane.flowNodeRef || []).some((node) => node.id === 'check_scorecard'))
    .map((lane) => lane.name);
}"""


def sign_in(page: Page, username: str) -> None:
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("current-user")).to_contain_text(f"({username})")


def _design(org: dict[str, User], case_id: int) -> list[str]:
    """The reporting officer designs the scorecard; returns the case's open steps after."""
    db.session.expire_all()
    [task] = [t for t in db.session.get(Case, case_id).tasks if t.status == TaskStatus.OPEN]
    tasks.complete_task(org["ro1"], task.id, formdata_from_json({"kpis": good_scorecard()}))
    db.session.expire_all()
    return [t.task_name for t in db.session.get(Case, case_id).tasks
            if t.status == TaskStatus.OPEN]


def test_owner_adds_a_step_in_the_modeler_and_only_new_cases_reach_it(
    org: dict[str, User], new_page: Callable[[], Page], artifacts_dir: Path
) -> None:
    old_case = cases.start_case("goal_setting", employee_of(org["emp1"]).id, org["hr1"])

    owner = new_page()
    console_errors: list[str] = []  # script errors and CSP violations; not the favicon's 404
    owner.on("pageerror", lambda error: console_errors.append(str(error)))
    owner.on("console", lambda m: console_errors.append(m.text)
             if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
    sign_in(owner, "owner1")
    owner.get_by_role("navigation").get_by_role("link", name="Processes").click()
    owner.get_by_test_id("process-list").get_by_role("row").filter(
        has_text="Goal setting").get_by_role("link", name="Edit diagram").click()
    expect(owner).to_have_url(re.compile(r"/processes/goal_setting/modeler$"))
    status = owner.get_by_test_id("modeler-status")
    expect(status).to_have_text("Loaded")
    expect(owner.locator(".djs-element[data-element-id='design_scorecard']")).to_be_visible()

    # Add "Check scorecard" between design and review, in the reporting officer's lane.
    lanes = owner.evaluate(ADD_CHECK_STEP)
    assert lanes == ["reporting_officer"]
    expect(status).to_have_text("Unsaved changes")

    # Validate before choosing a form: the problem is shown on the new element.
    owner.get_by_role("button", name="Validate").click()
    expect(status).to_contain_text("1 problem(s) to fix")
    problems = owner.get_by_test_id("modeler-problems")
    expect(problems).to_contain_text("check_scorecard")
    expect(problems).to_contain_text("names form None")
    expect(owner.locator(".meezan-problem[data-element-id='check_scorecard']")).to_be_visible()
    expect(owner.locator(".djs-element.meezan-error[data-element-id='check_scorecard']")
           ).to_have_count(1)
    owner.screenshot(path=artifacts_dir / "modeler-problems.png")

    # Choose the form and the due date in the properties panel.
    panel = owner.get_by_test_id("modeler-properties")
    expect(panel).to_contain_text("Check scorecard")
    form_select = panel.get_by_label("Form", exact=True)
    # a prompt and every form the app knows
    expect(form_select.locator("option")).to_have_count(len(FORM_REGISTRY) + 1)
    form_select.select_option("scorecard_approval")
    due = panel.get_by_label("Due in days")
    due.fill("3")
    due.press("Tab")
    owner.get_by_role("button", name="Validate").click()
    expect(status).to_have_text("Draft saved and valid: ready to deploy")
    expect(owner.locator(".meezan-problem")).to_have_count(0)
    owner.screenshot(path=artifacts_dir / "modeler.png")

    # Deploy: the impact shows the running case on v1, at its step.
    owner.get_by_role("link", name="Deploy…").click()
    expect(owner.get_by_test_id("impact")).to_contain_text("1 running case")
    expect(owner.get_by_test_id("impact-steps")).to_contain_text("Design scorecard")
    expect(owner.get_by_test_id("draft-validation")).to_contain_text("The draft is valid.")
    expect(owner.get_by_test_id("draft-changes")).to_contain_text("check_scorecard")
    owner.get_by_label("What changed, and why").fill("The officer checks the design first")
    owner.get_by_role("button", name="Deploy as version 2").click()
    expect(owner.get_by_role("status")).to_have_text("Version 2 of Goal setting deployed.")
    versions = owner.get_by_test_id("versions")
    expect(versions.locator("tr[data-version='2']")).to_contain_text(
        "The officer checks the design first")
    expect(versions.locator("tr[data-version='2']")).to_contain_text("Nadia Shah (owner1)")
    assert console_errors == []

    version = process_models.current_version("goal_setting")
    parsed = process_models.parsed_version(version)
    assert {t["id"]: (t["lane"], t["form_key"], t["due_in_days"]) for t in parsed.user_tasks}[
        "check_scorecard"] == ("reporting_officer", "scorecard_approval", "3")

    # A new case reaches the new step; the old one, pinned to v1, does not.
    new_case = cases.start_case("goal_setting", employee_of(org["emp2"]).id, org["hr1"])
    assert new_case.process_version.version == 2
    assert _design(org, new_case.id) == ["check_scorecard"]
    assert _design(org, old_case.id) == ["review_scorecard"]

    hr = new_page()
    sign_in(hr, "hr1")
    hr.goto(f"/cases/{new_case.id}")
    expect(hr.get_by_test_id("current-tasks")).to_contain_text(
        "Check scorecard — Imran Khattak (ro1)")
    diagram = hr.get_by_test_id("case-diagram")
    expect(diagram).to_have_attribute("data-state", "ready")
    expect(diagram).to_have_attribute("data-current", "check_scorecard")
    expect(hr.locator(".djs-element.meezan-current[data-element-id='check_scorecard']")
           ).to_have_count(1)
    expect(hr.locator(".djs-element.meezan-completed[data-element-id='design_scorecard']")
           ).to_have_count(1)
    hr.screenshot(path=artifacts_dir / "case-diagram.png", full_page=True)

    hr.goto(f"/cases/{old_case.id}")
    expect(hr.get_by_test_id("current-tasks")).to_contain_text("Review scorecard")
    expect(diagram).to_have_attribute("data-state", "ready")
    expect(diagram).to_have_attribute("data-current", "review_scorecard")
    expect(hr.locator(".djs-element[data-element-id='check_scorecard']")).to_have_count(0)
