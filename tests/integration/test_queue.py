"""The approver's queue: filters, sorting, pagination, claim from the page, and bulk approval
where each item is completed on its own."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.clock import clock
from app.extensions import db
from app.models import AuditEvent, AuditEventType, HumanTask, TaskStatus, User
from app.services import cases, queues, tasks
from app.services.errors import ValidationFailed
from app.services.queues import QueueFilters
from forms import formdata_from_json
from tests import appraisal_helpers as appraisal
from tests.helpers import csrf_token, login
from tests.queue_helpers import (
    add_person,
    deploy_hr_pool,
    open_task,
    start_goal_setting,
    to_countersign,
)

NOW = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_clock() -> Iterator[None]:
    clock.freeze(NOW)
    yield
    clock.reset()


@pytest.fixture
def three_countersignatures(org: dict[str, User]) -> list[HumanTask]:
    """cso1 holds three countersignatures, for emp1, emp2 and a third employee."""
    add_person("emp3", "Chanda Bibi", unit_of="emp1")
    emp3 = db.session.scalar(select(User).where(User.username == "emp3")).employee
    emp3.reporting_officer_id = org["emp1"].employee.reporting_officer_id
    emp3.countersigning_officer_id = org["emp1"].employee.countersigning_officer_id
    db.session.commit()
    org["emp3"] = db.session.scalar(select(User).where(User.username == "emp3"))
    made = []
    for index, employee in enumerate(("emp1", "emp2", "emp3")):
        made.append(to_countersign(org, employee))
        clock.advance(timedelta(days=1 + index))
    return made


def _ids(page: queues.QueuePage) -> list[int]:
    return [t.id for t in page.items]


def test_the_queue_lists_only_tasks_the_user_may_act_on(org, three_countersignatures) -> None:
    page = queues.queue_page(org["cso1"], QueueFilters())
    assert sorted(_ids(page)) == sorted(t.id for t in three_countersignatures)
    assert queues.queue_page(org["owner1"], QueueFilters()).total == 0


def test_the_queue_pages_through_large_queues(org, three_countersignatures) -> None:
    first = queues.queue_page(org["cso1"], QueueFilters(per_page=2, page=1))
    second = queues.queue_page(org["cso1"], QueueFilters(per_page=2, page=2))
    assert (first.total, first.pages, len(first.items), len(second.items)) == (3, 2, 2, 1)
    assert set(_ids(first)).isdisjoint(_ids(second))


def test_the_queue_sorts_by_due_date_either_way(org, three_countersignatures) -> None:
    soonest = _ids(queues.queue_page(org["cso1"], QueueFilters(sort="due")))
    latest = _ids(queues.queue_page(org["cso1"], QueueFilters(sort="-due")))
    assert soonest == [t.id for t in three_countersignatures] and latest == soonest[::-1]


def test_the_overdue_filter_uses_the_app_clock(org, three_countersignatures) -> None:
    first_due = db.session.get(HumanTask, three_countersignatures[0].id).due_at
    clock.freeze(first_due.replace(tzinfo=UTC) + timedelta(hours=1))
    overdue = queues.queue_page(org["cso1"], QueueFilters(overdue=True))
    assert _ids(overdue) == [three_countersignatures[0].id]


def test_the_due_before_filter(org, three_countersignatures) -> None:
    second_due = db.session.get(HumanTask, three_countersignatures[1].id).due_at
    page = queues.queue_page(org["cso1"], QueueFilters(due_before=second_due.replace(
        tzinfo=UTC) + timedelta(minutes=1)))
    assert _ids(page) == [t.id for t in three_countersignatures[:2]]


def test_the_process_step_and_unit_filters(org, three_countersignatures) -> None:
    deploy_hr_pool(org)
    cso = org["cso1"]
    assert queues.queue_page(cso, QueueFilters(process="goal_setting")).total == 3
    assert queues.queue_page(cso, QueueFilters(process="hr_pool_fixture")).total == 0
    assert queues.queue_page(cso, QueueFilters(step="countersign_scorecard")).total == 3
    assert queues.queue_page(cso, QueueFilters(step="design_scorecard")).total == 0
    district = org["emp1"].employee.org_unit_id
    province = org["cso1"].employee.org_unit_id
    assert queues.queue_page(cso, QueueFilters(unit_id=district)).total == 3
    assert queues.queue_page(cso, QueueFilters(unit_id=province)).total == 3  # units below
    other = queues.queue_page(org["ro1"], QueueFilters(unit_id=district))
    assert other.total == 0


def test_query_string_filters_are_read_leniently() -> None:
    filters = QueueFilters.from_args({"page": "x", "per_page": "100000", "sort": "drop table",
                                      "overdue": "1", "due_before": "2026-09-10"})
    assert (filters.page, filters.per_page, filters.sort, filters.overdue) == (1, 200, "due", True)
    assert filters.due_before == datetime(2026, 9, 11, tzinfo=UTC)


# -- bulk approval ------------------------------------------------------------------------------


def test_bulk_approval_completes_each_item_separately_and_one_bad_item_fails_alone(
    org, three_countersignatures
) -> None:
    good_a, bad, good_b = three_countersignatures
    # The bad item: someone else completes it first (a stale queue page).
    tasks.complete_task(org["cso1"], bad.id,
                        formdata_from_json({"decision": "approve", "comment": ""}))
    result = queues.bulk_complete(org["cso1"], [good_a.id, bad.id, good_b.id], "approve", "")
    assert [(o.task_id, o.ok) for o in result.outcomes] == [
        (good_a.id, True), (bad.id, False), (good_b.id, True)]
    assert "already" in result.outcomes[1].message
    db.session.expire_all()
    for task in (good_a, good_b):
        assert db.session.get(HumanTask, task.id).status == TaskStatus.COMPLETED
        event = db.session.scalars(select(AuditEvent).where(
            AuditEvent.human_task_id == task.id,
            AuditEvent.event_type == AuditEventType.TASK_COMPLETED)).one()
        assert event.details["bulk"] == "approve"
        assert event.details["changes"]["countersign_decision"]["after"] == "approve"


def test_bulk_return_sends_each_back_with_the_one_comment(org, three_countersignatures) -> None:
    ids = [t.id for t in three_countersignatures]
    result = queues.bulk_complete(org["cso1"], ids, "return", "KPIs need baselines")
    assert result.succeeded == 3
    for task in three_countersignatures:
        design = open_task(task.case_id, "design_scorecard")
        assert design.assignee_id == org["ro1"].id
    comments = db.session.scalars(select(AuditEvent.details).where(
        AuditEvent.event_type == AuditEventType.TASK_COMPLETED,
        AuditEvent.human_task_id.in_(ids))).all()
    assert {c["changes"]["countersign_comment"]["after"] for c in comments} == {
        "KPIs need baselines"}


def test_bulk_return_needs_a_comment(org, three_countersignatures) -> None:
    with pytest.raises(ValidationFailed):
        queues.bulk_complete(org["cso1"], [three_countersignatures[0].id], "return", " ")


def test_bulk_actions_are_refused_for_forms_without_a_bulk_meaning(org) -> None:
    case = start_goal_setting(org)
    design = open_task(case.id, "design_scorecard")
    result = queues.bulk_complete(org["ro1"], [design.id], "approve", "")
    assert not result.outcomes[0].ok and "cannot be approved in bulk" in result.outcomes[0].message
    assert not queues.supports_bulk("scorecard_design")
    assert queues.supports_bulk("scorecard_approval") and queues.supports_bulk("scorecard_review")


def test_bulk_approval_of_someone_elses_task_fails_for_that_item(org, three_countersignatures
                                                                ) -> None:
    result = queues.bulk_complete(org["owner1"], [three_countersignatures[0].id], "approve", "")
    assert not result.outcomes[0].ok
    assert db.session.scalar(select(func.count(AuditEvent.id)).where(
        AuditEvent.event_type == AuditEventType.TASK_COMPLETED,
        AuditEvent.actor_id == org["owner1"].id)) == 0


# -- web and API ----------------------------------------------------------------------------------


def test_the_queue_page_shows_filters_and_bulk_controls(client: FlaskClient, org,
                                                        three_countersignatures) -> None:
    login(client, "cso1")
    page = client.get("/queue?sort=-due&per_page=2").get_data(as_text=True)
    assert 'data-testid="queue-total">3 open tasks' in page
    assert page.count('name="task_ids"') == 2
    assert "Page 1 of 2" in page and "Approve selected" in page


def test_bulk_approve_through_the_web_reports_each_item(client: FlaskClient, org,
                                                        three_countersignatures) -> None:
    login(client, "cso1")
    token = csrf_token(client, "/queue")
    ids = [str(t.id) for t in three_countersignatures]
    response = client.post("/queue/bulk", data={"csrf_token": token, "task_ids": ids,
                                                "action": "approve", "comment": ""})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "3 done, 0 not done" in body


def test_bulk_without_a_csrf_token_is_refused(client: FlaskClient, org,
                                             three_countersignatures) -> None:
    login(client, "cso1")
    response = client.post("/queue/bulk", data={"task_ids": [str(three_countersignatures[0].id)],
                                                "action": "approve"})
    assert response.status_code == 400
    assert db.session.get(HumanTask, three_countersignatures[0].id).status == TaskStatus.OPEN


def test_claim_from_the_queue_page(client: FlaskClient, org) -> None:
    deploy_hr_pool(org)
    case = cases.start_case("hr_pool_fixture", org["emp1"].employee.id, org["admin"])
    task = open_task(case.id)
    login(client, "hr1")
    page = client.get("/queue").get_data(as_text=True)
    assert f'formaction="/tasks/{task.id}/claim"' in page
    token = csrf_token(client, "/queue")
    response = client.post(f"/tasks/{task.id}/claim", data={"csrf_token": token})
    assert response.status_code == 302
    assert open_task(case.id).assignee_id == org["hr1"].id


def test_the_delegate_page_delegates_and_the_case_shows_on_behalf_of(client: FlaskClient, org
                                                                    ) -> None:
    task = to_countersign(org)
    login(client, "cso1")
    token = csrf_token(client, f"/tasks/{task.id}/delegate")
    response = client.post(f"/tasks/{task.id}/delegate", data={
        "csrf_token": token, "delegate": "owner1", "note": "Cover for me"})  # typed
    assert response.status_code == 302
    client.post("/logout", data={"csrf_token": csrf_token(client, "/tasks")})
    login(client, "owner1")
    form = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert "You are acting for Farah Qureshi (cso1)" in form
    token = csrf_token(client, f"/tasks/{task.id}")
    client.post(f"/tasks/{task.id}", data={"csrf_token": token, "decision": "approve"})
    case_page = client.get(f"/cases/{task.case_id}").get_data(as_text=True)
    assert re.search(r"Nadia Shah \(owner1\)</span>\s*<span class=\"behalf\"[^>]*>on behalf of "
                     r"Farah Qureshi \(cso1\)", case_page), case_page


def test_the_api_lists_a_page_of_the_queue_with_totals(client: FlaskClient, org,
                                                       three_countersignatures) -> None:
    token = client.post("/api/v1/tokens", json={"username": "cso1",
                                                "password": "meezan-demo"}).json["token"]
    headers = {"Authorization": f"Bearer {token}"}
    body = client.get("/api/v1/tasks?per_page=2&page=2&sort=due", headers=headers).json
    assert (body["total"], body["pages"], body["page"]) == (3, 2, 2)
    assert [t["id"] for t in body["tasks"]] == [three_countersignatures[2].id]
    assert body["tasks"][0]["owner"] == "cso1"


def test_the_api_bulk_endpoint_reports_each_outcome(client: FlaskClient, org,
                                                    three_countersignatures) -> None:
    token = client.post("/api/v1/tokens", json={"username": "cso1",
                                                "password": "meezan-demo"}).json["token"]
    ids = [t.id for t in three_countersignatures] + [999999]
    body = client.post("/api/v1/tasks/bulk", json={"task_ids": ids, "action": "approve"},
                       headers={"Authorization": f"Bearer {token}"}).json
    assert (body["succeeded"], body["failed"]) == (3, 1)
    assert body["results"][-1] == {"task_id": 999999, "ok": False, "message": "No task 999999."}


def test_the_api_delegates_by_username(client: FlaskClient, org) -> None:
    task = to_countersign(org)
    token = client.post("/api/v1/tokens", json={"username": "cso1",
                                                "password": "meezan-demo"}).json["token"]
    response = client.post(f"/api/v1/tasks/{task.id}/delegate",
                           json={"to": "owner1", "note": "cover"},
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert (response.json["task"]["assignee"], response.json["task"]["owner"]) == (
        "owner1", "cso1")
    refused = client.post(f"/api/v1/tasks/{task.id}/delegate", json={"to": "emp1", "note": "x"},
                          headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 422 and "cannot go to" in refused.json["error"]


def test_the_process_filter_finds_steps_of_called_processes(client: FlaskClient, org) -> None:
    """Goal setting runs on its own and as a call activity inside the annual appraisal: the
    filter by Goal setting lists its steps in both; by Annual appraisal, every step of an
    appraisal case (those of the processes it calls too); both are offered as choices."""
    alone = open_task(start_goal_setting(org, "emp1").id)
    inside = appraisal.open_task(appraisal.start(org, "emp2"), "design_scorecard")
    assert (alone.process_key, inside.process_key) == ("goal_setting", "goal_setting")
    ro1 = org["ro1"]

    def listed(process: str) -> list[int]:
        return sorted(_ids(queues.queue_page(ro1, QueueFilters(process=process))))

    assert listed("goal_setting") == sorted([alone.id, inside.id])
    assert listed("annual_appraisal") == [inside.id]
    assert listed("monthly_actuals") == []
    choices = dict(queues.filter_choices()["processes"])
    assert {"goal_setting", "annual_appraisal", "monthly_actuals"} <= set(choices)
    login(client, "ro1")
    page = client.get("/queue?process=goal_setting").get_data(as_text=True)
    assert "Annual appraisal › Goal setting" in page
