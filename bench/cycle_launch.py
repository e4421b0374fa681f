"""Benchmark: launching a performance cycle for a whole organisation.

Why this exists: HR launches a cycle for a department of tens of thousands of people at once, and
the launch must finish in minutes with memory that does not grow with the organisation. This
script builds an organisation of N employees in PostgreSQL, launches a cycle over all of it
through the real service layer (`app.services.cycles.launch_cycle`: the same engine, assignment,
audit and notification code as a single case start, batch by batch) and prints:

* elapsed time of the launch and cases started per second;
* peak memory (`ru_maxrss`) of this process and of the engine worker processes, and this
  process's resident memory after each tenth of the launch (flat means streaming works);
* a check that every employee in scope has exactly one cycle member row and the launchable
  ones exactly one case (the script exits non-zero if not).

The organisation: a secretariat headed by a secretary, a department below it headed by a
director general, and one district per 1,000 employees, each headed by a district officer with
section officers (one per 20 staff) who report to them. Everyone has a login. It is bulk-loaded
with COPY (users, employees); the schema is built by the real migrations, as tests/conftest.py
does, so the database named is emptied first: never point it at data you want to keep.

    .venv/bin/python bench/cycle_launch.py                        # 100,000 employees
    .venv/bin/python bench/cycle_launch.py --employees 20000 --workers 2
    .venv/bin/python bench/cycle_launch.py --database-url postgresql://postgres@127.0.0.1:5432/x
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import resource
import sys
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # run as a plain script: make `app` and `forms` importable
    sys.path.insert(0, str(REPO_ROOT))

from flask import Flask  # noqa: E402
from sqlalchemy import event, func, select, text  # noqa: E402

from app.extensions import db  # noqa: E402
from app.models import (  # noqa: E402
    Case,
    CycleMember,
    CycleMemberStatus,
    HumanTask,
    OrgUnit,
    ProcessModel,
    Role,
    User,
    UserRole,
)
from app.services import cycles  # noqa: E402
from bench.common import bench_app, rebuild_database  # noqa: E402

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/meezan_h5"
PER_DISTRICT = 1000
STAFF_PER_SECTION = 20
TARGET_SECONDS = 300
TARGET_MEMORY_MB = 500


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--employees", type=int, default=100_000,
                        help="employees in the organisation (default 100,000)")
    parser.add_argument("--database-url", default=DEFAULT_URL,
                        help=f"PostgreSQL database, emptied first (default {DEFAULT_URL})")
    parser.add_argument("--process", default=None,
                        help="process the cycle launches (default annual_appraisal if deployed, "
                             "else goal_setting)")
    parser.add_argument("--batch-size", type=int, default=cycles.DEFAULT_BATCH_SIZE)
    parser.add_argument("--workers", type=int, default=0,
                        help="engine worker processes (default 0: the engine runs in this one)")
    parser.add_argument("--profile", type=int, metavar="LINES", default=0,
                        help="cProfile the launch and print the top LINES by cumulative and own "
                             "time to stderr")
    args = parser.parse_args(argv)
    if args.employees < 3:
        parser.error("--employees must be at least 3")
    if not args.database_url.startswith(("postgresql://", "postgres://")):
        parser.error("this benchmark bulk-loads with COPY: give a postgresql:// URL")
    return args


def make_app(url: str) -> Flask:
    """The test configuration on `url`, schema rebuilt by the migrations, workflows deployed."""
    app = bench_app(url)
    with app.app_context():
        rebuild_database()
    return app


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _peak_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # kilobytes on Linux


def _postgres_cpu(database: str) -> dict[str, dict[int, float]]:
    """CPU seconds so far of the local PostgreSQL server's processes, by pid: the backends
    serving `database`, and the server's own background processes (checkpointer, WAL writer,
    autovacuum: shared with anything else the server does). Empty if the server is not local."""
    tick = os.sysconf("SC_CLK_TCK")
    found: dict[str, dict[int, float]] = {"backends": {}, "background": {}}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if not cmdline.startswith("postgres:"):
            continue
        seconds = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
        if f" {database} " in f" {cmdline} ":
            found["backends"][int(entry.name)] = seconds
        elif not any(f" {name} " in f" {cmdline} " for name in ("postgres", "template1")) \
                or "autovacuum" in cmdline:
            found["background"][int(entry.name)] = seconds
    return found


def _cpu_since(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def generate_org(employees: int) -> tuple[int, int]:
    """Bulk-load the organisation; returns (hr user id, root unit id)."""
    now = datetime.now(UTC)
    secretariat = OrgUnit(code="BENCH-SECRETARIAT", name="Benchmark Secretariat")
    department = OrgUnit(code="BENCH-DEPT", name="Benchmark Department", parent=secretariat)
    db.session.add_all([secretariat, department])
    districts = []
    for d in range(max(1, -(-(employees - 2) // PER_DISTRICT))):
        districts.append(OrgUnit(code=f"BENCH-D{d:04d}", name=f"District {d}",
                                 parent=department))
    db.session.add_all(districts)
    hr = User(username="bench-hr", full_name="Bench HR", password_hash="!bench",
              email="hr@bench.example")
    db.session.add(hr)
    db.session.flush()
    db.session.add(UserRole(user_id=hr.id, role=Role.HR, org_unit_id=secretariat.id))
    db.session.commit()
    hr_id, root_id = hr.id, secretariat.id
    district_ids = [d.id for d in districts]
    first_user = hr_id + 1

    # Employee i (1-based) has user first_user + i - 1. 1: secretary, 2: director general.
    rows = []  # (id, unit, ro, cso)
    rows.append((1, secretariat.id, None, None))
    rows.append((2, department.id, 1, None))
    heads: dict[int, int] = {}
    next_id = 3
    for d_index, unit_id in enumerate(district_ids):
        size = min(PER_DISTRICT, employees - 2 - d_index * PER_DISTRICT)
        if size <= 0:
            break
        head = next_id
        heads[unit_id] = head
        rows.append((head, unit_id, 2, 1))
        next_id += 1
        section_officer = None
        for k in range(size - 1):
            if k % (STAFF_PER_SECTION + 1) == 0:
                section_officer = next_id
                rows.append((next_id, unit_id, head, 2))
            else:
                rows.append((next_id, unit_id, section_officer, head))
            next_id += 1

    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        with cursor.copy("COPY users (id, username, full_name, email, password_hash, active, "
                         "created_at) FROM STDIN") as copy:
            for employee_id, *_ in rows:
                user_id = first_user + employee_id - 1
                copy.write_row((user_id, f"b{employee_id:07d}", f"Employee {employee_id}",
                                f"b{employee_id:07d}@bench.example", "!bench", True, now))
        with cursor.copy("COPY employees (id, employee_number, full_name, designation, grade, "
                         "base_pay, email, org_unit_id, user_id, reporting_officer_id, "
                         "countersigning_officer_id) FROM STDIN") as copy:
            for employee_id, unit_id, ro, cso in rows:
                copy.write_row((employee_id, f"B-{employee_id:07d}", f"Employee {employee_id}",
                                "Officer" if employee_id in heads.values() else "Staff",
                                14 + employee_id % 6, Decimal(60000 + (employee_id % 50) * 1000),
                                f"b{employee_id:07d}@bench.example", unit_id,
                                first_user + employee_id - 1, ro, cso))
        for table in ("users", "employees"):
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                           f"(SELECT max(id) FROM {table}))")
        cursor.execute("UPDATE org_units SET head_employee_id = 1 WHERE id = %s",
                       (secretariat.id,))
        cursor.execute("UPDATE org_units SET head_employee_id = 2 WHERE id = %s",
                       (department.id,))
        for unit_id, head in heads.items():
            cursor.execute("UPDATE org_units SET head_employee_id = %s WHERE id = %s",
                           (head, unit_id))
        cursor.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()
    return hr_id, root_id


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    app = make_app(args.database_url)
    with app.app_context():
        started = time.perf_counter()
        hr_id, root_id = generate_org(args.employees)
        print(f"organisation of {args.employees:,} employees generated in "
              f"{time.perf_counter() - started:.1f} s")
        deployed = {m.key for m in db.session.scalars(select(ProcessModel))}
        process = args.process or ("annual_appraisal" if "annual_appraisal" in deployed
                                   else "goal_setting")
        hr = db.session.get(User, hr_id)
        cycle = cycles.create_cycle(hr, cycles.CycleInput(
            name="Benchmark year", year=2027, process_key=process, org_unit_ids=[root_id],
            starts_on=date(2027, 1, 1), mid_year_on=date(2027, 7, 1),
            interview_opens_on=date(2027, 12, 1), interview_closes_on=date(2027, 12, 20),
            ends_on=date(2027, 12, 31), incentive_cap_percent=Decimal("20"),
            budget=Decimal("500000000"),
        ))
        cycle_id = cycle.id
        print(f"launching cycle #{cycle_id} ({process}) in batches of {args.batch_size}, "
              f"{args.workers} engine worker processes")

        samples: list[tuple[int, float, float]] = []  # (employees done, seconds, RSS MB)
        done = 0
        launch_started = time.perf_counter()

        def progress(result: cycles.LaunchResult, processed: int) -> None:
            nonlocal done
            done += processed
            tenth = max(1, result.in_scope // 10)
            if processed and (done // tenth != (done - processed) // tenth
                              or done == result.in_scope):
                seconds = time.perf_counter() - launch_started
                samples.append((done, seconds, _rss_mb()))
                print(f"  {done:>9,} / {result.in_scope:,} employees  {seconds:7.1f} s  "
                      f"RSS {_rss_mb():6.1f} MB", flush=True)

        statements = 0

        def count_statement(*_: object) -> None:
            nonlocal statements
            statements += 1

        event.listen(db.engine, "before_cursor_execute", count_statement)
        profiler = cProfile.Profile(time.process_time) if args.profile else None  # CPU, not waits
        if profiler:
            profiler.enable()
        database = db.engine.url.database or ""
        pg_before = _postgres_cpu(database)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        children_before = children.ru_utime + children.ru_stime
        cpu_started = time.process_time()
        result = cycles.launch_cycle(cycle_id, hr, batch_size=args.batch_size,
                                     workers=args.workers, progress=progress)
        cpu = time.process_time() - cpu_started
        pg_after = _postgres_cpu(database)  # the launch's connections are still pooled: alive
        children = resource.getrusage(resource.RUSAGE_CHILDREN)  # workers joined at the end
        workers_cpu = children.ru_utime + children.ru_stime - children_before
        pg_backends = _cpu_since(pg_before["backends"], pg_after["backends"])
        pg_background = _cpu_since(pg_before["background"], pg_after["background"])
        if profiler:
            profiler.disable()
        elapsed = time.perf_counter() - launch_started
        event.remove(db.engine, "before_cursor_execute", count_statement)
        load = os.getloadavg()[0]

        db.session.rollback()
        cases = db.session.scalar(select(func.count(Case.id)))
        tasks = db.session.scalar(select(func.count(HumanTask.id)))
        members = dict(db.session.execute(
            select(CycleMember.status, func.count(CycleMember.id))
            .where(CycleMember.cycle_id == cycle_id).group_by(CycleMember.status)).all())
        duplicates = db.session.scalar(select(func.count()).select_from(
            select(Case.subject_employee_id).group_by(Case.subject_employee_id)
            .having(func.count(Case.id) > 1).subquery()))
        size = db.session.scalar(text("SELECT pg_database_size(current_database())"))
        problems = cycles.not_launched_members(cycle_id, limit=3)

    launched = members.get(CycleMemberStatus.LAUNCHED, 0) or members.get("launched", 0)
    not_launched = members.get(CycleMemberStatus.NOT_LAUNCHED, 0) or members.get(
        "not_launched", 0)
    peak_self, peak_children = _peak_mb(resource.RUSAGE_SELF), _peak_mb(resource.RUSAGE_CHILDREN)
    ok = (cases == launched == result.cases_started and launched + not_launched == result.in_scope
          and duplicates == 0 and result.in_scope == args.employees)
    print()
    print(f"employees in scope      {result.in_scope:,}")
    print(f"cases started           {result.cases_started:,}  ({tasks:,} task rows)")
    print(f"employees not launched  {result.not_launched:,}"
          + "".join(f"\n    {m.employee.employee_number}: {m.problem}" for m in problems))
    print(f"elapsed                 {elapsed:.1f} s")
    print(f"cases per second        {result.cases_started / elapsed:.0f}")
    per_case = max(result.cases_started, 1)
    print(f"CPU of this process     {cpu:.1f} s ({cpu * 1000 / per_case:.2f} ms per case; "
          "engine workers not included)")
    if args.workers:
        print(f"CPU of engine workers   {workers_cpu:.1f} s ({workers_cpu * 1000 / per_case:.2f} "
              "ms per case)")
    if pg_after["backends"]:
        print(f"CPU of PostgreSQL       {pg_backends:.1f} s "
              f"({pg_backends * 1000 / per_case:.2f} ms per case) in this database's backends, "
              f"{pg_background:.1f} s in the server's background processes (shared)")
    print(f"SQL statements          {statements:,} ({statements / per_case:.2f} per case)")
    print(f"load average at the end {load:.1f} on {os.cpu_count()} CPUs (other work on the "
          "machine slows the launch)")
    print(f"peak memory (ru_maxrss) {peak_self:.0f} MB this process, "
          f"{peak_children:.0f} MB largest worker")
    if samples:
        print("RSS over the launch     " + ", ".join(f"{mb:.0f}" for _, _, mb in samples)
              + " MB")
    print(f"database size           {size / 1024 / 1024:.0f} MB")
    print(f"one case per person     {'yes' if ok else 'NO'}")
    print(f"target (<{TARGET_SECONDS} s, <{TARGET_MEMORY_MB} MB) "
          f"{'met' if elapsed < TARGET_SECONDS and peak_self < TARGET_MEMORY_MB else 'missed'}")
    if profiler:
        stats = pstats.Stats(profiler, stream=sys.stderr)
        stats.sort_stats("cumulative").print_stats(args.profile)
        stats.sort_stats("tottime").print_stats(args.profile)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
