"""Performance cycles: who defines them, what a valid cycle is (one incentive cap for everyone),
and launching one case per employee in scope — reported per employee, idempotent, pinned."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import IntegrityError

from app.clock import clock
from app.extensions import db
from app.models import (
    AuditEvent,
    AuditEventType,
    Case,
    CycleMember,
    CycleMemberStatus,
    CycleStatus,
    Employee,
    HumanTask,
    Role,
    User,
    UserRole,
)
from app.services import cases, cycles, notifications, process_models
from app.services.errors import Conflict, PermissionDenied, ValidationFailed
from tests.conftest import employee_of
from tests.org_factory import add_employees, add_unit, cycle_input, employee

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"


def _events(event_type: AuditEventType) -> list[AuditEvent]:
    return list(db.session.scalars(
        select(AuditEvent).where(AuditEvent.event_type == event_type).order_by(AuditEvent.seq)))


def _cases_of(cycle_id: int) -> list[Case]:
    db.session.expire_all()
    return list(db.session.scalars(
        select(Case).join(CycleMember, CycleMember.case_id == Case.id)
        .where(CycleMember.cycle_id == cycle_id).order_by(Case.subject_employee_id)))


def _count(model: type, *where: object) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def _members(cycle_id: int, status: CycleMemberStatus) -> dict[str, str | None]:
    db.session.expire_all()
    return {m.employee.employee_number: m.problem for m in db.session.scalars(
        select(CycleMember).where(CycleMember.cycle_id == cycle_id, CycleMember.status == status))}


@pytest.fixture
def frozen_clock() -> Iterator[None]:
    clock.freeze(datetime(2027, 1, 4, 9, 0, tzinfo=UTC))
    yield
    clock.reset()


def _other_department_hr() -> User:
    """HR of an education department: no role in health."""
    education = add_unit("KP-EDU", "Elementary & Secondary Education", parent_code=None)
    user = User(username="hr_edu", full_name="Education HR", password_hash="!")
    user.roles = [UserRole(role=Role.HR, org_unit_id=education.id)]
    db.session.add(user)
    db.session.commit()
    return user


# --- defining a cycle -------------------------------------------------------------------------


def test_hr_defines_a_cycle_for_units_in_their_scope_and_it_is_audited(org) -> None:
    cycle = cycles.create_cycle(org["hr1"], cycle_input())
    assert cycle.status == CycleStatus.DRAFT
    assert [u.code for u in cycle.org_units] == ["KP-HEALTH"]
    created = _events(AuditEventType.CYCLE_CREATED)
    assert len(created) == 1 and created[0].actor_id == org["hr1"].id
    assert created[0].details["incentive_cap_percent"] == 20.0
    assert created[0].details["guideline_distribution"] == cycles.DEFAULT_DISTRIBUTION


def test_hr_cannot_define_a_cycle_for_a_unit_outside_their_scope(org) -> None:
    education = add_unit("KP-EDU", "Elementary & Secondary Education", parent_code=None)
    with pytest.raises(PermissionDenied):
        cycles.create_cycle(org["hr1"], cycle_input(org_unit_ids=[education.id]))
    assert _count(AuditEvent, AuditEvent.event_type == AuditEventType.CYCLE_CREATED) == 0


@pytest.mark.parametrize("username", ["emp1", "ro1", "cso1", "fin1", "owner1"])
def test_only_hr_or_an_admin_may_define_a_cycle(org, username: str) -> None:
    with pytest.raises(PermissionDenied):
        cycles.create_cycle(org[username], cycle_input())


def test_an_admin_may_define_a_cycle_for_any_unit(org) -> None:
    education = add_unit("KP-EDU", "Elementary & Secondary Education", parent_code=None)
    cycle = cycles.create_cycle(org["admin"], cycle_input(org_unit_ids=[education.id]))
    assert cycle.org_units == [education]


def _refused(org, field: str, **overrides: object) -> list[str]:  # noqa: ANN001
    with pytest.raises(ValidationFailed) as refused:
        cycles.create_cycle(org["hr1"], cycle_input(**overrides))
    assert field in refused.value.errors, refused.value.errors
    return refused.value.errors[field]


def test_the_guideline_distribution_must_add_up_to_100(org) -> None:
    shares = dict(cycles.DEFAULT_DISTRIBUTION, outstanding=15)
    messages = _refused(org, "guideline_distribution", guideline_distribution=shares)
    assert "add up to 100" in messages[0]


def test_the_guideline_distribution_names_every_rating_band(org) -> None:
    shares = {"outstanding": 50, "good": 50}
    assert "each rating band" in _refused(org, "guideline_distribution",
                                          guideline_distribution=shares)[0]


@pytest.mark.parametrize("cap", ["0", "-5", "100.01", "NaN", "12.345"])
def test_the_incentive_cap_is_one_share_of_base_pay_above_0_and_at_most_100(org, cap) -> None:
    _refused(org, "incentive_cap_percent", incentive_cap_percent=Decimal(cap))


@pytest.mark.parametrize("budget", ["0", "-1", "1.001"])
def test_the_budget_must_be_a_positive_amount(org, budget: str) -> None:
    _refused(org, "budget", budget=Decimal(budget))


def test_the_cycle_dates_must_follow_each_other(org) -> None:
    _refused(org, "mid_year_on", mid_year_on=date(2026, 12, 1))
    _refused(org, "interview_closes_on", interview_closes_on=date(2027, 11, 1))
    _refused(org, "ends_on", ends_on=date(2026, 12, 31))


def test_a_cycle_needs_at_least_one_org_unit(org) -> None:
    _refused(org, "org_unit_ids", org_unit_ids=[])


def test_a_cycle_launches_a_deployed_process(org) -> None:
    _refused(org, "process_key", process_key="no_such_process")


def test_cycle_names_are_unique(org) -> None:
    cycles.create_cycle(org["hr1"], cycle_input())
    _refused(org, "name", name="performance YEAR 2027")


def test_a_draft_cycle_can_be_changed_and_the_change_is_audited(org) -> None:
    cycle = cycles.create_cycle(org["hr1"], cycle_input())
    cycles.update_cycle(org["hr1"], cycle.id, cycle_input(incentive_cap_percent=Decimal("15")))
    assert cycle.incentive_cap_percent == Decimal("15")
    updated = _events(AuditEventType.CYCLE_UPDATED)
    assert updated[0].details["changes"] == {"incentive_cap_percent": {"before": 20.0,
                                                                       "after": 15.0}}


def test_once_launched_a_cycles_cap_and_dates_are_frozen(org) -> None:
    cycle = cycles.create_cycle(org["hr1"], cycle_input())
    cycles.launch_cycle(cycle.id, org["hr1"])
    with pytest.raises(Conflict, match="same maximum incentive"):
        cycles.update_cycle(org["hr1"], cycle.id,
                            cycle_input(incentive_cap_percent=Decimal("30")))
    db.session.expire_all()
    assert cycle.incentive_cap_percent == Decimal("20")


# --- launching --------------------------------------------------------------------------------


@pytest.fixture
def department(org) -> list[int]:  # noqa: ANN001
    """The demo department plus 30 employees in a district unit below it."""
    return add_employees(30)


def test_a_launch_starts_one_case_per_employee_of_the_units_and_the_units_below(
    org, department
) -> None:
    add_unit("KP-EDU", "Elementary & Secondary Education", parent_code=None)
    outsider = add_employees(3, unit_code="KP-EDU-1", unit_name="School", parent_code="KP-EDU",
                             prefix="EDU")
    cycle = cycles.create_cycle(org["hr1"], cycle_input())
    result = cycles.launch_cycle(cycle.id, org["hr1"], batch_size=7)
    subjects = [c.subject_employee_id for c in _cases_of(cycle.id)]
    assert set(department) <= set(subjects)
    assert not set(outsider) & set(subjects)
    assert len(subjects) == len(set(subjects)) == result.cases_started
    assert result.in_scope == 7 + 30  # the demo department's seven people and the district's 30


def test_employees_whose_org_data_cannot_route_the_process_are_reported_not_fatal(
    org, department
) -> None:
    cycle = cycles.create_cycle(org["hr1"], cycle_input())
    result = cycles.launch_cycle(cycle.id, org["hr1"])
    not_launched = _members(cycle.id, CycleMemberStatus.NOT_LAUNCHED)
    assert not_launched["KP-00001"] == "Farah Qureshi has no reporting officer in the org data."
    assert "no countersigning officer" in not_launched["KP-00002"]
    assert result.not_launched == len(not_launched) == 5
    assert result.cases_started == 32  # emp1, emp2 and the district's 30
    assert _count(Case, Case.subject_employee_id == employee("KP-00001").id) == 0


def test_the_launcher_gets_no_case_about_themselves(org, department) -> None:
    cycle = cycles.create_cycle(org["hr1"], cycle_input())
    cycles.launch_cycle(cycle.id, org["hr1"])
    problem = _members(cycle.id, CycleMemberStatus.NOT_LAUNCHED)["KP-00005"]  # hr1
    assert "cannot launch a case about yourself" in problem


def test_an_employee_already_in_a_running_case_of_the_process_is_reported(org) -> None:
    running = cases.start_case("goal_setting", employee_of(org["emp2"]).id, org["hr1"])
    cycle = cycles.create_cycle(org["hr1"], cycle_input())
    cycles.launch_cycle(cycle.id, org["hr1"])
    problem = _members(cycle.id, CycleMemberStatus.NOT_LAUNCHED)["KP-00004"]
    assert f"already has a running Goal setting case (#{running.id})" in problem
    assert _count(Case, Case.subject_employee_id == employee_of(org["emp2"]).id) == 1


def test_each_case_starts_with_the_cycles_dates_cap_and_guideline(org) -> None:
    cycle = cycles.create_cycle(org["hr1"], cycle_input())
    cycles.launch_cycle(cycle.id, org["hr1"])
    case = next(c for c in _cases_of(cycle.id) if c.subject.employee_number == "KP-00003")
    data = cases.view_case(org["admin"], case.id).data
    assert data["cycle"]["id"] == cycle.id
    assert data["cycle"]["mid_year_on"] == "2027-07-01"
    assert data["cycle"]["interview_opens_on"] == "2027-12-01"
    assert data["cycle"]["interview_closes_on"] == "2027-12-20"
    assert data["cycle"]["guideline_distribution"] == cycles.DEFAULT_DISTRIBUTION
    assert data["incentive_cap"] == {"percent_of_base_pay": 20.0, "base_pay": 142000.0,
                                     "amount": 28400.0}
    assert data["subject"]["employee_number"] == "KP-00003"


def test_every_case_of_a_cycle_has_the_same_maximum_incentive(org, department) -> None:
    employee("MRD-00001").base_pay = Decimal("250000")
    db.session.commit()
    cycle = cycles.create_cycle(org["hr1"], cycle_input(incentive_cap_percent=Decimal("12.5")))
    cycles.launch_cycle(cycle.id, org["hr1"], batch_size=9)
    caps = set()
    for case in _cases_of(cycle.id):
        data = cases.view_case(org["admin"], case.id).data
        caps.add((data["cycle"]["incentive_cap_percent"],
                  data["incentive_cap"]["percent_of_base_pay"]))
        assert data["incentive_cap"]["amount"] == data["incentive_cap"]["base_pay"] * 0.125
    assert caps == {(12.5, 12.5)}


def test_each_launched_case_has_its_tasks_assigned_and_audited_like_a_single_start(
    org, department
) -> None:
    cycle = cycles.create_cycle(org["hr1"], cycle_input())
    cycles.launch_cycle(cycle.id, org["hr1"], batch_size=8)
    launched = _cases_of(cycle.id)
    for case in launched:
        assert [(t.task_name, t.assignee_id) for t in case.tasks] == [
            ("design_scorecard", org["ro1"].id)]
        kinds = [e.event_type for e in db.session.scalars(
            select(AuditEvent).where(AuditEvent.case_id == case.id).order_by(AuditEvent.seq))]
        assert kinds == [AuditEventType.CASE_STARTED, AuditEventType.TASK_ASSIGNED]
    started = _events(AuditEventType.CASE_STARTED)
    assert {e.details["cycle"] for e in started} == {cycle.id}
    assert {e.actor_id for e in started} == {org["hr1"].id}


def test_a_launch_batch_looks_its_task_holders_up_at_once_however_many_there_are(org) -> None:
    """A hundred thousand people's launch must not pay a query per new task: each batch reads
    the users its new tasks go to in one statement, whether they are one officer or twenty."""
    add_employees(20, prefix="RO")  # twenty officers (ro00001…ro00020) ...
    for i in range(1, 21):  # ... each the reporting officer of two people
        add_employees(2, reporting_officer=f"ro{i:05d}", prefix=f"T{i}X")
    cycle = cycles.create_cycle(org["hr1"], cycle_input())
    user_reads: list[str] = []

    def remember(_conn, _cursor, statement: str, *_args) -> None:  # noqa: ANN001
        if statement.lstrip().upper().startswith("SELECT") and "FROM users" in statement:
            user_reads.append(" ".join(statement.split())[-90:])

    event.listen(db.engine, "before_cursor_execute", remember)
    try:
        result = cycles.launch_cycle(cycle.id, org["hr1"], batch_size=100)
    finally:
        event.remove(db.engine, "before_cursor_execute", remember)
    holders = {t.assignee_id for case in _cases_of(cycle.id) for t in case.tasks}
    assert result.cases_started >= 60 and len(holders) == 21  # ro1 and the twenty
    # A few fixed reads (the launcher, each batch's holders at once), not one per holder: 45
    # statements here when each new task looked its holder up by id.
    assert len(user_reads) <= 8, user_reads


def test_a_launch_is_audited_with_its_counts(org, department) -> None:
    cycle = cycles.create_cycle(org["hr1"], cycle_input())
    cycles.launch_cycle(cycle.id, org["hr1"])
    started = _events(AuditEventType.CYCLE_LAUNCH_STARTED)
    launched = _events(AuditEventType.CYCLE_LAUNCHED)
    assert started[0].details["in_scope"] == 37
    assert launched[0].details == {
        "cycle": cycle.id, "in_scope": 37, "cases_started": 32, "not_launched": 5,
        "already_launched": 0, "launched_total": 32, "not_launched_total": 5}
    assert launched[0].actor_id == org["hr1"].id


def test_a_launch_commits_batch_by_batch_and_reports_progress(org, department) -> None:
    cycle = cycles.create_cycle(org["hr1"], cycle_input())
    seen: list[tuple[int, int]] = []

    def progress(result: cycles.LaunchResult, processed: int) -> None:
        seen.append((processed, _count(CycleMember, CycleMember.cycle_id == cycle.id)))

    cycles.launch_cycle(cycle.id, org["hr1"], batch_size=10, progress=progress)
    assert seen == [(0, 0), (10, 10), (10, 20), (10, 30), (7, 37)]


def test_relaunching_starts_nobody_twice(org, department) -> None:
    cycle = cycles.create_cycle(org["hr1"], cycle_input())
    first = cycles.launch_cycle(cycle.id, org["hr1"], batch_size=6)
    second = cycles.launch_cycle(cycle.id, org["hr1"], batch_size=6)
    assert (second.cases_started, second.already_launched) == (0, first.cases_started)
    assert _count(Case) == first.cases_started


def test_relaunching_retries_employees_whose_org_data_was_fixed(org, department) -> None:
    cycle = cycles.create_cycle(org["hr1"], cycle_input())
    cycles.launch_cycle(cycle.id, org["hr1"])
    ro1 = employee_of(org["ro1"])
    ro1.countersigning_officer = employee_of(org["fin1"])
    db.session.commit()
    result = cycles.launch_cycle(cycle.id, org["hr1"])
    assert result.cases_started == 1
    assert "KP-00002" not in _members(cycle.id, CycleMemberStatus.NOT_LAUNCHED)
    assert _count(CycleMember, CycleMember.employee_id == ro1.id) == 1


def test_relaunching_picks_up_employees_who_joined_the_units(org, department) -> None:
    cycle = cycles.create_cycle(org["hr1"], cycle_input())
    cycles.launch_cycle(cycle.id, org["hr1"])
    newcomers = add_employees(4, prefix="NEW")
    result = cycles.launch_cycle(cycle.id, org["hr1"])
    assert result.cases_started == 4
    assert {c.subject_employee_id for c in _cases_of(cycle.id)} >= set(newcomers)


def test_all_cases_of_a_cycle_run_the_version_pinned_by_its_first_launch(
    org, department
) -> None:
    cycle = cycles.create_cycle(org["hr1"], cycle_input())
    cycles.launch_cycle(cycle.id, org["hr1"], batch_size=10)
    pinned = cycle.process_version_id
    bpmn = (WORKFLOWS / "goal_setting.bpmn").read_bytes().replace(
        b'name="Design scorecard"', b'name="Design the scorecard"')
    newer, created = process_models.deploy(bpmn, "goal_setting.bpmn", org["owner1"])
    db.session.commit()
    assert created and newer.id != pinned
    add_employees(3, prefix="NEW")
    cycles.launch_cycle(cycle.id, org["hr1"])
    assert {c.process_version_id for c in _cases_of(cycle.id)} == {pinned}


def test_a_launch_interrupted_inside_a_batch_leaves_none_of_it_and_a_relaunch_completes(
    org, department, monkeypatch
) -> None:
    cycle = cycles.create_cycle(org["hr1"], cycle_input())
    real_notify = notifications.task_assigned
    notified = []

    def crash_in_the_third_batch(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        notified.append(1)
        if len(notified) == 24:  # the third batch's cases and tasks are flushed by now
            raise RuntimeError("the power went out")
        return real_notify(*args, **kwargs)

    monkeypatch.setattr(notifications, "task_assigned", crash_in_the_third_batch)
    with pytest.raises(RuntimeError, match="power"):
        cycles.launch_cycle(cycle.id, org["hr1"], batch_size=10)
    db.session.expire_all()
    assert _count(CycleMember, CycleMember.cycle_id == cycle.id) == 20  # two whole batches
    assert _count(Case) == _count(CycleMember, CycleMember.case_id.is_not(None))
    assert cycles.launch_progress(cycle).status == CycleStatus.LAUNCHING

    monkeypatch.setattr(notifications, "task_assigned", real_notify)
    cycles.launch_cycle(cycle.id, org["hr1"], batch_size=10)
    subjects = [c.subject_employee_id for c in _cases_of(cycle.id)]
    assert len(subjects) == len(set(subjects)) == 32
    assert _count(Case) == 32
    assert _count(HumanTask) == 32
    assert cycles.launch_progress(cycle).status == CycleStatus.LAUNCHED


def test_a_cycle_has_at_most_one_member_row_per_employee(org) -> None:
    cycle = cycles.create_cycle(org["hr1"], cycle_input())
    emp1 = employee_of(org["emp1"])
    db.session.add(CycleMember(cycle_id=cycle.id, employee_id=emp1.id,
                               status=CycleMemberStatus.NOT_LAUNCHED, problem="x"))
    db.session.commit()
    db.session.add(CycleMember(cycle_id=cycle.id, employee_id=emp1.id,
                               status=CycleMemberStatus.NOT_LAUNCHED, problem="y"))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


@pytest.mark.parametrize("username", ["emp1", "ro1", "fin1", "owner1"])
def test_only_hr_of_the_cycles_units_or_an_admin_may_launch_it(org, username: str) -> None:
    cycle = cycles.create_cycle(org["hr1"], cycle_input())
    with pytest.raises(PermissionDenied):
        cycles.launch_cycle(cycle.id, org[username])
    assert _count(Case) == 0 and cycle.status == CycleStatus.DRAFT


def test_hr_of_another_department_may_not_launch_a_cycle(org) -> None:
    outsider = _other_department_hr()
    cycle = cycles.create_cycle(org["hr1"], cycle_input())
    with pytest.raises(PermissionDenied):
        cycles.launch_cycle(cycle.id, outsider)


def test_an_admin_may_launch_any_cycle(org) -> None:
    cycle = cycles.create_cycle(org["hr1"], cycle_input())
    result = cycles.launch_cycle(cycle.id, org["admin"])
    assert result.cases_started == 2  # emp1 and emp2: the others lack an officer
    assert "cannot launch a case about yourself" not in str(
        _members(cycle.id, CycleMemberStatus.NOT_LAUNCHED))


def test_a_launch_in_worker_processes_starts_the_same_annual_appraisals(
    org, department, frozen_clock
) -> None:
    """The annual appraisal calls other processes and decisions: the workers get them too
    (timers count from the launch: the clock is frozen)."""
    in_process = cycles.create_cycle(org["hr1"], cycle_input(process_key="annual_appraisal"))
    cycles.launch_cycle(in_process.id, org["hr1"], batch_size=12)
    in_workers = cycles.create_cycle(org["admin"], cycle_input(
        name="Performance year 2027 (again)", process_key="annual_appraisal"))
    result = cycles.launch_cycle(in_workers.id, org["admin"], batch_size=12, workers=2)
    assert result.cases_started == 0  # everyone already has a running annual appraisal
    for case in _cases_of(in_process.id):
        case.status = "completed"
    db.session.commit()
    result = cycles.launch_cycle(in_workers.id, org["admin"], batch_size=12, workers=2)
    assert result.cases_started == 32
    expected = {(t.task_name, t.assignee_id) for c in _cases_of(in_process.id) for t in c.tasks}
    for case in _cases_of(in_workers.id):
        assert {(t.task_name, t.assignee_id) for t in case.tasks} <= expected
        assert case.timer_due_at == _cases_of(in_process.id)[0].timer_due_at
        data = cases.view_case(org["admin"], case.id).data
        assert data["cycle"]["id"] == in_workers.id


# --- progress ---------------------------------------------------------------------------------


def test_progress_counts_launched_and_not_launched_employees(org, department) -> None:
    cycle = cycles.create_cycle(org["hr1"], cycle_input())
    assert cycles.launch_progress(cycle).percent == 0
    cycles.launch_cycle(cycle.id, org["hr1"])
    progress = cycles.launch_progress(cycle)
    assert (progress.in_scope, progress.launched, progress.not_launched, progress.percent) == (
        37, 32, 5, 100)


def test_a_launch_whose_batches_stopped_committing_is_shown_as_stalled(
    org, department, monkeypatch, frozen_clock
) -> None:
    cycle = cycles.create_cycle(org["hr1"], cycle_input())

    def killed(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise KeyboardInterrupt

    monkeypatch.setattr(cases, "open_cases", killed)
    with pytest.raises(KeyboardInterrupt):
        cycles.launch_cycle(cycle.id, org["hr1"])
    db.session.expire_all()
    assert not cycles.launch_progress(cycle).stalled
    clock.advance(cycles.STALLED_AFTER + timedelta(seconds=1))
    assert cycles.launch_progress(cycle).stalled


# --- the CLI ----------------------------------------------------------------------------------


def test_the_launch_command_shows_progress_and_lists_employees_not_launched(
    app, org, department
) -> None:
    cycle = cycles.create_cycle(org["hr1"], cycle_input())
    result = app.test_cli_runner().invoke(args=["launch-cycle", str(cycle.id),
                                                "--batch-size", "10"])
    assert result.exit_code == 0, result.output
    assert "37 employees in scope" in result.output
    assert "Launching" in result.output
    assert "32 cases started, 5 employees not launched" in result.output
    assert "KP-00001 Farah Qureshi: Farah Qureshi has no reporting officer" in result.output
    assert _count(Case) == 32


def test_the_launch_command_refuses_a_user_without_the_right(app, org) -> None:
    cycle = cycles.create_cycle(org["hr1"], cycle_input())
    result = app.test_cli_runner().invoke(args=["launch-cycle", str(cycle.id), "--as", "emp1"])
    assert result.exit_code != 0 and "Only HR" in result.output
    assert _count(Case) == 0


def test_the_create_cycle_command_defines_a_validated_cycle(app, org) -> None:
    args = ["create-cycle", "--as", "hr1", "--name", "FY 2027-28", "--year", "2027",
            "--unit", "KP-HEALTH", "--process", "goal_setting", "--starts-on", "2027-07-01",
            "--mid-year-on", "2028-01-01", "--interview-opens-on", "2028-06-01",
            "--interview-closes-on", "2028-06-20", "--ends-on", "2028-06-30",
            "--cap", "20", "--budget", "2500000"]
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 0, result.output
    assert "launch-cycle" in result.output
    refused = app.test_cli_runner().invoke(args=[*args[:4], "FY bad", *args[5:-4], "--cap",
                                                 "0", "--budget", "1"])
    assert refused.exit_code != 0 and "incentive_cap_percent" in refused.output


def test_a_start_computed_ahead_is_redone_if_the_employee_changed_meanwhile(
    org, department
) -> None:
    """With workers, the next batch's starts run while this batch writes: an employee whose
    data changed in between gets a case started from the new data."""
    cycle = cycles.create_cycle(org["hr1"], cycle_input())
    changed = department[5]  # id 13: in the second batch of 10, started ahead during the first
    assert changed == 13

    def raise_pay(result: cycles.LaunchResult, processed: int) -> None:
        if result.cases_started + result.not_launched == 10:  # after the first batch
            db.session.get(Employee, changed).base_pay = Decimal("300000")
            db.session.commit()

    cycles.launch_cycle(cycle.id, org["hr1"], batch_size=10, workers=1, progress=raise_pay)
    case = next(c for c in _cases_of(cycle.id) if c.subject_employee_id == changed)
    assert cases.view_case(org["admin"], case.id).data["incentive_cap"]["amount"] == 60000.0


def test_the_demo_seed_defines_the_departments_cycle_without_launching_it(app) -> None:
    result = app.test_cli_runner().invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    [cycle] = cycles.list_cycles(db.session.scalar(select(User).where(User.username == "admin")))
    assert cycle.status == CycleStatus.DRAFT and cycle.org_units[0].code == "KP-HEALTH"
    assert cycle.name == f"Health Department performance year {clock.now().year}"
    assert f"flask launch-cycle {cycle.id}" in result.output
    assert _count(CycleMember) == 0


def test_a_long_launch_refreshes_the_planner_statistics_of_the_tables_it_grows(
    org, department, monkeypatch, is_postgres
) -> None:
    if not is_postgres:
        pytest.skip("planner statistics are PostgreSQL's")
    monkeypatch.setattr(cycles, "ANALYZE_EVERY", 10)
    started = db.session.scalar(text("SELECT now()"))
    db.session.commit()
    cycle = cycles.create_cycle(org["hr1"], cycle_input())
    cycles.launch_cycle(cycle.id, org["hr1"], batch_size=10)
    for _ in range(50):  # the server publishes its statistics within a second or so
        db.session.rollback()
        analyzed = db.session.scalar(text(
            "SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'cycle_members'"))
        if analyzed is not None and analyzed >= started:
            break
        time.sleep(0.1)
    assert analyzed is not None and analyzed >= started
