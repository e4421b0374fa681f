"""Crashes at the worst moment: a gunicorn worker completing a task, a `flask run-timers` pass
and a `flask launch-cycle` batch are each killed with SIGKILL while their transaction is written
but not committed (a named pause point, app/faults.py, active only in the test configuration).
After the restart nothing is half-written, nothing is lost and nothing happens twice.

PostgreSQL only: a real server sees the dead connection and rolls its transaction back.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from flask import Flask
from sqlalchemy import func, select

from app.clock import clock
from app.extensions import db
from app.models import (
    AuditEvent,
    AuditEventType,
    Case,
    CycleMember,
    CycleMemberStatus,
    CycleStatus,
    HumanTask,
    TaskStatus,
    User,
)
from app.services import audit, auth, cases, cycles
from tests.conftest import employee_of
from tests.helpers import good_scorecard
from tests.org_factory import add_employees, cycle_input

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _postgres_only(is_postgres: bool) -> None:
    if not is_postgres:
        pytest.skip("crashes mid-transaction are tested on PostgreSQL (MEEZAN_TEST_DATABASE_URL)")


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "paused.pid"


def _env(app: Flask, pause_at: str | None, marker: Path) -> dict[str, str]:
    env = {**os.environ, "MEEZAN_ENV": "test",
           "MEEZAN_TEST_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
           "MEEZAN_FAULT_MARKER": str(marker)}
    env.pop("MEEZAN_FAULT_PAUSE_AT", None)
    if pause_at:
        env["MEEZAN_FAULT_PAUSE_AT"] = pause_at
    return env


def _wait_for(path: Path, process: subprocess.Popen, seconds: float = 60) -> int:
    deadline = time.monotonic() + seconds
    while not (path.exists() and path.read_text()):
        assert process.poll() is None, "the process ended before reaching the pause point"
        assert time.monotonic() < deadline, "the pause point was never reached"
        time.sleep(0.05)
    return int(path.read_text())


def _fresh(query: object) -> object:
    db.session.rollback()  # a new snapshot: see what other processes committed
    return db.session.scalar(query)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def gunicorn_server(app: Flask, marker: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    port = _free_port()
    env = _env(app, "task_completion.before_commit", marker)
    env.update({"MEEZAN_PORT": str(port), "MEEZAN_WORKERS": "1", "MEEZAN_THREADS": "2"})
    server = subprocess.Popen(  # noqa: S603 - our own server
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(base, server)
        yield base, server
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _wait_healthy(base: str, server: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        assert server.poll() is None, "gunicorn exited"
        try:
            if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        assert time.monotonic() < deadline, "gunicorn never became healthy"
        time.sleep(0.1)


def test_a_worker_killed_while_completing_a_task_leaves_it_open_then_it_completes_once(
    app: Flask, org, marker: Path, gunicorn_server: tuple[str, subprocess.Popen]
) -> None:
    base, server = gunicorn_server
    case = cases.start_case("goal_setting", employee_of(org["emp1"]).id, org["hr1"])
    case_id = case.id
    task_id = db.session.scalar(select(HumanTask.id).where(HumanTask.case_id == case_id))
    token, _ = auth.issue_token(db.session.get(User, org["ro1"].id), 1)
    headers = {"Authorization": f"Bearer {token}"}
    body = {"data": {"kpis": good_scorecard()}}
    outcome: list[object] = []

    def complete() -> None:
        try:
            outcome.append(requests.post(f"{base}/api/v1/tasks/{task_id}/complete", json=body,
                                         headers=headers, timeout=90).status_code)
        except requests.RequestException as exc:
            outcome.append(exc)

    client = threading.Thread(target=complete)
    client.start()
    worker_pid = _wait_for(marker, server)
    assert worker_pid != server.pid  # the worker, not the master
    # Paused with everything written but not committed: nobody else sees any of it.
    assert _fresh(select(HumanTask.status).where(HumanTask.id == task_id)) == TaskStatus.OPEN
    os.kill(worker_pid, signal.SIGKILL)
    client.join(timeout=60)
    assert not client.is_alive()
    assert outcome and outcome[0] != 200  # the caller knows it did not go through

    _wait_healthy(base, server)  # the master started a new worker
    assert _fresh(select(HumanTask.status).where(HumanTask.id == task_id)) == TaskStatus.OPEN
    assert _fresh(select(func.count(HumanTask.id)).where(HumanTask.case_id == case_id)) == 1
    assert _fresh(select(Case.lock_version).where(Case.id == case_id)) == 1
    assert _fresh(select(func.count(AuditEvent.id)).where(
        AuditEvent.event_type == AuditEventType.TASK_COMPLETED)) == 0
    assert audit.verify_chain().ok

    again = requests.post(f"{base}/api/v1/tasks/{task_id}/complete", json=body,
                          headers=headers, timeout=60)
    assert again.status_code == 200, again.text  # the dead transaction's row lock is gone
    twice = requests.post(f"{base}/api/v1/tasks/{task_id}/complete", json=body,
                          headers=headers, timeout=60)
    assert twice.status_code == 409
    rows = db.session.execute(select(HumanTask.task_name, HumanTask.status)
                              .where(HumanTask.case_id == case_id).order_by(HumanTask.id)).all()
    assert [tuple(r) for r in rows] == [("design_scorecard", TaskStatus.COMPLETED),
                                        ("review_scorecard", TaskStatus.OPEN)]
    assert _fresh(select(func.count(AuditEvent.id)).where(
        AuditEvent.event_type == AuditEventType.TASK_COMPLETED)) == 1
    assert audit.verify_chain().ok


def _flask(app: Flask, marker: Path, pause_at: str | None, *args: str) -> subprocess.Popen:
    return subprocess.Popen(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=REPO,
        env=_env(app, pause_at, marker), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)


def _timer_events() -> list[tuple[int, str]]:
    db.session.rollback()
    return [(e.case_id, e.details["element"]) for e in db.session.scalars(
        select(AuditEvent).where(AuditEvent.event_type == AuditEventType.TIMER_FIRED))]


def test_a_timer_worker_killed_mid_run_fires_each_timer_exactly_once_after_restart(
    app: Flask, org, marker: Path
) -> None:
    # Cases started 40 days ago (the worker runs on the real clock): their timers are all due.
    clock.freeze(clock.now() - timedelta(days=40))
    try:
        started = [cases.start_case("goal_setting", employee_of(org[u]).id, org["hr1"]).id
                   for u in ("emp1", "emp2")]
    finally:
        clock.reset()

    worker = _flask(app, marker, "timer_run.before_commit@2", "run-timers", "--once")
    try:
        _wait_for(marker, worker)
        committed_before_kill = _timer_events()
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        worker.stdout.close()
        worker.stderr.close()
    assert worker.returncode == -signal.SIGKILL
    # The first case's timers committed; the second's, in flight, vanished whole.
    assert {case for case, _ in committed_before_kill} == {started[0]}
    assert _fresh(select(func.count(AuditEvent.id)).where(
        AuditEvent.case_id == started[1],
        AuditEvent.event_type == AuditEventType.TIMER_FIRED)) == 0

    restart = _flask(app, None, None, "run-timers", "--once")
    out, err = restart.communicate(timeout=120)
    assert restart.returncode == 0, err
    fired = _timer_events()
    assert len(fired) == len(set(fired))  # nothing fired twice
    assert {case for case, _ in fired} == set(started)
    per_case = {case: sorted(e for c, e in fired if c == case) for case in started}
    assert per_case[started[0]] == per_case[started[1]]  # the killed case lost nothing
    assert _timer_events()[: len(committed_before_kill)] == committed_before_kill

    again = _flask(app, None, None, "run-timers", "--once")
    again.communicate(timeout=120)
    assert _timer_events() == fired  # a further pass finds nothing left to fire
    open_rows = db.session.execute(
        select(HumanTask.case_id, HumanTask.task_name, func.count(HumanTask.id))
        .where(HumanTask.status == TaskStatus.OPEN)
        .group_by(HumanTask.case_id, HumanTask.task_name)).all()
    assert all(count == 1 for *_, count in open_rows)
    assert audit.verify_chain().ok


def test_a_cycle_launch_killed_mid_batch_loses_the_batch_whole_and_a_relaunch_finishes_it(
    app: Flask, org, marker: Path
) -> None:
    add_employees(40)
    cycle = cycles.create_cycle(org["hr1"], cycle_input())
    launcher = _flask(app, marker, "cycle_launch.batch_before_commit@3", "launch-cycle",
                      str(cycle.id), "--batch-size", "10")
    try:
        _wait_for(marker, launcher, seconds=120)
        launcher.send_signal(signal.SIGKILL)
        launcher.wait(timeout=30)
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.wait()
        launcher.stdout.close()
        launcher.stderr.close()

    members = _fresh(select(func.count(CycleMember.id)).where(CycleMember.cycle_id == cycle.id))
    assert members == 20  # two whole batches; the third, in flight, left no trace
    launched = _fresh(select(func.count(CycleMember.id)).where(
        CycleMember.cycle_id == cycle.id, CycleMember.status == CycleMemberStatus.LAUNCHED))
    assert _fresh(select(func.count(Case.id))) == launched
    assert _fresh(select(func.count(HumanTask.id))) == launched

    relaunch = _flask(app, None, None, "launch-cycle", str(cycle.id), "--batch-size", "10")
    out, err = relaunch.communicate(timeout=300)
    assert relaunch.returncode == 0, err
    db.session.rollback()
    progress = cycles.launch_progress(db.session.get(type(cycle), cycle.id))
    assert progress.status == CycleStatus.LAUNCHED
    assert progress.done == progress.in_scope == _fresh(select(func.count(CycleMember.id)).where(
        CycleMember.cycle_id == cycle.id))
    duplicated = db.session.scalars(
        select(Case.subject_employee_id).group_by(Case.subject_employee_id)
        .having(func.count(Case.id) > 1)).all()
    assert duplicated == []
    assert _fresh(select(func.count(Case.id))) == _fresh(select(func.count(CycleMember.id)).where(
        CycleMember.cycle_id == cycle.id, CycleMember.status == CycleMemberStatus.LAUNCHED))
    assert audit.verify_chain().ok
