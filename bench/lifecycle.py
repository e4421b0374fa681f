"""Benchmark: goal-setting cases through Meezan's service layer versus bare SpiffWorkflow.

Why this exists: every case action in Meezan loads the workflow from its JSON state, runs the
engine under restricted scripts, syncs task rows, writes audit events and commits, all under a
row lock. This script measures what that costs per case against the floor set by the engine
alone, so a regression in the service layer (or a database that makes it slow) shows up as a
number rather than a feeling.

It runs N goal-setting cases to completion twice in one process:

* through the service layer with a real database: `cases.start_case`, then
  `tasks.complete_task` for design_scorecard (reporting officer), review_scorecard (employee
  agrees) and countersign_scorecard (countersigning officer approves);
* with bare SpiffWorkflow in memory, on the same BPMN file, parsed once.

Only the case lifecycles are timed, not schema creation, deployment or seeding; besides wall
time it reports this process's CPU time and the SQL statements sent per case. It then checks
that every case completed with exactly three completed human tasks, and exits non-zero if not.

    .venv/bin/python bench/lifecycle.py --cases 200
    .venv/bin/python bench/lifecycle.py --database-url postgresql://postgres@127.0.0.1:5432/test

PostgreSQL databases are emptied first (every table dropped, as tests/conftest.py does), so never
point it at a database whose data you want to keep.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # run as a plain script: make `app` and `forms` importable
    sys.path.insert(0, str(REPO_ROOT))

from flask import Flask  # noqa: E402
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow  # noqa: E402
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser  # noqa: E402
from SpiffWorkflow.util.task import TaskState  # noqa: E402
from sqlalchemy import event, func, select  # noqa: E402

from app.extensions import db  # noqa: E402
from app.models import (  # noqa: E402
    Case,
    CaseStatus,
    Employee,
    HumanTask,
    OrgUnit,
    Role,
    TaskStatus,
    User,
    UserRole,
)
from app.services import cases, tasks  # noqa: E402
from bench.common import bench_app, rebuild_database  # noqa: E402
from forms import formdata_from_json  # noqa: E402

PROCESS_KEY = "goal_setting"
BPMN_PATH = REPO_ROOT / "workflows" / "goal_setting.bpmn"
PASSWORD = "bench-password"
FAST_HASH = "pbkdf2:sha256:1000"
# Officers are shared: employee i reports to RO i % OFFICERS and is countersigned by CSO
# i % OFFICERS, so the countersigning officer always differs from the reporting officer.
OFFICERS = 5
HUMAN_STEPS = ("design_scorecard", "review_scorecard", "countersign_scorecard")

SCORECARD: list[dict[str, Any]] = [
    {"name": "Children fully immunised", "kind": "quantity", "unit": "children",
     "target": 12000, "weight": 40},
    {"name": "Vaccinator attendance", "kind": "quantity", "unit": "%", "target": 95, "weight": 25},
    {"name": "Cold-chain audits passed", "kind": "quality", "unit": "%", "target": 90,
     "weight": 35},
]
# What the service layer's forms turn the submissions into, for the bare engine run.
ENGINE_STEP_DATA: dict[str, dict[str, Any]] = {
    "design_scorecard": {
        "scorecard": [kpi | {"target": float(kpi["target"])} for kpi in SCORECARD]
    },
    "review_scorecard": {"employee_decision": "agree", "employee_comment": ""},
    "countersign_scorecard": {"countersign_decision": "approve", "countersign_comment": ""},
}
FORM_STEP_DATA: dict[str, dict[str, Any]] = {
    "design_scorecard": {"kpis": SCORECARD},
    "review_scorecard": {"decision": "agree"},
    "countersign_scorecard": {"decision": "approve"},
}


@dataclass(frozen=True)
class Participants:
    """User ids acting on one subject's case."""

    employee_id: int
    subject_user_id: int
    reporting_user_id: int
    countersigning_user_id: int


@dataclass(frozen=True)
class ServiceTiming:
    seconds: float
    cpu_seconds: float  # this process only: excludes time the database server spends
    statements: int  # SQL statements sent, commits not included
    dialect: str


@dataclass
class Figures:
    cases: int
    dialect: str
    service_seconds: float
    service_cases_per_second: float
    service_ms_per_case: float
    service_cpu_ms_per_case: float
    service_statements_per_case: float
    engine_seconds: float
    engine_cases_per_second: float
    engine_ms_per_case: float
    service_to_engine_ratio: float
    mean_workflow_state_bytes: float
    completed_cases: int
    completed_human_tasks: int
    engine_completed: int
    ok: bool


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=200, help="number of cases (default 200)")
    parser.add_argument(
        "--database-url",
        help="database to use; default a fresh SQLite file in a temporary directory. "
        "PostgreSQL databases are emptied (all tables dropped) first.",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON line of figures")
    parser.add_argument(
        "--profile",
        type=int,
        metavar="LINES",
        default=0,
        help="cProfile the service-layer lifecycles and print the top LINES by cumulative "
        "and by own time to stderr",
    )
    args = parser.parse_args(argv)
    if args.cases < 1:
        parser.error("--cases must be at least 1")
    return args


@contextmanager
def database_url(url: str | None) -> Iterator[str]:
    """The given URL, or a fresh SQLite file removed afterwards."""
    if url:
        yield url
        return
    with tempfile.TemporaryDirectory(prefix="meezan-bench-") as tmp:
        yield f"sqlite:///{Path(tmp) / 'bench.db'}"


def make_app(url: str) -> Flask:
    """The test configuration (fast password hashing) on `url`, with a fresh schema built by the
    real migrations and the workflows deployed."""
    app = bench_app(url, overrides={"PASSWORD_HASH_METHOD": FAST_HASH})
    with app.app_context():
        rebuild_database()
    return app


def _user(username: str, full_name: str) -> User:
    user = User(username=username, full_name=full_name, email=f"{username}@bench.example")
    user.set_password(PASSWORD)
    return user


def seed(count: int) -> tuple[int, list[Participants]]:
    """One unit, an HR user scoped to it, OFFICERS reporting and OFFICERS countersigning
    officers, and `count` subject employees. Returns the HR user id and each subject's people."""
    unit = OrgUnit(code="BENCH", name="Benchmark Directorate")
    hr = _user("bench-hr", "Bench HR")
    db.session.add_all([unit, hr])
    db.session.flush()
    db.session.add(UserRole(user_id=hr.id, role=Role.HR, org_unit_id=unit.id))

    def employees(
        prefix: str, title: str, n: int, ros: Sequence[Employee] = (), csos: Sequence[Employee] = ()
    ) -> list[Employee]:
        users = [_user(f"{prefix}{i}", f"{title} {i}") for i in range(n)]
        db.session.add_all(users)
        db.session.flush()
        rows = [
            Employee(
                employee_number=f"{prefix.upper()}-{i:06d}",
                full_name=f"{title} {i}",
                designation=title,
                grade=17,
                org_unit_id=unit.id,
                user_id=user.id,
                # Foreign keys, not the relationships: those use post_update (an UPDATE each).
                reporting_officer_id=ros[i % OFFICERS].id if ros else None,
                countersigning_officer_id=csos[i % OFFICERS].id if csos else None,
            )
            for i, user in enumerate(users)
        ]
        db.session.add_all(rows)
        db.session.flush()
        return rows

    ros = employees("ro", "Reporting Officer", OFFICERS)
    csos = employees("cso", "Countersigning Officer", OFFICERS)
    subjects = employees("emp", "Employee", count, ros, csos)
    db.session.commit()
    people = [
        Participants(
            employee_id=s.id,
            subject_user_id=s.user_id,
            reporting_user_id=ros[i % OFFICERS].user_id,
            countersigning_user_id=csos[i % OFFICERS].user_id,
        )
        for i, s in enumerate(subjects)
    ]
    hr_id = hr.id
    db.session.remove()
    return hr_id, people


def _actor(user_id: int) -> User:
    user = db.session.get(User, user_id)
    assert user is not None
    return user


def run_service_case(hr_id: int, who: Participants) -> None:
    """One case, start to finish; each action is a "request" with its own session, as in the
    web app (load the acting user, call the service, end the session)."""
    case_id = cases.start_case(PROCESS_KEY, who.employee_id, _actor(hr_id)).id
    db.session.remove()
    actors = {
        "design_scorecard": who.reporting_user_id,
        "review_scorecard": who.subject_user_id,
        "countersign_scorecard": who.countersigning_user_id,
    }
    for step in HUMAN_STEPS:
        user = _actor(actors[step])
        task = db.session.scalars(
            select(HumanTask).where(
                HumanTask.case_id == case_id, HumanTask.status == TaskStatus.OPEN
            )
        ).one()
        if task.task_name != step or task.assignee_id != user.id:
            raise RuntimeError(
                f"case {case_id}: expected {step} for user {user.id}, "
                f"got {task.task_name} for user {task.assignee_id}"
            )
        tasks.complete_task(user, task.id, formdata_from_json(FORM_STEP_DATA[step]))
        db.session.remove()


def time_service(app: Flask, count: int, profile_lines: int) -> ServiceTiming:
    """Seed, then time `count` lifecycles."""
    with app.app_context():
        dialect = db.engine.dialect.name
        hr_id, people = seed(count)
        statements = 0

        def count_statement(*_args: Any) -> None:
            nonlocal statements
            statements += 1

        event.listen(db.engine, "before_cursor_execute", count_statement)
        profiler = cProfile.Profile() if profile_lines else None
        started, cpu_started = time.perf_counter(), time.process_time()
        if profiler:
            profiler.enable()
        for who in people:
            run_service_case(hr_id, who)
        if profiler:
            profiler.disable()
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        event.remove(db.engine, "before_cursor_execute", count_statement)
        if profiler:
            for order in ("cumulative", "tottime"):
                stats = pstats.Stats(profiler, stream=sys.stderr)
                stats.sort_stats(order).print_stats(profile_lines)
    return ServiceTiming(elapsed, cpu, statements, dialect)


def time_engine(count: int) -> tuple[float, int]:
    """`count` lifecycles with bare SpiffWorkflow (default script engine, no serialization).
    Returns (seconds, number of completed workflows)."""
    parser = SpiffBpmnParser(validator=VALIDATOR)
    parser.add_bpmn_file(str(BPMN_PATH))
    spec = parser.get_spec(PROCESS_KEY)
    subprocess_specs = parser.get_subprocess_specs(PROCESS_KEY)
    subject = {"subject": {"employee_id": 1, "employee_number": "EMP-000001", "name": "Employee",
                           "designation": "Employee", "grade": 17, "org_unit": "Bench"}}
    completed = 0
    started = time.perf_counter()
    for _ in range(count):
        workflow = BpmnWorkflow(spec, subprocess_specs)
        workflow.data.update(subject)
        for task in workflow.get_tasks(state=TaskState.READY):
            task.data.update(subject)
        workflow.do_engine_steps()
        for step in HUMAN_STEPS:
            [task] = workflow.get_tasks(state=TaskState.READY, manual=True)
            if task.task_spec.bpmn_id != step:
                raise RuntimeError(f"bare engine: expected {step}, got {task.task_spec.bpmn_id}")
            task.data.update(ENGINE_STEP_DATA[step])
            task.run()
            workflow.do_engine_steps()
        completed += workflow.is_completed()
    return time.perf_counter() - started, completed


def verify(app: Flask) -> tuple[int, int, float]:
    """(completed cases, completed human tasks, mean workflow_state size in bytes)."""
    with app.app_context():
        completed_cases = db.session.scalar(
            select(func.count(Case.id)).where(Case.status == CaseStatus.COMPLETED)
        )
        completed_tasks = db.session.scalar(
            select(func.count(HumanTask.id)).where(HumanTask.status == TaskStatus.COMPLETED)
        )
        sizes = [len(state.encode("utf-8")) for state in db.session.scalars(
            select(Case.workflow_state)
        )]
        db.session.remove()
        db.engine.dispose()
    return completed_cases or 0, completed_tasks or 0, sum(sizes) / len(sizes) if sizes else 0.0


def run(count: int, url: str, profile_lines: int = 0) -> Figures:
    app = make_app(url)
    service = time_service(app, count, profile_lines)
    service_seconds = service.seconds
    engine_seconds, engine_completed = time_engine(count)
    completed_cases, completed_tasks, mean_state = verify(app)
    ok = (
        completed_cases == count
        and completed_tasks == len(HUMAN_STEPS) * count
        and engine_completed == count
    )
    return Figures(
        cases=count,
        dialect=service.dialect,
        service_seconds=round(service_seconds, 4),
        service_cases_per_second=round(count / service_seconds, 2),
        service_ms_per_case=round(1000 * service_seconds / count, 3),
        service_cpu_ms_per_case=round(1000 * service.cpu_seconds / count, 3),
        service_statements_per_case=round(service.statements / count, 2),
        engine_seconds=round(engine_seconds, 4),
        engine_cases_per_second=round(count / engine_seconds, 2),
        engine_ms_per_case=round(1000 * engine_seconds / count, 3),
        service_to_engine_ratio=round(service_seconds / engine_seconds, 2),
        mean_workflow_state_bytes=round(mean_state, 1),
        completed_cases=completed_cases,
        completed_human_tasks=completed_tasks,
        engine_completed=engine_completed,
        ok=ok,
    )


def report(figures: Figures) -> str:
    f = figures
    return "\n".join([
        f"cases (N)                   {f.cases}",
        f"database dialect            {f.dialect}",
        f"service + database          {f.service_seconds:9.3f} s  "
        f"{f.service_cases_per_second:9.1f} cases/s  {f.service_ms_per_case:8.2f} ms/case",
        f"  of which CPU here         {f.service_cpu_ms_per_case:8.2f} ms/case "
        f"(the rest: database server, disk sync, waiting for a CPU)",
        f"  SQL statements            {f.service_statements_per_case:8.1f} per case",
        f"bare SpiffWorkflow          {f.engine_seconds:9.3f} s  "
        f"{f.engine_cases_per_second:9.1f} cases/s  {f.engine_ms_per_case:8.2f} ms/case",
        f"ratio service / engine      {f.service_to_engine_ratio:.1f}x",
        f"mean workflow_state size    {f.mean_workflow_state_bytes:.0f} bytes",
        f"completed cases             {f.completed_cases} / {f.cases}",
        f"completed human tasks       {f.completed_human_tasks} / {len(HUMAN_STEPS) * f.cases}",
        f"bare engine completed       {f.engine_completed} / {f.cases}",
        f"verification                {'OK' if f.ok else 'FAILED'}",
    ])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with database_url(args.database_url) as url:
        figures = run(args.cases, url, args.profile)
    print(json.dumps(asdict(figures)) if args.json else report(figures))
    if not figures.ok:
        print("verification failed: not every case completed with 3 human tasks", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
