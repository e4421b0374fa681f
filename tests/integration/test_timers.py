"""BPMN timers driven by the app clock and fired by the worker exactly once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.clock import clock
from app.extensions import db
from app.models import AuditEvent, AuditEventType, Case, HumanTask, TaskStatus
from app.services import cases, process_models, timers
from tests.conftest import employee_of

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "timers" / "reminder_then_escalation.bpmn"
START = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_clock() -> Iterator[None]:
    clock.freeze(START)
    yield
    clock.reset()


@pytest.fixture
def case(org) -> Case:  # noqa: ANN001
    process_models.deploy(FIXTURE.read_bytes(), FIXTURE.name, org["owner1"])
    db.session.commit()
    return cases.start_case("timer_fixture", employee_of(org["emp1"]).id, org["hr1"])


def _open_tasks(case_id: int) -> list[str]:
    db.session.expire_all()
    return [t.task_name for t in db.session.scalars(select(HumanTask).where(
        HumanTask.case_id == case_id, HumanTask.status == TaskStatus.OPEN))]


def _fired_count() -> int:
    return db.session.scalar(select(func.count(AuditEvent.id)).where(
        AuditEvent.event_type == AuditEventType.TIMER_FIRED))


def test_a_new_case_records_when_its_first_timer_is_due(case) -> None:
    assert case.timer_due_at.replace(tzinfo=UTC) == START + timedelta(days=1)
    assert _open_tasks(case.id) == []


def test_nothing_fires_before_its_time(case) -> None:
    clock.advance(timedelta(hours=23))
    assert timers.run_due_timers().timers_fired == 0
    assert _open_tasks(case.id) == []


def test_a_due_timer_fires_once_and_the_process_moves_on(case) -> None:
    clock.advance(timedelta(days=1, minutes=1))
    first = timers.run_due_timers()
    assert (first.cases_checked, first.timers_fired) == (1, 1)
    assert _open_tasks(case.id) == ["acknowledge"]
    assert timers.run_due_timers().timers_fired == 0  # nothing due any more
    assert _fired_count() == 1
    db.session.expire_all()
    due = db.session.get(Case, case.id).timer_due_at.replace(tzinfo=UTC)
    assert due == START + timedelta(days=1, minutes=1) + timedelta(hours=72)


def test_an_interrupting_boundary_timer_cancels_the_task_and_escalates(case, org) -> None:
    clock.advance(timedelta(days=1, minutes=1))
    timers.run_due_timers()
    clock.advance(timedelta(hours=73))
    assert timers.run_due_timers().timers_fired == 1
    db.session.expire_all()
    rows = {t.task_name: t for t in db.session.scalars(
        select(HumanTask).where(HumanTask.case_id == case.id))}
    assert rows["acknowledge"].status == TaskStatus.CANCELLED
    assert rows["follow_up"].status == TaskStatus.OPEN
    assert rows["follow_up"].assignee_id == org["ro1"].id
    events = [e.event_type for e in db.session.scalars(
        select(AuditEvent).where(AuditEvent.case_id == case.id).order_by(AuditEvent.id))]
    assert events[-3:] == [AuditEventType.TIMER_FIRED, AuditEventType.TASK_CANCELLED,
                           AuditEventType.TASK_ASSIGNED]


def test_the_worker_command_runs_one_pass(app, case) -> None:
    clock.advance(timedelta(days=2))
    result = app.test_cli_runner().invoke(args=["run-timers", "--once"])
    assert result.exit_code == 0, result.output
    assert "1 due cases, 1 timers fired, 0 errors" in result.output


def test_two_workers_at_once_fire_each_timer_exactly_once(app, org, is_postgres) -> None:
    if not is_postgres:
        pytest.skip("concurrent workers are tested on PostgreSQL")
    process_models.deploy(FIXTURE.read_bytes(), FIXTURE.name, org["owner1"])
    db.session.commit()
    case_ids = [cases.start_case("timer_fixture", employee_of(org[u]).id, org["hr1"]).id
                for u in ("emp1", "emp2")]
    clock.advance(timedelta(days=2))
    barrier = threading.Barrier(2)
    fired: list[int] = []

    def worker() -> None:
        with app.app_context():
            barrier.wait()
            fired.append(timers.run_due_timers().timers_fired)
            db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sum(fired) == 2
    assert _fired_count() == 2
    for case_id in case_ids:
        assert _open_tasks(case_id) == ["acknowledge"]
