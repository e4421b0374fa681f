"""Two people completing the same task at the same moment: exactly one wins.

Runs on PostgreSQL only (row locks are real there); the README's test command runs the suite on
PostgreSQL as well as SQLite.
"""

from __future__ import annotations

import threading

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, AuditEventType, Case, HumanTask, TaskStatus, User
from app.services import cases, tasks
from app.services.errors import TaskAlreadyCompleted
from forms import formdata_from_json
from tests.conftest import employee_of
from tests.helpers import good_scorecard


@pytest.fixture(autouse=True)
def _postgres_only(is_postgres: bool) -> None:
    if not is_postgres:
        pytest.skip("row-lock races are tested on PostgreSQL (MEEZAN_TEST_DATABASE_URL)")


def _race(app: Flask, user_id: int, task_id: int, data: dict, racers: int) -> list[str]:
    barrier = threading.Barrier(racers)
    outcomes: list[str] = []
    lock = threading.Lock()

    def racer() -> None:
        with app.app_context():
            user = db.session.get(User, user_id)
            barrier.wait()
            try:
                tasks.complete_task(user, task_id, formdata_from_json(data))
                outcome = "won"
            except TaskAlreadyCompleted:
                outcome = "already completed"
            except Exception as exc:  # noqa: BLE001 - reported in the assertion
                outcome = f"error: {exc!r}"
            finally:
                db.session.remove()
            with lock:
                outcomes.append(outcome)

    threads = [threading.Thread(target=racer) for _ in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


@pytest.mark.parametrize("racers", [2, 8])
def test_exactly_one_of_many_simultaneous_completions_wins(app, org, racers: int) -> None:
    case = cases.start_case("goal_setting", employee_of(org["emp1"]).id, org["hr1"])
    task = db.session.scalar(select(HumanTask).where(HumanTask.case_id == case.id))
    outcomes = _race(app, org["ro1"].id, task.id, {"kpis": good_scorecard()}, racers)
    assert sorted(outcomes) == ["already completed"] * (racers - 1) + ["won"]

    db.session.expire_all()
    rows = db.session.scalars(select(HumanTask).where(HumanTask.case_id == case.id)).all()
    assert [(t.task_name, t.status) for t in rows] == [
        ("design_scorecard", TaskStatus.COMPLETED), ("review_scorecard", TaskStatus.OPEN)]
    completions = db.session.scalar(select(func.count(AuditEvent.id)).where(
        AuditEvent.event_type == AuditEventType.TASK_COMPLETED))
    assert completions == 1
    assert db.session.get(Case, case.id).lock_version == 2


def test_the_api_answers_409_to_the_loser(app, org) -> None:
    case = cases.start_case("goal_setting", employee_of(org["emp1"]).id, org["hr1"])
    task_id = db.session.scalar(select(HumanTask.id).where(HumanTask.case_id == case.id))
    client = app.test_client()
    token = client.post("/api/v1/tokens", json={"username": "ro1", "password": "meezan-demo"})
    headers = {"Authorization": f"Bearer {token.json['token']}"}
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def post() -> None:
        barrier.wait()
        response = app.test_client().post(f"/api/v1/tasks/{task_id}/complete",
                                          json={"data": {"kpis": good_scorecard()}},
                                          headers=headers)
        statuses.append(response.status_code)

    threads = [threading.Thread(target=post) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(statuses) == [200, 409]
