"""E-mail notifications through the outbox, delivered over real SMTP to a local aiosmtpd server:
written with the change, sent by the worker, retried with backoff when the server is down,
batched into a daily digest for those who chose it."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from sqlalchemy import func, select

from app.clock import clock
from app.extensions import db
from app.models import (
    AuditEvent,
    AuditEventType,
    DeliveryMode,
    Notification,
    NotificationKind,
    NotificationStatus,
    OrgUnit,
    Role,
    User,
    UserRole,
)
from app.services import delegation, notifications, queues, tasks, timers
from app.services.errors import ValidationFailed
from forms import formdata_from_json
from tests.helpers import csrf_token, login
from tests.queue_helpers import add_person, open_task, start_goal_setting, to_countersign

NOW = datetime(2026, 9, 1, 6, 0, tzinfo=UTC)


class Inbox:
    """An aiosmtpd handler keeping every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: ANN001, N802
        with self.lock:
            self.messages.append(message_from_bytes(envelope.content, policy=default_policy))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(autouse=True)
def frozen_clock() -> Iterator[None]:
    clock.freeze(NOW)
    yield
    clock.reset()


@pytest.fixture
def smtp_port(app: Flask, monkeypatch: pytest.MonkeyPatch) -> int:
    port = _free_port()
    for key, value in {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": port, "SMTP_SECURITY": "none",
                       "SMTP_USERNAME": None, "SMTP_TIMEOUT": 5, "NOTIFY_BACKOFF_SECONDS": 60,
                       "NOTIFY_MAX_ATTEMPTS": 3, "DIGEST_HOUR_UTC": 12,
                       "BASE_URL": "https://meezan.example"}.items():
        monkeypatch.setitem(app.config, key, value)
    return port


@pytest.fixture
def inbox(smtp_port: int) -> Iterator[Inbox]:
    handler = Inbox()
    server = Controller(handler, hostname="127.0.0.1", port=smtp_port)
    server.start()
    yield handler
    server.stop()


def _outbox(user: User | None = None) -> list[Notification]:
    db.session.expire_all()
    query = select(Notification).order_by(Notification.id)
    if user is not None:
        query = query.where(Notification.recipient_id == user.id)
    return list(db.session.scalars(query))


def test_an_assignment_is_written_to_the_outbox_with_the_new_task(org) -> None:
    case = start_goal_setting(org)
    design = open_task(case.id)
    [note] = _outbox(org["ro1"])
    assert (note.kind, note.human_task_id, note.status) == (
        NotificationKind.TASK_ASSIGNED, design.id, NotificationStatus.PENDING)


def test_a_change_that_rolls_back_leaves_no_notification(org) -> None:
    case = start_goal_setting(org)
    design = open_task(case.id)
    before = len(_outbox())
    with pytest.raises(ValidationFailed):
        tasks.complete_task(org["ro1"], design.id, formdata_from_json({"kpis": []}))
    assert len(_outbox()) == before


def test_the_worker_sends_pending_notifications_over_smtp(app, org, inbox) -> None:
    case = start_goal_setting(org)
    run = notifications.send_due()
    assert (run.sent, run.retried) == (1, 0)
    [message] = inbox.to("ro1@health.kp.example")
    assert message["Subject"] == "Meezan: Design scorecard — Ayesha Khan"
    body = message.get_content()
    assert "is waiting for you" in body
    assert f"https://meezan.example/tasks/{open_task(case.id).id}" in body
    [note] = _outbox(org["ro1"])
    assert note.status == NotificationStatus.SENT and note.sent_at is not None
    assert notifications.send_due().sent == 0  # sent once


def test_delegation_and_return_notify_the_new_holder(app, org, inbox) -> None:
    task = to_countersign(org)
    delegation.delegate_task(org["cso1"], task.id, org["owner1"].id, "Please clear this")
    queues.bulk_complete(org["owner1"], [task.id], "return", "Baselines are missing")
    notifications.send_due()
    [delegated] = inbox.to("owner1@health.kp.example")
    assert "delegated by Farah Qureshi: Please clear this" in delegated.get_content()
    returned = [m for m in inbox.to("ro1@health.kp.example")
                if "sent back to you" in m.get_content()]
    assert len(returned) == 1
    kinds = {n.kind for n in _outbox(org["ro1"])}
    assert NotificationKind.TASK_RETURNED in kinds


def test_a_mail_server_outage_never_blocks_the_task_nor_loses_the_notification(
    app, org, smtp_port
) -> None:
    case = start_goal_setting(org)  # nothing listens on smtp_port yet
    run = notifications.send_due()
    assert (run.sent, run.retried) == (0, 1) and run.errors
    [note] = _outbox(org["ro1"])
    assert note.status == NotificationStatus.PENDING and note.attempts == 1
    assert note.next_attempt_at.replace(tzinfo=UTC) == NOW + timedelta(seconds=60)
    assert "ConnectionRefusedError" in note.last_error
    assert open_task(case.id).task_name == "design_scorecard"

    clock.advance(timedelta(seconds=30))
    assert notifications.send_due().retried == 0  # not due again yet
    clock.advance(timedelta(seconds=31))
    assert notifications.send_due().retried == 1
    [note] = _outbox(org["ro1"])
    assert note.next_attempt_at.replace(tzinfo=UTC) == NOW + timedelta(seconds=61 + 120)

    handler = Inbox()
    server = Controller(handler, hostname="127.0.0.1", port=smtp_port)
    server.start()
    try:
        clock.advance(timedelta(seconds=121))
        assert notifications.send_due().sent == 1
    finally:
        server.stop()
    assert len(handler.to("ro1@health.kp.example")) == 1
    assert _outbox(org["ro1"])[0].attempts == 3


def test_after_the_last_attempt_a_notification_is_kept_as_failed_and_can_be_requeued(
    app, org, smtp_port
) -> None:
    start_goal_setting(org)
    for _ in range(3):
        notifications.send_due()
        clock.advance(timedelta(hours=1))
    [note] = _outbox(org["ro1"])
    assert (note.status, note.attempts) == (NotificationStatus.FAILED, 3)
    assert notifications.retry_failed() == 1
    assert _outbox(org["ro1"])[0].status == NotificationStatus.PENDING


def test_a_user_without_an_address_is_skipped_not_retried(app, org, inbox) -> None:
    org["ro1"].email = None
    db.session.commit()
    start_goal_setting(org)
    assert notifications.send_due().skipped == 1
    assert _outbox(org["ro1"])[0].status == NotificationStatus.SKIPPED


def test_digest_users_get_one_mail_a_day_with_everything(app, org, inbox) -> None:
    notifications.set_preference(org["cso1"], DeliveryMode.DIGEST)
    first = to_countersign(org, "emp1")
    to_countersign(org, "emp2")
    delegation.delegate_task(org["cso1"], first.id, org["owner1"].id, "cover")
    delegation.hand_back_task(org["owner1"], first.id, "back to you")
    notifications.send_due()
    assert inbox.to("cso1@health.kp.example") == []  # held for the digest at 12:00 UTC
    assert {n.digest for n in _outbox(org["cso1"])} == {True}

    clock.advance(timedelta(hours=6))
    run = notifications.send_due()
    assert run.digests == 1
    [digest] = inbox.to("cso1@health.kp.example")
    assert digest["Subject"] == "Meezan: your daily digest (3 items)"
    content = digest.get_content()
    assert content.count("• Countersign scorecard") == 3 and "handed back by Nadia Shah" in content
    assert notifications.send_due().digests == 0
    event = db.session.scalars(select(AuditEvent).where(
        AuditEvent.event_type == AuditEventType.NOTIFICATION_PREFERENCE_CHANGED)).one()
    assert event.details == {"before": "immediate", "after": "digest"}


def test_the_settings_page_switches_to_the_digest(client, org) -> None:
    login(client, "cso1")
    token = csrf_token(client, "/settings/notifications")
    response = client.post("/settings/notifications", data={"csrf_token": token,
                                                            "mode": "digest"})
    assert response.status_code == 302
    assert notifications.preference_of(org["cso1"].id) == DeliveryMode.DIGEST


def test_the_worker_command_sends_once(app, org, inbox) -> None:
    start_goal_setting(org)
    result = app.test_cli_runner().invoke(args=["send-notifications", "--once"])
    assert result.exit_code == 0, result.output
    assert "1 sent, 0 digests, 0 to retry, 0 failed" in result.output
    assert len(inbox.messages) == 1


def test_two_senders_at_once_send_each_notification_exactly_once(app, org, inbox,
                                                                 is_postgres) -> None:
    if not is_postgres:
        pytest.skip("concurrent senders are tested on PostgreSQL")
    for employee in ("emp1", "emp2"):
        to_countersign(org, employee)
    pending = db.session.scalar(select(func.count(Notification.id)))
    barrier = threading.Barrier(2)

    def sender() -> None:
        with app.app_context():
            barrier.wait()
            try:
                notifications.send_due()
            finally:
                db.session.remove()

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(inbox.messages) == pending
    assert {n.status for n in _outbox()} == {NotificationStatus.SENT}


def test_a_pool_task_mails_each_holder_once_never_its_subject_and_a_claim_adds_none(
        app, org, inbox) -> None:
    """An overdue countersignature escalated to HR's pool (cso1 has no officer above): every HR
    holder whose scope covers the employee's unit hears of it once, by their own choice of mail
    or digest; the employee (who holds HR there too) and HR of another department do not."""
    district = org["emp1"].employee.org_unit_id
    elsewhere = OrgUnit(code="KP-EDU", name="Education Department")
    db.session.add(elsewhere)
    db.session.commit()
    hr2 = add_person("hr2", "Hina Gul", unit_of="hr1")
    db.session.add_all([
        UserRole(user_id=hr2.id, role=Role.HR, org_unit_id=district),
        UserRole(user_id=org["emp1"].id, role=Role.HR, org_unit_id=district),
        UserRole(user_id=org["owner1"].id, role=Role.HR, org_unit_id=elsewhere.id),
    ])
    db.session.commit()
    notifications.set_preference(hr2, DeliveryMode.DIGEST)
    task = to_countersign(org)
    clock.advance(timedelta(days=9))
    timers.run_due_timers()
    pool = open_task(task.case_id)
    assert (pool.assignee_id, pool.candidate_role) == (None, "hr")

    def offered() -> list[tuple[int, NotificationKind, bool]]:
        return sorted((n.recipient_id, n.kind, n.digest) for n in _outbox()
                      if n.human_task_id == pool.id)

    assert offered() == sorted([(org["hr1"].id, NotificationKind.TASK_ESCALATED, False),
                                (hr2.id, NotificationKind.TASK_ESCALATED, True)])
    notifications.send_due()

    def to_claim(address: str) -> list[EmailMessage]:
        return [m for m in inbox.to(address) if "(to claim)" in m["Subject"]]

    [mail] = to_claim("hr1@health.kp.example")
    assert mail["Subject"] == "Meezan: Countersign scorecard (escalated) — Ayesha Khan (to claim)"
    body = mail.get_content()
    assert "escalated because it is overdue" in body and "https://meezan.example/queue" in body
    assert to_claim("hr2@health.kp.example") == []  # held for the digest
    assert to_claim(org["emp1"].email) == [] and to_claim(org["owner1"].email) == []

    delegation.claim_task(org["hr1"], pool.id)
    assert len(offered()) == 2  # the claim notifies no one
    sent = len(inbox.messages)
    notifications.send_due()
    assert len(inbox.messages) == sent and len(to_claim("hr1@health.kp.example")) == 1

    clock.advance(timedelta(hours=6))  # 12:00 UTC: the digest
    assert notifications.send_due().digests == 1
    [digest] = inbox.to("hr2@health.kp.example")
    assert "Countersign scorecard (escalated) — Ayesha Khan (to claim)" in digest.get_content()
