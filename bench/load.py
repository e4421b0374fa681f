"""Load benchmark: concurrent users completing tasks over HTTP against gunicorn + PostgreSQL.

Why this exists: the issue's production targets (50 concurrent users for 2 minutes, 0 errors,
≥ 300 completions/s, and racing completions never completing a task twice) can only be judged
against the real stack: gunicorn workers, the JSON API, row locks in PostgreSQL.

What it does:

1. empties the database (every table dropped, as tests/conftest.py does: never point it at data
   you want to keep), builds the schema with the migrations, deploys workflows/, and seeds USERS
   reporting officers, each with CASES_PER_USER subordinates whose goal-setting case waits at
   "design scorecard", plus RACE_TASKS more cases for the race;
2. starts gunicorn (gunicorn.conf.py, MEEZAN_ENV=production) on 127.0.0.1;
3. USERS client threads, each signed in as one officer (POST /api/v1/tokens), loop for DURATION
   seconds: read a page of their queue (GET /api/v1/tasks), complete each task on it
   (POST /api/v1/tasks/<id>/complete with a scorecard). Completion latency is measured per
   request; any answer but 200 (or a transport error) is an error;
4. the race: every race task is completed by two clients at the same instant (a barrier per
   pair), 2 × RACE_TASKS completions; exactly one of each pair must get 200 and the other 409,
   and the database must hold exactly one completion event per task;
5. prints the figures (and exits non-zero on errors or a double completion).

    .venv/bin/python bench/load.py --database-url postgresql://postgres@127.0.0.1:5432/meezan_h1_bench

Traffic goes only to 127.0.0.1; every loop is bounded by --duration and the seeded work.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# Run as a script, bench/ is first on the path, and bench/queue.py would shadow the standard
# library's `queue` (which urllib3 imports).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import requests  # noqa: E402
from flask import Flask  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from app.extensions import db  # noqa: E402
from app.models import (  # noqa: E402
    AuditEvent,
    AuditEventType,
    Employee,
    HumanTask,
    OrgUnit,
    Role,
    User,
    UserRole,
)
from app.services import audit, cases  # noqa: E402
from bench.common import bench_app, rebuild_database  # noqa: E402

PASSWORD = "load-bench-passphrase"  # noqa: S105 - a throwaway benchmark login
FAST_HASH = "pbkdf2:sha256:1000"
RACE_OFFICERS = 10
SCORECARD = [
    {"name": "Children fully immunised", "kind": "quantity", "unit": "children",
     "target": 12000, "weight": 40},
    {"name": "Vaccinator attendance", "kind": "quantity", "unit": "%", "target": 95,
     "weight": 25},
    {"name": "Cold-chain audits passed", "kind": "quality", "unit": "%", "target": 90,
     "weight": 35},
]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True, help="a PostgreSQL database to EMPTY")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--duration", type=float, default=120.0, help="seconds of load")
    parser.add_argument("--cases-per-user", type=int, default=150)
    parser.add_argument("--race-tasks", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=5, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    return parser.parse_args()


def make_app(url: str) -> Flask:
    app = bench_app(url, overrides={"PASSWORD_HASH_METHOD": FAST_HASH})
    with app.app_context():
        rebuild_database()
    return app


def _user(username: str) -> User:
    user = User(username=username, full_name=username, email=f"{username}@bench.example")
    user.set_password(PASSWORD)
    return user


def seed(users: int, per_user: int, race: int) -> tuple[list[str], list[int]]:
    """Officers (half of them countersign for the other half's people), their subordinates,
    and one waiting case per subordinate. Returns the officers' usernames and the race tasks."""
    unit = OrgUnit(code="LOAD", name="Load Directorate")
    hr = _user("load-hr")
    db.session.add_all([unit, hr])
    db.session.flush()
    db.session.add(UserRole(user_id=hr.id, role=Role.HR, org_unit_id=unit.id))
    # The race's officers are others than the load's, so the load never takes their tasks.
    officer_users = [_user(f"officer{i}") for i in range(users)] + [
        _user(f"race-officer{i}") for i in range(RACE_OFFICERS)]
    db.session.add_all(officer_users)
    db.session.flush()
    officers = [Employee(employee_number=f"OFF-{i:04d}", full_name=f"Officer {i}", grade=18,
                         org_unit_id=unit.id, user_id=u.id) for i, u in enumerate(officer_users)]
    db.session.add_all(officers)
    db.session.flush()
    total = users * per_user + race
    staff_users = [_user(f"staff{i}") for i in range(total)]
    db.session.add_all(staff_users)
    db.session.flush()

    def officer(i: int, shift: int) -> int:
        if i < users * per_user:
            return officers[(i + shift) % users].id
        return officers[users + (i + shift) % RACE_OFFICERS].id

    staff = [Employee(employee_number=f"STF-{i:06d}", full_name=f"Staff {i}", grade=16,
                      org_unit_id=unit.id, user_id=u.id,
                      reporting_officer_id=officer(i, 0), countersigning_officer_id=officer(i, 1))
             for i, u in enumerate(staff_users)]
    db.session.add_all(staff)
    db.session.commit()
    hr_id, staff_ids = hr.id, [s.id for s in staff]
    load_usernames = [u.username for u in officer_users[:users]]
    started = time.perf_counter()
    race_cases = []
    for index, employee_id in enumerate(staff_ids):
        case = cases.start_case("goal_setting", employee_id, db.session.get(User, hr_id))
        if index >= users * per_user:
            race_cases.append(case.id)
        db.session.remove()
    elapsed = time.perf_counter() - started
    print(f"seeded {users} officers, {len(staff_ids)} cases in {elapsed:.0f} s "
          f"({len(staff_ids) / elapsed:.0f} cases/s through the service layer)", flush=True)
    race_tasks = list(db.session.scalars(
        select(HumanTask.id).where(HumanTask.case_id.in_(race_cases)).order_by(HumanTask.id)))
    return load_usernames, race_tasks


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_gunicorn(url: str, workers: int, threads: int) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {**os.environ, "MEEZAN_ENV": "production", "DATABASE_URL": url,
           "SECRET_KEY": secrets.token_hex(32), "MEEZAN_PORT": str(port),
           "MEEZAN_WORKERS": str(workers), "MEEZAN_THREADS": str(threads),
           "MEEZAN_LOG_LEVEL": "WARNING", "MEEZAN_DB_POOL_SIZE": str(threads),
           # The benchmark signs all its users in from one address.
           "MEEZAN_LOGIN_MAX_FAILURES_PER_IP": "1000"}
    server = subprocess.Popen(  # noqa: S603 - our own server
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--access-logfile",
         "/dev/null", "wsgi:app"], cwd=REPO_ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                return server, base
        except requests.RequestException:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("gunicorn did not start")
        time.sleep(0.2)


def sign_in(base: str, username: str) -> requests.Session:
    session = requests.Session()
    response = session.post(f"{base}/api/v1/tokens",
                            json={"username": username, "password": PASSWORD}, timeout=30)
    response.raise_for_status()
    session.headers["Authorization"] = f"Bearer {response.json()['token']}"
    return session


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    queue_reads: int = 0
    ran_dry: int = 0


def run_user(base: str, session: requests.Session, deadline: float, tally: Tally,
             lock: threading.Lock) -> None:
    body = {"data": {"kpis": SCORECARD}}
    while time.monotonic() < deadline:
        try:
            page = session.get(f"{base}/api/v1/tasks", params={"per_page": 20}, timeout=60)
            page.raise_for_status()
        except requests.RequestException as exc:
            with lock:
                tally.errors.append(f"queue: {exc}")
            continue
        tasks = [t for t in page.json()["tasks"] if t["name"] == "design_scorecard"]
        with lock:
            tally.queue_reads += 1
        if not tasks:
            with lock:
                tally.ran_dry += 1
            return
        for task in tasks:
            if time.monotonic() >= deadline:
                return
            started = time.perf_counter()
            try:
                response = session.post(f"{base}/api/v1/tasks/{task['id']}/complete", json=body,
                                        timeout=60)
                status = response.status_code
            except requests.RequestException as exc:
                status, response = 0, None
                with lock:
                    tally.errors.append(str(exc))
            elapsed = time.perf_counter() - started
            with lock:
                tally.latencies.append(elapsed)
                tally.statuses[status] += 1
                if status not in (200, 0):
                    tally.errors.append(f"{status}: {response.text[:200] if response else ''}")


def load(base: str, usernames: list[str], duration: float) -> tuple[Tally, float]:
    sessions = [sign_in(base, name) for name in usernames]
    tally, lock = Tally(), threading.Lock()
    started = time.monotonic()
    deadline = started + duration
    threads = [threading.Thread(target=run_user, args=(base, s, deadline, tally, lock))
               for s in sessions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=duration + 120)
    return tally, time.monotonic() - started


def race(base: str, app: Flask, task_ids: list[int], usernames: list[str]) -> dict[str, int]:
    """Two clients complete each task at the same instant, 20 pairs at a time."""
    owners = {}
    with app.app_context():
        for task_id, username in db.session.execute(
                select(HumanTask.id, User.username).join(User, HumanTask.assignee_id == User.id)
                .where(HumanTask.id.in_(task_ids))):
            owners[task_id] = username
    sessions = {name: (sign_in(base, name), sign_in(base, name)) for name in set(owners.values())}
    body = {"data": {"kpis": SCORECARD}}
    outcomes: Counter = Counter()
    per_task: dict[int, list[int]] = {}
    lock = threading.Lock()

    def racer(task_id: int, session: requests.Session, barrier: threading.Barrier) -> None:
        barrier.wait()
        try:
            status = session.post(f"{base}/api/v1/tasks/{task_id}/complete", json=body,
                                  timeout=60).status_code
        except requests.RequestException:
            status = 0
        with lock:
            outcomes[status] += 1
            per_task.setdefault(task_id, []).append(status)

    for start in range(0, len(task_ids), 20):
        threads = []
        for task_id in task_ids[start:start + 20]:
            barrier = threading.Barrier(2)
            first, second = sessions[owners[task_id]]
            threads += [threading.Thread(target=racer, args=(task_id, s, barrier))
                        for s in (first, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    with app.app_context():
        events = Counter(db.session.scalars(select(AuditEvent.human_task_id).where(
            AuditEvent.event_type == AuditEventType.TASK_COMPLETED,
            AuditEvent.human_task_id.in_(task_ids))))
        next_tasks = db.session.scalar(select(func.count(HumanTask.id)).where(
            HumanTask.task_name == "review_scorecard",
            HumanTask.case_id.in_(select(HumanTask.case_id).where(HumanTask.id.in_(task_ids)))))
        chain_ok = audit.verify_chain().ok
    return {
        "attempts": sum(outcomes.values()),
        "won (200)": outcomes[200],
        "already completed (409)": outcomes[409],
        "other": sum(v for k, v in outcomes.items() if k not in (200, 409)),
        "tasks with one winner": sum(1 for s in per_task.values() if sorted(s) == [200, 409]),
        "double completions (events)": sum(1 for n in events.values() if n > 1),
        "tasks never completed": len(task_ids) - len(events),
        "review tasks created": next_tasks,
        "audit chain ok": int(chain_ok),
    }


def main() -> int:
    args = parse_args()
    if not args.database_url.startswith(("postgresql", "postgres")):
        raise SystemExit("bench/load.py runs against PostgreSQL (--database-url)")
    app = make_app(args.database_url)
    with app.app_context():
        usernames, race_tasks = seed(args.users, args.cases_per_user, args.race_tasks)
        db.session.remove()
        db.engine.dispose()
    server, base = start_gunicorn(args.database_url, args.workers, args.threads)
    try:
        print(f"gunicorn: {args.workers} workers × {args.threads} threads at {base}; "
              f"{args.users} users for {args.duration:.0f} s", flush=True)
        tally, elapsed = load(base, usernames, args.duration)
        done = tally.statuses[200]
        latencies = sorted(tally.latencies)
        p95 = latencies[int(0.95 * (len(latencies) - 1))] if latencies else 0.0
        p99 = latencies[int(0.99 * (len(latencies) - 1))] if latencies else 0.0
        print("\n== load ==")
        print(f"completions:        {done} in {elapsed:.1f} s = {done / elapsed:.1f}/s")
        print(f"completion latency: p50 {statistics.median(latencies) * 1000:.0f} ms, "
              f"p95 {p95 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms" if latencies else "no requests")
        print(f"queue reads:        {tally.queue_reads}")
        print(f"errors:             {len(tally.errors)} {dict(tally.statuses)}")
        for error in tally.errors[:5]:
            print(f"  {error}")
        if tally.ran_dry:
            print(f"note: {tally.ran_dry} users ran out of seeded work before the end "
                  "(raise --cases-per-user)")
        figures = race(base, app, race_tasks, usernames)
        print("\n== race: two clients complete each task at the same instant ==")
        for name, value in figures.items():
            print(f"{name + ':':30} {value}")
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
    failed = tally.errors or figures["double completions (events)"] or figures["other"] \
        or figures["tasks with one winner"] != len(race_tasks)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
