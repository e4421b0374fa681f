"""The audit trail is hash-chained: any edited, deleted or reordered event is detected and named."""

from __future__ import annotations

import csv
import io
import json
import threading
from datetime import timedelta

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError

from app.clock import clock
from app.extensions import db
from app.models import AuditChainHead, AuditEvent, AuditEventType, Employee, OrgUnit, User
from app.services import absences, audit, auth, cases, cycles, tasks
from app.services.transaction import unit_of_work
from forms import formdata_from_json
from tests.conftest import employee_of
from tests.helpers import good_scorecard, login
from tests.org_factory import add_employees, cycle_input
from tests.tampering import audit_triggers_bypassed


@pytest.fixture
def history(org) -> list[AuditEvent]:  # noqa: ANN001
    """A deployment, a case started and its first step done: five or more chained events."""
    case = cases.start_case("goal_setting", employee_of(org["emp1"]).id, org["hr1"])
    task = case.tasks[0]
    tasks.complete_task(org["ro1"], task.id, formdata_from_json({"kpis": good_scorecard()}))
    return list(db.session.scalars(select(AuditEvent).order_by(AuditEvent.seq)))


def _raw(sql: str, **params: object) -> None:
    """Tamper as a database superuser would: past the append-only triggers."""
    with audit_triggers_bypassed():
        db.session.execute(text(sql), params)
    db.session.commit()


def test_events_are_chained_in_commit_order(history) -> None:
    assert [e.seq for e in history] == list(range(1, len(history) + 1))
    assert history[0].prev_hash == audit.GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in zip(history, history[1:], strict=False))
    assert audit.chain_head() == (history[-1].seq, history[-1].hash)
    assert audit.verify_chain().ok


def test_a_rolled_back_transaction_writes_no_events(history, org) -> None:
    audit.record(AuditEventType.USER_LOGGED_IN, actor=org["emp1"])
    db.session.rollback()
    db.session.commit()
    assert audit.chain_head()[0] == len(history)
    assert audit.verify_chain().ok


@pytest.mark.parametrize("statement", [
    "UPDATE audit_events SET details = '{}' WHERE id = :id",
    "DELETE FROM audit_events WHERE id = :id",
])
def test_the_database_refuses_to_change_or_delete_an_audit_event(history, statement) -> None:
    """Append-only is enforced below the application: its own connection cannot rewrite the
    trail (the chain then catches whoever can get past the triggers)."""
    victim = history[1]
    with pytest.raises(DBAPIError, match="append-only"):
        db.session.execute(text(statement), {"id": victim.id})
    db.session.rollback()
    assert db.session.get(AuditEvent, victim.id).hash == victim.hash
    assert audit.verify_chain().ok


def test_the_orm_cannot_edit_an_audit_event_either(history, org) -> None:
    victim = db.session.get(AuditEvent, history[-1].id)
    victim.actor_id = org["admin"].id
    with pytest.raises(DBAPIError, match="append-only"):
        db.session.commit()
    db.session.rollback()
    assert db.session.get(AuditEvent, victim.id).actor_id != org["admin"].id
    assert audit.verify_chain().ok


def test_an_edited_event_is_named(history) -> None:
    victim = history[3]
    _raw("UPDATE audit_events SET details = :d WHERE id = :id",
         d=json.dumps({"task": "forged"}), id=victim.id)
    result = audit.verify_chain()
    assert not result.ok and result.first_bad_event_id == victim.id
    assert "edited" in result.problem and result.events_checked == 3


def test_an_edited_actor_is_named(history, org) -> None:
    victim = history[-1]
    with audit_triggers_bypassed():
        db.session.execute(update(AuditEvent).where(AuditEvent.id == victim.id)
                           .values(actor_id=org["admin"].id))
    db.session.commit()
    assert audit.verify_chain().first_bad_event_id == victim.id


def test_a_deleted_event_is_detected_at_its_successor(history) -> None:
    _raw("DELETE FROM audit_events WHERE id = :id", id=history[2].id)
    result = audit.verify_chain()
    assert not result.ok and result.first_bad_event_id == history[3].id
    assert "deleted or reordered" in result.problem


def test_reordered_events_are_detected(history) -> None:
    (first_id, first_seq), (second_id, second_seq) = [(e.id, e.seq) for e in history[1:3]]
    _raw("UPDATE audit_events SET seq = -1 WHERE id = :id", id=first_id)
    _raw("UPDATE audit_events SET seq = :s WHERE id = :id", s=first_seq, id=second_id)
    _raw("UPDATE audit_events SET seq = :s WHERE id = :id", s=second_seq, id=first_id)
    result = audit.verify_chain()
    assert not result.ok and result.first_bad_event_id == second_id


def test_a_truncated_tail_is_detected(history) -> None:
    _raw("DELETE FROM audit_events WHERE id = :id", id=history[-1].id)
    result = audit.verify_chain()
    assert not result.ok and result.first_bad_event_id is None
    assert "deleted from the end" in result.problem


def test_a_rewritten_chain_head_still_leaves_the_tail_detectable_by_anchor(history) -> None:
    anchored = audit.chain_head()
    _raw("DELETE FROM audit_events WHERE id = :id", id=history[-1].id)
    db.session.execute(update(AuditChainHead).values(seq=history[-2].seq, hash=history[-2].hash))
    db.session.commit()
    assert audit.verify_chain().ok  # self-consistent again, which is why heads are anchored
    assert audit.chain_head() != anchored


def test_verify_command_exits_1_and_names_the_event(app, history) -> None:
    runner = app.test_cli_runner()
    ok = runner.invoke(args=["audit", "verify"])
    assert ok.exit_code == 0 and f"OK: {len(history)} events" in ok.output
    victim_id = history[-2].id
    _raw("UPDATE audit_events SET event_type = 'case_completed' WHERE id = :id", id=victim_id)
    broken = runner.invoke(args=["audit", "verify"])
    assert broken.exit_code == 1
    assert f"BROKEN at event id {victim_id}" in broken.output


def test_export_csv_filtered_by_user_and_case(app, history, org) -> None:
    result = app.test_cli_runner().invoke(args=["audit", "export", "--format", "csv",
                                                "--user", "ro1"])
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert rows and {r["actor"] for r in rows} == {"ro1"}
    assert {r["event_type"] for r in rows} >= {"task_completed"}
    case_id = next(e.case_id for e in history if e.case_id)
    by_case = app.test_cli_runner().invoke(args=["audit", "export", "--format", "json",
                                                 "--case", str(case_id)])
    lines = [json.loads(line) for line in by_case.output.splitlines()]
    assert len(lines) == sum(1 for e in history if e.case_id == case_id)
    assert all(line["case_id"] == case_id for line in lines)
    assert all(len(line["hash"]) == 64 for line in lines)


def test_export_by_unit_and_dates(app, history) -> None:
    runner = app.test_cli_runner()
    inside = runner.invoke(args=["audit", "export", "--format", "json", "--unit", "KP-HEALTH"])
    assert len(inside.output.splitlines()) == sum(1 for e in history if e.case_id)
    future = runner.invoke(args=["audit", "export", "--format", "json", "--since", "2999-01-01"])
    assert future.output == ""
    unknown = runner.invoke(args=["audit", "export", "--unit", "NOPE"])
    assert unknown.exit_code != 0


@pytest.mark.parametrize("username, status", [
    ("auditor1", 200), ("admin", 200), ("hr1", 403), ("emp1", 403), ("owner1", 403)])
def test_the_audit_page_is_for_auditors_and_admins(client, history, username, status) -> None:
    login(client, username)
    assert client.get("/audit").status_code == status
    assert client.get("/audit/export.csv").status_code == status


def test_auditors_read_every_case_but_act_on_none(client, history, org) -> None:
    login(client, "auditor1")
    case_id = next(e.case_id for e in history if e.case_id)
    assert client.get(f"/cases/{case_id}").status_code == 200
    assert client.get("/tasks").status_code == 200
    open_task = db.session.scalar(text("SELECT id FROM human_tasks WHERE status = 'open'"))
    assert client.get(f"/tasks/{open_task}").status_code == 403


def test_the_audit_page_filters_and_verifies(client, history) -> None:
    login(client, "auditor1")
    page = client.get("/audit?user=ro1").get_data(as_text=True)
    assert "task_completed" in page and "case_started" not in page
    from tests.helpers import csrf_token

    response = client.post("/audit/verify", data={"csrf_token": csrf_token(client, "/audit")},
                           follow_redirects=True)
    assert "The chain is intact" in response.get_data(as_text=True)


# ---- filters: user, unit (with events that have no case), case, dates; the web export ---------


@pytest.fixture
def scattered(history, org) -> dict[str, AuditEvent]:  # noqa: ANN001
    """Besides emp1's case (KP-HEALTH-PSH): events without a case, in the district, in the
    province above it and in an unrelated department (KP-EDU). Keyed by what they are."""
    [edu_employee_id] = add_employees(1, unit_code="KP-EDU", unit_name="Education Department",
                                      parent_code=None, prefix="EDU")
    edu_user = db.session.get(Employee, edu_employee_id).user
    edu_unit = db.session.scalar(select(OrgUnit).where(OrgUnit.code == "KP-EDU"))
    now = clock.now()
    marks: dict[str, int] = {}

    def mark(name: str) -> None:
        marks[name] = db.session.scalar(select(AuditEvent.id).order_by(AuditEvent.seq.desc()))

    # HR (province) declares emp1's (district) absence: on behalf of emp1.
    absences.declare_absence(org["hr1"], org["emp1"].id, org["emp2"].id,
                             now + timedelta(days=3), now + timedelta(days=5), "leave")
    mark("absence_for_emp1")
    assert auth.check_password("emp1", "meezan-demo").complete
    mark("emp1_login")
    assert auth.check_password("emp2", "not the password").user is None
    mark("emp2_failed_login")
    auth.record_logout(org["hr1"])
    mark("hr1_logout")
    auth.record_logout(edu_user)
    mark("edu_logout")
    cycles.create_cycle(org["hr1"], cycle_input())  # scoped to KP-HEALTH: covers the district
    mark("health_cycle")
    cycles.create_cycle(org["admin"], cycle_input(name="Education year 2027",
                                                  org_unit_ids=[edu_unit.id]))
    mark("edu_cycle")
    with unit_of_work():  # as the org import records a move (the admin is nobody's employee)
        audit.record(AuditEventType.EMPLOYEE_UPDATED, actor=org["admin"], details={
            "employee": "EDU-00001", "source": "moves.csv",
            "changes": {"unit_code": {"before": "KP-HEALTH-PSH", "after": "KP-EDU"}}})
    mark("moved_out_of_district")
    return {name: db.session.get(AuditEvent, event_id) for name, event_id in marks.items()}


def _ids(criteria: audit.AuditFilter) -> set[int]:
    return {e.id for e in audit.find_events(criteria, limit=10_000)}


def _unit(code: str) -> int:
    return db.session.scalar(select(OrgUnit.id).where(OrgUnit.code == code))


def test_the_user_filter_matches_the_actor_or_the_person_acted_for(history, scattered,
                                                                    org) -> None:
    emp1 = _ids(audit.AuditFilter(username="emp1"))
    assert {scattered["absence_for_emp1"].id, scattered["emp1_login"].id} <= emp1
    assert scattered["absence_for_emp1"].actor_id == org["hr1"].id  # hr1 acted, for emp1
    assert scattered["hr1_logout"].id not in emp1
    assert all(org["emp1"].id in (e.actor_id, e.on_behalf_of_id)
               or e.details.get("username") == "emp1"
               for e in audit.find_events(audit.AuditFilter(username="emp1"), limit=10_000))
    # Nobody was signed in when emp2's password failed: the event names them.
    assert scattered["emp2_failed_login"].id in _ids(audit.AuditFilter(username="emp2"))
    hr1 = _ids(audit.AuditFilter(username="hr1"))
    assert {scattered["absence_for_emp1"].id, scattered["hr1_logout"].id} <= hr1
    assert scattered["emp1_login"].id not in hr1


def test_the_unit_filter_keeps_events_without_a_case_about_the_units_people(history,
                                                                            scattered) -> None:
    case_events = {e.id for e in history if e.case_id}
    district = _ids(audit.AuditFilter(unit_id=_unit("KP-HEALTH-PSH")))
    assert case_events <= district
    assert {name for name, e in scattered.items() if e.id in district} == {
        "absence_for_emp1", "emp1_login", "emp2_failed_login", "health_cycle",
        "moved_out_of_district"}
    province = _ids(audit.AuditFilter(unit_id=_unit("KP-HEALTH")))  # with the district below
    assert district | {scattered["hr1_logout"].id} <= province
    assert {scattered["edu_logout"].id, scattered["edu_cycle"].id}.isdisjoint(province)
    education = _ids(audit.AuditFilter(unit_id=_unit("KP-EDU")))
    assert {name for name, e in scattered.items() if e.id in education} == {
        "edu_logout", "edu_cycle", "moved_out_of_district"}
    assert case_events.isdisjoint(education)


def _export(client, fmt: str = "json", **query: str):  # noqa: ANN001, ANN202
    response = client.get(f"/audit/export.{fmt}", query_string=query)
    assert response.status_code == 200, response.status_code
    body = response.get_data(as_text=True)
    if fmt == "csv":
        return [{**row, "id": int(row["id"])} for row in csv.DictReader(io.StringIO(body))]
    return [json.loads(line) for line in body.splitlines()]


def test_the_web_export_honours_case_user_unit_and_dates(client, history, scattered,
                                                         org) -> None:
    login(client, "auditor1")
    everything = _export(client)
    recorded = {e.id for e in history} | {e.id for e in scattered.values()}
    assert recorded <= {row["id"] for row in everything}

    case_id = next(e.case_id for e in history if e.case_id)
    by_case = _export(client, case=str(case_id))
    assert {row["id"] for row in by_case} == {e.id for e in history if e.case_id == case_id}
    assert {row["case_id"] for row in by_case} == {case_id}

    for fmt in ("json", "csv"):
        by_user = _export(client, fmt, user="emp1")
        assert {scattered["absence_for_emp1"].id, scattered["emp1_login"].id} <= {
            row["id"] for row in by_user}
        assert scattered["hr1_logout"].id not in {row["id"] for row in by_user}
        assert all("emp1" in (row["actor"], row["on_behalf_of"]) for row in by_user)
        by_unit = _export(client, fmt, unit="KP-EDU")
        assert {row["id"] for row in by_unit} == {
            scattered[name].id for name in ("edu_logout", "edu_cycle", "moved_out_of_district")}

    both = _export(client, user="ro1", unit="KP-HEALTH-PSH", case=str(case_id))
    assert both and all(row["actor"] == "ro1" and row["case_id"] == case_id for row in both)

    day = clock.now().date()
    assert len(_export(client, since=day.isoformat(), until=day.isoformat())) == len(everything)
    assert _export(client, since=(day + timedelta(days=1)).isoformat()) == []
    assert _export(client, fmt="csv", until=(day - timedelta(days=1)).isoformat()) == []


@pytest.mark.parametrize("username", ["hr1", "emp1", "ro1", "owner1", "fin1"])
def test_the_web_export_is_refused_to_non_auditors_whatever_the_filters(client, history,
                                                                        username) -> None:
    login(client, username)
    case_id = next(e.case_id for e in history if e.case_id)
    for fmt in ("csv", "json"):
        response = client.get(f"/audit/export.{fmt}", query_string={
            "case": case_id, "user": username, "unit": "KP-HEALTH"})
        assert response.status_code == 403
        assert "hash" not in response.get_data(as_text=True)


def test_the_unit_filter_is_one_query(app, history, scattered) -> None:
    """Whatever the number of events, the filter is one SELECT of events, after one read of the
    org tree (the units below and above)."""
    statements: list[str] = []

    def count(conn, cursor, statement, *args) -> None:  # noqa: ANN001, ANN002
        statements.append(statement)

    engine, unit_id = db.engine, _unit("KP-HEALTH")
    sa_event.listen(engine, "before_cursor_execute", count)
    try:
        found = audit.find_events(audit.AuditFilter(unit_id=unit_id), limit=10_000)
    finally:
        sa_event.remove(engine, "before_cursor_execute", count)
    assert found
    assert sum(1 for s in statements if "FROM audit_events" in s) == 1
    assert len(statements) == 2


def test_the_audit_pages_unit_choices_are_in_the_readers_language(client, history, org) -> None:
    org["auditor1"].locale = "ur"
    db.session.commit()
    login(client, "auditor1")
    page = client.get("/audit").get_data(as_text=True)
    assert "تمام یونٹس" in page
    assert "All units" not in page


def test_two_commits_at_the_same_moment_each_get_their_own_place_in_the_chain(
        app, org, monkeypatch) -> None:
    """The head is read under the database's write lock, so a second committer waits for the
    first instead of reading the same head and colliding on the next sequence number (on
    SQLite as on PostgreSQL: a sign-out racing a background cycle launch once did)."""
    original = audit._locked_head
    first_has_read, release = threading.Event(), threading.Event()

    def first_pauses_after_reading(session):  # noqa: ANN001, ANN202
        head = original(session)
        if threading.current_thread().name == "first":
            first_has_read.set()
            release.wait(10)
        return head

    monkeypatch.setattr(audit, "_locked_head", first_pauses_after_reading)
    errors: list[BaseException] = []

    def sign_in(user_id: int) -> None:
        try:
            with app.app_context():
                audit.record(AuditEventType.USER_LOGGED_IN,
                             actor=db.session.get(User, user_id))
                db.session.commit()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    first = threading.Thread(target=sign_in, args=(org["emp1"].id,), name="first")
    second = threading.Thread(target=sign_in, args=(org["emp2"].id,), name="second")
    first.start()
    assert first_has_read.wait(10)
    second.start()
    second.join(timeout=1)  # an unlocked head would let it commit the next number now
    release.set()
    first.join(20)
    second.join(20)
    assert errors == []
    signed_in = db.session.scalars(select(AuditEvent).where(
        AuditEvent.event_type == AuditEventType.USER_LOGGED_IN).order_by(AuditEvent.seq)).all()
    assert [e.actor_id for e in signed_in] == [org["emp1"].id, org["emp2"].id]
    assert audit.verify_chain().ok
