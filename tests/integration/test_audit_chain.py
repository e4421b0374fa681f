"""The audit trail is hash-chained: any edited, deleted or reordered event is detected and named."""

from __future__ import annotations

import csv
import io
import json

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError

from app.extensions import db
from app.models import AuditChainHead, AuditEvent, AuditEventType
from app.services import audit, cases, tasks
from forms import formdata_from_json
from tests.conftest import employee_of
from tests.helpers import good_scorecard, login
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
