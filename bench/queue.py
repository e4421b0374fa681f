"""Benchmark: the approver's queue over 1,000,000 task rows in PostgreSQL.

Why this exists: a ministry's task table grows by every step of every case of every employee,
year after year; the queue page and the API task list must stay one indexed query however large
it gets (target: p95 under 100 ms). This script builds such a table and measures both.

It drops every table of the database named by --database-url (as tests/conftest.py does), builds
the schema with the real migrations, deploys workflows/ and seeds the demo department, then bulk
loads with COPY:

* --subjects employees (the cases' subjects) and --officers officers with logins;
* --rows task rows, four per case: three completed (history) and one open. The open ones are
  cso1's queue (--queue-size tasks), an HR pool of unclaimed tasks for hr1 (--pool-size), and
  everyone else's (spread over the officers). A fifth of the open tasks are overdue.

It then signs in as cso1 through the real login form and times --requests requests each of:
the queue page (first page, due date order), the queue page filtered (overdue, one process,
latest first, page 5), the API task list (bearer token), and hr1's queue of pool tasks, all
through the Flask test client (the whole request: routing, auth, queries, templates). It prints
median, p95 and max in milliseconds, and exits non-zero if a request failed.

    .venv/bin/python bench/queue.py
    .venv/bin/python bench/queue.py --rows 200000 --requests 50 --database-url postgresql://...

Never point it at a database whose data you want to keep.
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file shares its name with the standard library's `queue`: run as a script, its folder
# comes first on sys.path and would shadow `queue` for everything imported below (psycopg's COPY
# uses it). Take the folder off the path first; put the repository on it instead.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
REPO_ROOT = _HERE.parent
if str(REPO_ROOT) not in sys.path:  # run as a plain script: make `app` and `forms` importable
    sys.path.insert(0, str(REPO_ROOT))

import argparse  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402

import psycopg  # noqa: E402
from flask import Flask  # noqa: E402
from flask.testing import FlaskClient  # noqa: E402
from sqlalchemy import select, text  # noqa: E402

from app.extensions import db  # noqa: E402
from app.models import OrgUnit, ProcessVersion, User  # noqa: E402
from app.services import demo  # noqa: E402
from bench.common import bench_app, rebuild_database  # noqa: E402

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/meezan_h4"
NOW = datetime.now(UTC)
TASK_STEPS = [
    ("design_scorecard", "Design scorecard", "reporting_officer", "scorecard_design"),
    ("review_scorecard", "Review scorecard", "employee", "scorecard_review"),
    ("countersign_scorecard", "Countersign scorecard", "countersigning_officer",
     "scorecard_approval"),
]


def rebuild_schema(app: Flask) -> None:
    with app.app_context():
        rebuild_database()
        demo.seed_demo()


def _ids(conn: psycopg.Connection, sql: str) -> list[int]:
    return [row[0] for row in conn.execute(sql)]


def load(app: Flask, url: str, args: argparse.Namespace) -> dict[str, int]:
    """Bulk-load officers, subjects, cases and task rows with COPY; returns what it made."""
    rng = random.Random(4)  # noqa: S311 - reproducible synthetic data, not security
    with app.app_context():
        cso1 = db.session.scalar(select(User.id).where(User.username == "cso1"))
        hr_unit = db.session.scalar(select(OrgUnit.id).where(OrgUnit.code == "KP-HEALTH-PSH"))
        version = db.session.scalar(select(ProcessVersion.id).order_by(ProcessVersion.id)
                                    .where(ProcessVersion.source_name == "goal_setting.bpmn"))
        password_hash = db.session.scalar(select(User.password_hash).where(User.id == cso1))
        db.session.remove()
    plain_url = url.replace("+psycopg", "")
    with psycopg.connect(plain_url) as conn:
        created = NOW.isoformat()
        with conn.cursor().copy(
            "COPY users (username, full_name, email, password_hash, active, created_at) "
            "FROM STDIN"
        ) as copy:
            for n in range(args.officers):
                copy.write_row((f"officer{n:05d}", f"Officer {n}", f"officer{n}@example.test",
                                password_hash, True, created))
        officers = _ids(conn, "SELECT id FROM users WHERE username LIKE 'officer%' ORDER BY id")
        with conn.cursor().copy(
            "COPY employees (employee_number, full_name, org_unit_id) FROM STDIN"
        ) as copy:
            for n in range(args.subjects):
                copy.write_row((f"BENCH-{n:06d}", f"Subject {n}", hr_unit))
        subjects = _ids(conn, "SELECT id FROM employees WHERE employee_number LIKE 'BENCH-%' "
                              "ORDER BY id")
        n_cases = args.rows // 4
        first_case = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM cases").fetchone()[0]
        with conn.cursor().copy(
            "COPY cases (id, process_version_id, subject_employee_id, status, started_at, "
            "workflow_state, serializer_version, lock_version) FROM STDIN"
        ) as copy:
            for n in range(n_cases):
                started = NOW - timedelta(days=rng.uniform(0, 400))
                copy.write_row((first_case + n, version, subjects[n % len(subjects)], "running",
                                started.isoformat(), "{}", "1.5", 1))
        conn.execute("SELECT setval('cases_id_seq', (SELECT max(id) FROM cases))")
        queue_size, pool_size = args.queue_size, args.pool_size
        with conn.cursor().copy(
            "COPY human_tasks (case_id, engine_task_id, task_name, title, lane, form_key, "
            "assignee_id, owner_id, candidate_role, candidate_org_unit_id, status, created_at, "
            "due_at, completed_at, completed_by_id) FROM STDIN"
        ) as copy:
            for n in range(n_cases):
                case_id = first_case + n
                base = NOW - timedelta(days=rng.uniform(0, 60))
                for step, (name, title, lane, form) in enumerate(TASK_STEPS):
                    who = cso1 if rng.random() < 0.01 else officers[rng.randrange(len(officers))]
                    at = base - timedelta(days=3 * (3 - step))
                    copy.write_row((case_id, str(uuid.uuid4()), name, title, lane, form, who,
                                    who, None, None, "completed", at.isoformat(),
                                    (at + timedelta(days=7)).isoformat(),
                                    (at + timedelta(days=2)).isoformat(), who))
                due = base + timedelta(days=rng.uniform(-2, 8))  # about a fifth overdue
                name, title, lane, form = TASK_STEPS[2]
                if n < queue_size:
                    holder, role, unit = cso1, None, None
                elif n < queue_size + pool_size:
                    holder, role, unit = None, "hr", hr_unit
                    name, title, lane = "hr_check", "HR check", "hr"
                else:
                    holder, role, unit = officers[n % len(officers)], None, None
                copy.write_row((case_id, str(uuid.uuid4()), name, title, lane, form, holder,
                                holder, role, unit, "open", base.isoformat(), due.isoformat(),
                                None, None))
        conn.commit()
        conn.execute("ANALYZE")
        total = conn.execute("SELECT count(*) FROM human_tasks").fetchone()[0]
        open_total = conn.execute(
            "SELECT count(*) FROM human_tasks WHERE status = 'open'").fetchone()[0]
    return {"tasks": total, "open": open_total, "cases": n_cases, "officers": len(officers),
            "subjects": len(subjects)}


def login(client: FlaskClient, username: str) -> None:
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)
    response = client.post("/login", data={"username": username,
                                           "password": demo.DEMO_PASSWORD, "csrf_token": token})
    if response.status_code != 302:
        raise SystemExit(f"could not sign in as {username}")


def timed(call: Callable[[], int], requests: int) -> Iterator[float]:
    for _ in range(5):  # warm caches and connections
        call()
    for _ in range(requests):
        start = time.perf_counter()
        status = call()
        elapsed = (time.perf_counter() - start) * 1000
        if status != 200:
            raise SystemExit(f"a request answered {status}")
        yield elapsed


def report(name: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[max(0, int(round(0.95 * len(ordered))) - 1)]
    return (f"{name:<44} median {statistics.median(ordered):7.1f} ms   p95 {p95:7.1f} ms   "
            f"max {ordered[-1]:7.1f} ms")


def measure(app: Flask, args: argparse.Namespace) -> list[tuple[str, list[float]]]:
    results = []
    web = app.test_client()
    login(web, "cso1")
    api = app.test_client()
    token = api.post("/api/v1/tokens", json={"username": "cso1",
                                             "password": demo.DEMO_PASSWORD}).json["token"]
    pool = app.test_client()
    login(pool, "hr1")
    scenarios: list[tuple[str, Callable[[], int]]] = [
        ("queue page (cso1, first page)", lambda: web.get("/queue").status_code),
        ("queue page (overdue, process, latest, p. 5)", lambda: web.get(
            "/queue?overdue=1&process=goal_setting&sort=-due&page=5").status_code),
        ("API GET /api/v1/tasks (cso1)", lambda: api.get(
            "/api/v1/tasks", headers={"Authorization": f"Bearer {token}"}).status_code),
        ("queue page (hr1, unclaimed pool)", lambda: pool.get("/queue").status_code),
    ]
    with app.app_context():
        for name, call in scenarios:
            results.append((name, list(timed(call, args.requests))))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--rows", type=int, default=1_000_000, help="task rows to load")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per scenario")
    parser.add_argument("--queue-size", type=int, default=2_000, help="cso1's open tasks")
    parser.add_argument("--pool-size", type=int, default=2_000, help="unclaimed HR pool tasks")
    parser.add_argument("--officers", type=int, default=1_000)
    parser.add_argument("--subjects", type=int, default=20_000)
    parser.add_argument("--reuse", action="store_true",
                        help="measure the data a previous run loaded, without rebuilding")
    args = parser.parse_args()
    if not args.database_url.startswith("postgresql"):
        raise SystemExit("bench/queue.py measures PostgreSQL: give a postgresql:// URL")
    app = bench_app(args.database_url)
    if not args.reuse:
        started = time.perf_counter()
        rebuild_schema(app)
        made = load(app, args.database_url, args)
        print(f"loaded {made['tasks']:,} task rows ({made['open']:,} open) in {made['cases']:,} "
              f"cases for {made['subjects']:,} subjects and {made['officers']:,} officers in "
              f"{time.perf_counter() - started:.0f} s")
    with app.app_context():
        plan = db.session.execute(text(
            "EXPLAIN SELECT id FROM human_tasks WHERE status = 'open' AND assignee_id = "
            "(SELECT id FROM users WHERE username = 'cso1') ORDER BY due_at, id LIMIT 50"
        )).scalars().all()
        print("plan of the holder's page:", " / ".join(line.strip() for line in plan[:3]))
        db.session.remove()
    print(f"{args.requests} requests each, through the Flask test client (whole request):")
    for name, samples in measure(app, args):
        print(report(name, samples))
    return 0


if __name__ == "__main__":
    sys.exit(main())
