"""A cycle launch survives being killed: `kill -9` of a real `flask launch-cycle` process in the
middle of its run, then a relaunch, gives every employee exactly one case; and two launchers
running at once never start anyone twice.

PostgreSQL only (the suite's second run): a real server notices the dead client and rolls its
open batch back, and the cycle-row lock is what makes concurrent launchers take turns.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.extensions import db
from app.models import Case, CycleMember, CycleMemberStatus, CycleStatus, HumanTask, User
from app.services import cycles
from tests.org_factory import add_employees, cycle_input

REPO = Path(__file__).resolve().parents[2]
BATCH = 50
EMPLOYEES = 1500  # plus the demo department's 7; 5 of those cannot be launched
LAUNCHABLE = EMPLOYEES + 2


@pytest.fixture(autouse=True)
def _postgres_only(is_postgres: bool) -> None:
    if not is_postgres:
        pytest.skip("killing a launcher mid-run is tested on PostgreSQL (MEEZAN_TEST_DATABASE_URL)")


def _count(query: object) -> int:
    db.session.rollback()  # a fresh snapshot of what other processes committed
    return db.session.scalar(query)


def _members(cycle_id: int) -> int:
    return _count(select(func.count(CycleMember.id)).where(CycleMember.cycle_id == cycle_id))


def _duplicated_subjects() -> list[int]:
    db.session.rollback()
    return list(db.session.scalars(
        select(Case.subject_employee_id).group_by(Case.subject_employee_id)
        .having(func.count(Case.id) > 1)))


def _children(pid: int) -> list[int]:
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        children.extend(int(child) for child in text)
    return children


def _running(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    state = next(line for line in status.splitlines() if line.startswith("State:"))
    return "Z" not in state.split()[1]


@pytest.mark.parametrize("workers", [0, 1])
def test_kill_9_in_the_middle_of_a_launch_then_a_relaunch_gives_everyone_exactly_one_case(
    app: Flask, org, workers: int
) -> None:
    add_employees(EMPLOYEES)
    cycle = cycles.create_cycle(org["hr1"], cycle_input())
    env = {**os.environ, "MEEZAN_ENV": "test",
           "MEEZAN_TEST_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"]}
    launcher = subprocess.Popen(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "flask", "--app", "wsgi", "launch-cycle", str(cycle.id),
         "--batch-size", str(BATCH), "--workers", str(workers)],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 180
        while _members(cycle.id) < 3 * BATCH:
            assert launcher.poll() is None, launcher.stderr.read().decode()
            assert time.monotonic() < deadline, "the launch made no progress"
            time.sleep(0.05)
        helpers = _children(launcher.pid)
        launcher.send_signal(signal.SIGKILL)
        launcher.wait(timeout=30)
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.wait()
        launcher.stderr.close()

    assert launcher.returncode == -signal.SIGKILL
    interrupted = _members(cycle.id)
    assert 3 * BATCH <= interrupted < EMPLOYEES
    assert interrupted % BATCH == 0  # whole batches only: the one in flight was rolled back
    launched = _count(select(func.count(CycleMember.id)).where(
        CycleMember.cycle_id == cycle.id, CycleMember.status == CycleMemberStatus.LAUNCHED))
    assert _count(select(func.count(Case.id))) == launched  # no case without its member row
    assert _count(select(func.count(HumanTask.id))) == launched
    if workers:  # the engine workers noticed their parent died and left
        deadline = time.monotonic() + 10
        while any(_running(pid) for pid in helpers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert helpers and not any(_running(pid) for pid in helpers)

    db.session.rollback()
    result = cycles.launch_cycle(cycle.id, db.session.get(User, org["hr1"].id), batch_size=BATCH)
    assert result.already_launched == launched
    assert result.cases_started == LAUNCHABLE - launched
    assert _count(select(func.count(Case.id))) == LAUNCHABLE
    assert _duplicated_subjects() == []
    assert cycles.launch_progress(db.session.get(type(cycle), cycle.id)).status == \
        CycleStatus.LAUNCHED


def test_two_launchers_at_once_start_nobody_twice(app: Flask, org) -> None:
    add_employees(400)
    cycle = cycles.create_cycle(org["hr1"], cycle_input())
    hr_id, cycle_id = org["hr1"].id, cycle.id
    barrier = threading.Barrier(2)
    results: list[object] = []

    def launch() -> None:
        with app.app_context():
            try:
                barrier.wait()
                results.append(cycles.launch_cycle(cycle_id, db.session.get(User, hr_id),
                                                   batch_size=25))
            except Exception as exc:  # noqa: BLE001 - reported by the assertion
                results.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=launch) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert all(isinstance(r, cycles.LaunchResult) for r in results), results
    assert sum(r.cases_started for r in results) == 402  # type: ignore[attr-defined]
    assert _count(select(func.count(Case.id))) == 402
    assert _duplicated_subjects() == []
