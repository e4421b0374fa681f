"""What one task completion costs, measured in figures that do not depend on machine load.

Why this exists: bench/load.py's completions per second and latencies move with whatever else
the (shared, 2-core) machine is doing. The cost of the completion path itself does not: how many
SQL statements it sends, how much CPU time this process spends on it, and how many bytes of
workflow state it writes. This script measures those for N completions of the goal-setting
"design scorecard" step through the Flask test client, signed in as the reporting officer, by
the web form (POST /tasks/<id>, CSRF token and all) and by the JSON API
(POST /api/v1/tasks/<id>/complete with a bearer token), which is what bench/load.py drives.

Only the completion requests are measured (not seeding). CPU time is this process's
(`time.process_time`): Flask, the ORM, SpiffWorkflow, the driver; PostgreSQL's own work runs in
its server processes and is not included. Statements are counted with a SQLAlchemy
`before_cursor_execute` listener (BEGIN/COMMIT are not cursor statements and not counted).

    .venv/bin/python bench/completion_cost.py                      # SQLite in a temp dir
    .venv/bin/python bench/completion_cost.py --database-url postgresql://postgres@127.0.0.1:5432/meezan_h4_bench
    .venv/bin/python bench/completion_cost.py --completions 100 --profile 25 --show-sql

PostgreSQL databases are emptied first (every table dropped), as bench/load.py does.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
# Run as a script, bench/ is first on the path, and bench/queue.py would shadow `queue`.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from flask import Flask  # noqa: E402
from flask.testing import FlaskClient  # noqa: E402
from sqlalchemy import event, select  # noqa: E402

from app.extensions import db  # noqa: E402
from app.models import Case, Employee, HumanTask, OrgUnit, Role, TaskStatus, User, UserRole  # noqa: E402
from app.services import cases  # noqa: E402
from bench.common import bench_app, rebuild_database  # noqa: E402

PASSWORD = "completion-cost-passphrase"  # noqa: S105 - a throwaway benchmark login
FAST_HASH = "pbkdf2:sha256:1000"
OFFICERS = 5
SCORECARD = [
    {"name": "Children fully immunised", "kind": "quantity", "unit": "children",
     "target": 12000, "weight": 40},
    {"name": "Vaccinator attendance", "kind": "quantity", "unit": "%", "target": 95,
     "weight": 25},
    {"name": "Cold-chain audits passed", "kind": "quality", "unit": "%", "target": 90,
     "weight": 35},
]
_CSRF = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="a database to EMPTY (default: SQLite, temp dir)")
    parser.add_argument("--completions", type=int, default=200, help="per path (web, API)")
    parser.add_argument("--via", choices=("web", "api", "both"), default="both")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="print the N most expensive functions (cProfile, cumulative)")
    parser.add_argument("--show-sql", action="store_true",
                        help="print the statements of one API completion")
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


def seed(total: int) -> list[int]:
    """OFFICERS officers, `total` staff reporting to officer0 (countersigned by the others),
    each with a goal-setting case waiting at "design scorecard". Returns the task ids."""
    unit = OrgUnit(code="COST", name="Cost Directorate")
    hr = _user("cost-hr")
    db.session.add_all([unit, hr])
    db.session.flush()
    db.session.add(UserRole(user_id=hr.id, role=Role.HR, org_unit_id=unit.id))
    officer_users = [_user(f"officer{i}") for i in range(OFFICERS)]
    staff_users = [_user(f"staff{i}") for i in range(total)]
    db.session.add_all(officer_users + staff_users)
    db.session.flush()
    officers = [Employee(employee_number=f"OFF-{i}", full_name=f"Officer {i}", grade=18,
                         org_unit_id=unit.id, user_id=u.id) for i, u in enumerate(officer_users)]
    db.session.add_all(officers)
    db.session.flush()
    staff = [Employee(employee_number=f"STF-{i:06d}", full_name=f"Staff {i}", grade=16,
                      org_unit_id=unit.id, user_id=u.id, reporting_officer_id=officers[0].id,
                      countersigning_officer_id=officers[1 + i % (OFFICERS - 1)].id)
             for i, u in enumerate(staff_users)]
    db.session.add_all(staff)
    db.session.commit()
    hr_id, staff_ids = hr.id, [s.id for s in staff]
    case_ids = []
    for employee_id in staff_ids:
        case_ids.append(cases.start_case("goal_setting", employee_id,
                                         db.session.get(User, hr_id)).id)
        db.session.remove()
    return list(db.session.scalars(
        select(HumanTask.id).where(HumanTask.case_id.in_(case_ids),
                                   HumanTask.task_name == "design_scorecard")
        .order_by(HumanTask.id)))


def web_client(app: Flask) -> tuple[FlaskClient, str]:
    client = app.test_client()
    token = _CSRF.search(client.get("/login").get_data(as_text=True)).group(1)
    response = client.post("/login", data={"username": "officer0", "password": PASSWORD,
                                           "csrf_token": token})
    assert response.status_code == 302, response.status_code
    token = _CSRF.search(client.get("/tasks").get_data(as_text=True)).group(1)
    return client, token


def api_client(app: Flask) -> tuple[FlaskClient, str]:
    client = app.test_client()
    response = client.post("/api/v1/tokens", json={"username": "officer0", "password": PASSWORD})
    assert response.status_code == 201, response.get_data(as_text=True)
    return client, response.get_json()["token"]


def web_formdata(csrf: str) -> dict[str, str]:
    data = {"csrf_token": csrf}
    for index, kpi in enumerate(SCORECARD):
        for key, value in kpi.items():
            data[f"kpis-{index}-{key}"] = str(value)
    return data


class StatementCounter:
    def __init__(self) -> None:
        self.count = 0
        self.recording: list[str] | None = None

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.count += 1
        if self.recording is not None:
            self.recording.append(" ".join(statement.split())[:160])


def complete_all(app: Flask, via: str, task_ids: list[int], counter: StatementCounter,
                 profiler: cProfile.Profile | None) -> dict[str, float]:
    if via == "web":
        client, csrf = web_client(app)
        body = web_formdata(csrf)

        def post(task_id: int) -> int:
            return client.post(f"/tasks/{task_id}", data=body).status_code
        expected = 302
    else:
        client, token = api_client(app)
        headers = {"Authorization": f"Bearer {token}"}
        payload = {"data": {"kpis": SCORECARD}}

        def post(task_id: int) -> int:
            return client.post(f"/api/v1/tasks/{task_id}/complete", json=payload,
                               headers=headers).status_code
        expected = 200
    post(task_ids[0])  # warm-up (parsed-spec cache, first-request setup), not counted
    statements, cpu = [], []
    started = time.perf_counter()
    for task_id in task_ids[1:]:
        before_statements, before_cpu = counter.count, time.process_time()
        if profiler is not None:
            profiler.enable()
        status = post(task_id)
        if profiler is not None:
            profiler.disable()
        cpu.append(time.process_time() - before_cpu)
        statements.append(counter.count - before_statements)
        if status != expected:
            raise SystemExit(f"{via}: task {task_id} answered {status}")
    wall = time.perf_counter() - started
    with app.app_context():
        states = list(db.session.scalars(
            select(Case.workflow_state).join(HumanTask, HumanTask.case_id == Case.id)
            .where(HumanTask.id.in_(task_ids))))
        done = db.session.scalar(select(db.func.count(HumanTask.id)).where(
            HumanTask.id.in_(task_ids), HumanTask.status == TaskStatus.COMPLETED))
    if done != len(task_ids):
        raise SystemExit(f"{via}: only {done} of {len(task_ids)} tasks completed")
    return {
        "completions": len(cpu),
        "statements": statistics.mean(statements),
        "statements_max": max(statements),
        "cpu_ms": 1000 * statistics.mean(cpu),
        "cpu_ms_median": 1000 * statistics.median(cpu),
        "wall_ms": 1000 * wall / len(cpu),
        "state_bytes": statistics.mean(len(s.encode("utf-8")) for s in states),
    }


def show_sql(app: Flask, task_id: int, counter: StatementCounter) -> None:
    client, token = api_client(app)
    counter.recording = []
    client.post(f"/api/v1/tasks/{task_id}/complete", json={"data": {"kpis": SCORECARD}},
                headers={"Authorization": f"Bearer {token}"})
    recorded, counter.recording = counter.recording, None
    print(f"\n== the {len(recorded)} statements of one API completion ==")
    for number, statement in enumerate(recorded, 1):
        print(f"{number:3}. {statement}")
    kinds = Counter(s.split()[0] for s in recorded)
    print(dict(kinds))


def main() -> int:
    args = parse_args()
    tmp = tempfile.TemporaryDirectory()
    url = args.database_url or f"sqlite:///{Path(tmp.name) / 'completion-cost.db'}"
    app = make_app(url)
    paths = ["web", "api"] if args.via == "both" else [args.via]
    per_path = args.completions + 1  # one warm-up each
    with app.app_context():
        task_ids = seed(per_path * len(paths) + (1 if args.show_sql else 0))
        dialect = db.engine.dialect.name
        counter = StatementCounter()
        event.listen(db.engine, "before_cursor_execute", counter)
    profiler = cProfile.Profile() if args.profile else None
    print(f"{dialect}: {args.completions} design-scorecard completions per path "
          "(Flask test client, signed in as the reporting officer)")
    print(f"{'path':5} {'statements':>10} {'(max)':>6} {'CPU ms':>8} {'(median)':>9} "
          f"{'wall ms':>8} {'state bytes':>12}")
    for index, via in enumerate(paths):
        ids = task_ids[index * per_path:(index + 1) * per_path]
        figures = complete_all(app, via, ids, counter, profiler)
        print(f"{via:5} {figures['statements']:10.1f} {figures['statements_max']:6} "
              f"{figures['cpu_ms']:8.2f} {figures['cpu_ms_median']:9.2f} "
              f"{figures['wall_ms']:8.2f} {figures['state_bytes']:12.0f}", flush=True)
    if args.show_sql:
        show_sql(app, task_ids[-1], counter)
    if profiler is not None:
        stats = pstats.Stats(profiler)
        # Python function calls do not depend on the machine's load at all.
        print(f"\nPython function calls per completion: "
              f"{stats.total_calls / (args.completions * len(paths)):.0f}")
        stats.sort_stats("cumulative").print_stats(args.profile)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
