"""Benchmark: the dashboards of a province's performance cycle with 100,000 employees, in
PostgreSQL.

Why this exists: the dashboards aggregate a whole cycle (stage completion, overdue work, KPI
achievement, rating distribution, league tables, the month-by-month trend) on every request.
They must stay a handful of GROUP BY queries over the reporting projection, not a loop over
people, however many employees the cycle has.

It drops every table of the database named by --database-url (as tests/conftest.py does),
builds the schema with the real migrations, deploys workflows/ and seeds the demo department,
then bulk loads with COPY:

* an org tree: a province, --departments departments below it, --districts district offices
  below each department;
* --employees employees spread over the districts (one in twenty on a department's own staff),
  a launched annual-appraisal cycle over the province, one case per employee;
* the projection rows those cases would have: each case somewhere in the year (goal setting to
  closed), its months of KPI actuals (a row per month in `appraisal_months`; with
  --kpi-rows also three KPIs a month in `appraisal_kpi_months`), scores and bands for those past
  the interview, about one case in eight overdue.

It then signs in as the administrator through the real login form and times --requests
requests each, through the Flask test client (the whole request: routing, auth, queries,
templates, export writers), and prints median, p95 and max in milliseconds:

* the dashboard page of the province (its departments ranked), of a department (its districts
  ranked), and of a district (its staff, first page);
* the league table of the province's departments as CSV and of a department's districts as
  XLSX.

    .venv/bin/python bench/dashboard.py
    .venv/bin/python bench/dashboard.py --employees 20000 --requests 20 --database-url ...

Never point it at a database whose data you want to keep.
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/queue.py shares its name with the standard library's `queue` (which psycopg's COPY
# uses): take this folder off the path, put the repository on it instead.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
REPO_ROOT = _HERE.parent
if str(REPO_ROOT) not in sys.path:  # run as a plain script: make `app` and `forms` importable
    sys.path.insert(0, str(REPO_ROOT))

import argparse  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402

import psycopg  # noqa: E402
from flask import Flask  # noqa: E402
from flask.testing import FlaskClient  # noqa: E402
from sqlalchemy import select, text  # noqa: E402

from app.clock import clock  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import ProcessModel, ProcessVersion  # noqa: E402
from app.services import demo  # noqa: E402
from app.services.reporting import STAGES  # noqa: E402
from bench.common import bench_app, rebuild_database  # noqa: E402

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/meezan_h1"
# The dashboards are read on 20 November 2026: the months January to October are reported.
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
GUIDELINE = {"outstanding": 10, "very_good": 20, "good": 40, "average": 20, "below_average": 10}
# How far through the year the cases are (stage, share of cases).
STAGE_MIX = [("goal_setting", 0.04), ("monthly_actuals", 0.62), ("mid_year_review", 0.04),
             ("appraisal_interview", 0.12), ("calibration", 0.08),
             ("incentive_approval", 0.05), ("completed", 0.05)]
KPIS = [("Children fully immunised", 40, 12000.0), ("Vaccinator attendance", 25, 95.0),
        ("Cold-chain audits passed", 35, 90.0)]


def rebuild_schema(app: Flask) -> None:
    with app.app_context():
        rebuild_database()
        demo.seed_demo()


def _band(score: float) -> str:
    for band, floor in (("outstanding", 90), ("very_good", 75), ("good", 60), ("average", 40)):
        if score >= floor:
            return band
    return "below_average"


def _stage(rng: random.Random) -> str:
    pick = rng.random()
    for stage, share in STAGE_MIX:
        if pick < share:
            return stage
        pick -= share
    return "completed"


def load(app: Flask, url: str, args: argparse.Namespace) -> dict[str, int]:
    """Bulk-load the org tree, employees, the cycle, cases and projection rows with COPY."""
    rng = random.Random(6)  # noqa: S311 - reproducible synthetic data, not security
    with app.app_context():
        version = db.session.scalar(
            select(ProcessVersion.id).join(ProcessModel)
            .where(ProcessModel.key == "annual_appraisal").order_by(ProcessVersion.id.desc()))
        db.session.remove()
    with psycopg.connect(url.replace("+psycopg", "")) as conn:
        province = conn.execute(
            "INSERT INTO org_units (code, name) VALUES ('BENCH-KP', 'Province (benchmark)') "
            "RETURNING id").fetchone()[0]
        departments, districts = [], []
        for d in range(args.departments):
            dep = conn.execute(
                "INSERT INTO org_units (code, name, parent_id) VALUES (%s, %s, %s) RETURNING id",
                (f"BENCH-D{d:02d}", f"Department {d:02d}", province)).fetchone()[0]
            departments.append(dep)
            for k in range(args.districts):
                districts.append(conn.execute(
                    "INSERT INTO org_units (code, name, parent_id) VALUES (%s, %s, %s) "
                    "RETURNING id", (f"BENCH-D{d:02d}-{k:02d}", f"District office {d:02d}-{k:02d}",
                                     dep)).fetchone()[0])
        units = [departments[n % len(departments)] if n % 20 == 0
                 else districts[rng.randrange(len(districts))] for n in range(args.employees)]
        with conn.cursor().copy(
                "COPY employees (employee_number, full_name, org_unit_id) FROM STDIN") as copy:
            for n, unit in enumerate(units):
                copy.write_row((f"BENCH-{n:06d}", f"Employee {n:06d}", unit))
        employees = [row[0] for row in conn.execute(
            "SELECT id FROM employees WHERE employee_number LIKE 'BENCH-%' ORDER BY id")]
        cycle = conn.execute(
            "INSERT INTO cycles (name, year, process_key, starts_on, mid_year_on, "
            "interview_opens_on, interview_closes_on, ends_on, incentive_cap_percent, budget, "
            "guideline_distribution, status, process_version_id, created_at, in_scope_count) "
            "VALUES ('Benchmark province 2026', 2026, 'annual_appraisal', '2026-01-01', "
            "'2026-07-01', '2026-12-01', '2026-12-20', '2026-12-31', 20, 500000000, %s, "
            "'launched', %s, now(), %s) RETURNING id",
            (json.dumps(GUIDELINE), version, args.employees)).fetchone()[0]
        conn.execute("INSERT INTO cycle_org_units (cycle_id, org_unit_id) VALUES (%s, %s)",
                     (cycle, province))
        first_case = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM cases").fetchone()[0]
        with conn.cursor().copy(
            "COPY cases (id, process_version_id, subject_employee_id, status, started_at, "
            "workflow_state, serializer_version, lock_version) FROM STDIN"
        ) as copy:
            for n, employee in enumerate(employees):
                copy.write_row((first_case + n, version, employee, "running",
                                "2026-01-01T04:00:00+00:00", "{}", "1.5", 1))
        conn.execute("SELECT setval('cases_id_seq', (SELECT max(id) FROM cases))")
        key = str(cycle)
        fact_rows: list[tuple] = []
        month_rows: list[tuple] = []
        kpi_rows: list[tuple] = []
        for n, (employee, unit) in enumerate(zip(employees, units, strict=True)):
            case_id = first_case + n
            stage = _stage(rng)
            rank = STAGES[stage]
            reported = 0 if rank == 0 else (rng.randint(1, 10) if rank == 1 else 10)
            skill = rng.uniform(0.45, 1.05)
            values: list[float] = []
            for m in range(1, reported + 1):
                month = f"2026-{m:02d}"
                kpis = [min(100.0, 100.0 * skill * rng.uniform(0.8, 1.15)) for _ in KPIS]
                values.extend(kpis)
                month_rows.append((case_id, month, key, unit, round(sum(kpis) / len(kpis), 2),
                                   len(kpis)))
                if args.kpi_rows:
                    kpi_rows.extend(
                        (case_id, month, name, weight, target,
                         round(target * achieved / 100.0, 1), round(achieved, 2))
                        for (name, weight, target), achieved in zip(KPIS, kpis, strict=True))
            score = round(sum(values) / len(values), 1) if rank >= 3 and values else None
            open_tasks = 0 if stage == "completed" or rng.random() < 0.3 else 1
            due = (NOW + timedelta(days=rng.uniform(-12, 30))) if open_tasks else None
            fact_rows.append((
                case_id, key, "annual_appraisal", employee, unit, stage, rank,
                rank >= 2 or (rank == 1 and reported >= 6), reported,
                round(sum(values) / len(values), 2) if values else None, open_tasks,
                due.isoformat() if due else None, score,
                _band(score) if score is not None else None, rank >= 4,
                round(1500 * (score or 0)) if rank >= 4 else None,
                "approved" if stage == "completed" else None, NOW.isoformat()))
        for sql, rows in (
            ("COPY appraisal_facts (case_id, cycle_key, process_key, employee_id, org_unit_id, "
             "stage, stage_rank, mid_year_done, months_reported, achievement, open_tasks, "
             "next_due_at, score, rating_band, rating_final, incentive_amount, "
             "incentive_status, updated_at) FROM STDIN", fact_rows),
            ("COPY appraisal_months (case_id, month, cycle_key, org_unit_id, achievement, "
             "kpi_count) FROM STDIN", month_rows),
            ("COPY appraisal_kpi_months (case_id, month, kpi, weight, target, actual, "
             "achievement) FROM STDIN", kpi_rows),
        ):
            with conn.cursor().copy(sql) as copy:
                for row in rows:
                    copy.write_row(row)
        conn.commit()
    # As autovacuum would after a bulk load: statistics, and the visibility map that lets the
    # dashboards' queries read the covering indexes without visiting the tables.
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return {"employees": len(employees), "months": len(month_rows),
            "kpi_months": len(kpi_rows),
            "cycle": cycle, "province": province, "department": departments[0],
            "district": districts[0], "units": 1 + len(departments) + len(districts)}


def login(client: FlaskClient, username: str) -> None:
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)
    response = client.post("/login", data={"username": username,
                                           "password": demo.DEMO_PASSWORD, "csrf_token": token})
    if response.status_code != 302:
        raise SystemExit(f"could not sign in as {username}")


def timed(call: Callable[[], int], requests: int) -> Iterator[float]:
    for _ in range(3):  # warm caches and connections
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
    return (f"{name:<46} median {statistics.median(ordered):7.1f} ms   p95 {p95:7.1f} ms   "
            f"max {ordered[-1]:7.1f} ms")


def _ids(app: Flask) -> dict[str, int]:
    with app.app_context():
        row = db.session.execute(text(
            "SELECT (SELECT id FROM cycles WHERE name = 'Benchmark province 2026'), "
            "(SELECT id FROM org_units WHERE code = 'BENCH-KP'), "
            "(SELECT id FROM org_units WHERE code = 'BENCH-D00'), "
            "(SELECT id FROM org_units WHERE code = 'BENCH-D00-00')")).one()
        db.session.remove()
    return dict(zip(("cycle", "province", "department", "district"), row, strict=True))


def measure(app: Flask, ids: dict[str, int], requests: int) -> list[tuple[str, list[float]]]:
    web = app.test_client()
    login(web, "admin")
    base = f"/dashboards/{ids['cycle']}"
    scenarios: list[tuple[str, Callable[[], int]]] = [
        ("dashboard page: province (departments)", lambda: web.get(
            f"{base}?unit={ids['province']}").status_code),
        ("dashboard page: department (districts)", lambda: web.get(
            f"{base}?unit={ids['department']}").status_code),
        ("dashboard page: district (its staff)", lambda: web.get(
            f"{base}?unit={ids['district']}").status_code),
        ("league table CSV: province, by score", lambda: web.get(
            f"{base}/export.csv?table=units&order=score&unit={ids['province']}").status_code),
        ("league table XLSX: department", lambda: web.get(
            f"{base}/export.xlsx?table=units&unit={ids['department']}").status_code),
    ]
    results = []
    with app.app_context():
        clock.freeze(NOW)
        for name, call in scenarios:
            results.append((name, list(timed(call, requests))))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--employees", type=int, default=100_000)
    parser.add_argument("--departments", type=int, default=10)
    parser.add_argument("--districts", type=int, default=30, help="per department")
    parser.add_argument("--requests", type=int, default=50, help="timed requests per scenario")
    parser.add_argument("--kpi-rows", action="store_true",
                        help="also load three KPI rows per case and month (not read by the "
                             "dashboards; about 3 million rows at 100,000 employees)")
    parser.add_argument("--reuse", action="store_true",
                        help="measure the data a previous run loaded, without rebuilding")
    args = parser.parse_args()
    if not args.database_url.startswith("postgresql"):
        raise SystemExit("bench/dashboard.py measures PostgreSQL: give a postgresql:// URL")
    app = bench_app(args.database_url)
    if not args.reuse:
        started = time.perf_counter()
        rebuild_schema(app)
        made = load(app, args.database_url, args)
        print(f"loaded {made['employees']:,} employees' cases, {made['months']:,} month rows "
              f"and {made['kpi_months']:,} KPI-month rows in {made['units']:,} org units in "
              f"{time.perf_counter() - started:.0f} s")
    ids = _ids(app)
    print(f"{args.requests} requests each, through the Flask test client (whole request):")
    for name, samples in measure(app, ids, args.requests):
        print(report(name, samples))
    return 0


if __name__ == "__main__":
    sys.exit(main())
