"""E-mail notifications through an outbox.

A change that someone must hear about (a task assigned, delegated, returned, escalated, a
reminder) adds a `Notification` row in the same transaction as the change itself, so it commits
or rolls back with it. A task offered to a role's pool (HR of a unit, say) adds one row for each
person who may claim it (`pool_holders`), never the case's subject; claiming it notifies no one
again. `send_due()` (the `flask send-notifications` worker) later sends pending
rows over SMTP, each in its own transaction with the row locked (`FOR UPDATE SKIP LOCKED` on
PostgreSQL, so several workers never send the same row). A failed send is kept and retried with
exponential backoff; after `NOTIFY_MAX_ATTEMPTS` it is marked failed (kept, re-queueable with
`flask send-notifications --retry-failed`). Users who chose the daily digest get their items
in one mail at `DIGEST_HOUR_UTC`. A send that succeeds just before its worker dies is sent again
by the next one: delivery is at least once.
"""

from __future__ import annotations

import contextlib
import logging
import smtplib
import ssl
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

from flask import current_app
from sqlalchemy import event, or_, select, update
from sqlalchemy.orm import Session, selectinload

from app.clock import clock
from app.extensions import db
from app.models import (
    AuditEventType,
    DeliveryMode,
    HumanTask,
    Notification,
    NotificationKind,
    NotificationPreference,
    NotificationStatus,
    OrgUnit,
    Role,
    User,
    UserRole,
)
from app.services import audit
from app.services.assignment import may_act_on
from app.services.transaction import unit_of_work

log = logging.getLogger(__name__)


# -- writing (part of the caller's transaction) -------------------------------------------------


_KNOWN_PREFERENCES = "meezan_notification_preferences"


def preload_preferences(user_ids: Collection[int]) -> None:
    """Read many users' delivery choices in one query for the rest of this transaction: a cycle
    launch notifies hundreds of holders per batch, and most have no preference row, which
    `session.get` would look for one by one."""
    wanted = {uid for uid in user_ids if uid is not None}
    known: dict[int, DeliveryMode] = dict.fromkeys(wanted, DeliveryMode.IMMEDIATE)
    rows = db.session.execute(select(NotificationPreference.user_id, NotificationPreference.mode)
                              .where(NotificationPreference.user_id.in_(wanted)))
    known.update({user_id: mode for user_id, mode in rows})
    db.session().info.setdefault(_KNOWN_PREFERENCES, {}).update(known)


@event.listens_for(Session, "after_transaction_end")
def _forget_preferences(session: Session, transaction: Any) -> None:
    if transaction.parent is None:
        session.info.pop(_KNOWN_PREFERENCES, None)


def preference_of(user_id: int) -> DeliveryMode:
    known = db.session().info.get(_KNOWN_PREFERENCES)
    if known is not None and user_id in known:
        return known[user_id]
    pref = db.session.get(NotificationPreference, user_id)
    return pref.mode if pref is not None else DeliveryMode.IMMEDIATE


def next_digest_at(now: datetime) -> datetime:
    """The next daily digest time (DIGEST_HOUR_UTC o'clock) after `now`."""
    hour = int(current_app.config.get("DIGEST_HOUR_UTC", 12))
    at = now.replace(hour=hour, minute=0, second=0, microsecond=0)
    return at if at > now else at + timedelta(days=1)


def queue(
    recipient_id: int,
    kind: NotificationKind,
    subject: str,
    body: str,
    task: HumanTask | None = None,
) -> Notification:
    """Add a notification to the outbox in the caller's transaction."""
    now = clock.now()
    digest = preference_of(recipient_id) == DeliveryMode.DIGEST
    row = Notification(
        recipient_id=recipient_id,
        kind=kind,
        subject=subject[:300],
        body=body,
        case_id=task.case_id if task is not None else None,
        human_task_id=task.id if task is not None else None,
        digest=digest,
        status=NotificationStatus.PENDING,
        attempts=0,
        created_at=now,
        next_attempt_at=next_digest_at(now) if digest else now,
    )
    db.session.add(row)
    return row


def _link(path: str) -> str:
    """An address in the app for a mail (BASE_URL: mails are read outside any request)."""
    base = str(current_app.config.get("BASE_URL", "http://127.0.0.1:5000")).rstrip("/")
    return f"{base}{path}"


def _task_link(task: HumanTask) -> str:
    return _link(f"/tasks/{task.id}")


def _about(task: HumanTask) -> str:
    subject = task.case.subject
    due = f", due {task.due_at:%d %b %Y}" if task.due_at else ""
    return f"“{task.title}” for {subject.full_name} (case #{task.case_id}{due})"


def _kind(why: str) -> NotificationKind:
    return {"returned": NotificationKind.TASK_RETURNED,
            "escalated": NotificationKind.TASK_ESCALATED}.get(why, NotificationKind.TASK_ASSIGNED)


def task_assigned(task: HumanTask, why: str = "assigned") -> None:
    """A new task for its holder: `why` is "assigned", "returned" or "escalated". A task
    offered to a role's pool goes to each of the pool's holders (`task_offered`)."""
    if task.assignee_id is None:
        task_offered(task, why)
        return
    verb = {"returned": "was sent back to you",
            "escalated": "was escalated to you because it is overdue"}.get(
        why, "is waiting for you")
    queue(task.assignee_id, _kind(why), f"Meezan: {task.title} — {task.case.subject.full_name}",
          f"{_about(task)} {verb}.\n\nOpen it: {_task_link(task)}\n", task)


def pool_holders(task: HumanTask) -> list[User]:
    """Who may take an unclaimed pool task: holders of its role whose scope (the whole
    organisation, or the task's unit or a unit above it) covers the task's unit, each passed
    through `assignment.may_act_on` — the rule the task page and a claim apply, the queue's own
    scope plus segregation of duties (never the case's subject, nobody without an active
    login, no reporting officer on a countersignature). A handful of rows: the role's holders
    near the unit, with their roles, in one query."""
    if task.assignee_id is not None or task.candidate_role is None \
            or task.candidate_org_unit_id is None:
        return []
    unit = db.session.get(OrgUnit, task.candidate_org_unit_id)
    if unit is None:
        return []
    holders = select(UserRole.user_id).where(
        UserRole.role == Role(task.candidate_role),
        or_(UserRole.org_unit_id.is_(None), UserRole.org_unit_id.in_(unit.ancestor_ids())))
    candidates = db.session.scalars(select(User).where(User.id.in_(holders))
                                    .options(selectinload(User.roles)).order_by(User.id))
    return [user for user in candidates if may_act_on(user, task)]


def task_offered(task: HumanTask, why: str = "assigned") -> list[Notification]:
    """A task offered to a role in an org unit (e.g. an overdue countersignature escalated to
    HR's pool): one notification for each person who may claim it, each by their own choice of
    immediate mail or digest. A later claim moves no one's notification: the claimant already
    had theirs."""
    unit = db.session.get(OrgUnit, task.candidate_org_unit_id) \
        if task.candidate_org_unit_id is not None else None
    pool = f"{str(task.candidate_role).upper()} of {unit.name}" if unit is not None \
        else str(task.candidate_role)
    verb = {"returned": "was sent back", "escalated": "was escalated because it is overdue"}.get(
        why, "is waiting")
    subject = f"Meezan: {task.title} — {task.case.subject.full_name} (to claim)"
    body = (f"{_about(task)} {verb}. It is offered to {pool}: anyone of you may claim it "
            f"from the queue.\n\nYour queue: {_link('/queue')}\n")
    return [queue(user.id, _kind(why), subject, body, task) for user in pool_holders(task)]


def task_routed(task: HumanTask, holder_id: int, reason: str) -> None:
    """A task that moved to `holder_id` (delegation, hand-back, absence, reassignment)."""
    queue(holder_id, NotificationKind.TASK_DELEGATED,
          f"Meezan: {task.title} — {task.case.subject.full_name}",
          f"{_about(task)} is now with you: {reason}.\n\nOpen it: {_task_link(task)}\n", task)


def task_escalated_away(task: HumanTask, officer_id: int) -> None:
    """Tell the officer whose overdue task was escalated that it left their queue."""
    queue(officer_id, NotificationKind.TASK_ESCALATED,
          f"Meezan: {task.title} — {task.case.subject.full_name} was escalated",
          f"{_about(task)} was overdue and has been escalated to the next-level officer.\n", task)


def task_reminder(task: HumanTask) -> None:
    if task.assignee_id is None:
        return
    queue(task.assignee_id, NotificationKind.TASK_REMINDER,
          f"Reminder: {task.title} — {task.case.subject.full_name}",
          f"{_about(task)} is still waiting for you.\n\nOpen it: {_task_link(task)}\n", task)


def set_preference(user: User, mode: DeliveryMode) -> None:
    """Immediate mails or one daily digest; applies to notifications queued from now on."""
    with unit_of_work():
        pref = db.session.get(NotificationPreference, user.id)
        before = pref.mode if pref is not None else DeliveryMode.IMMEDIATE
        if pref is None:
            pref = NotificationPreference(user_id=user.id)
            db.session.add(pref)
        pref.mode, pref.updated_at = mode, clock.now()
        audit.record(AuditEventType.NOTIFICATION_PREFERENCE_CHANGED, actor=user,
                     details={"before": str(before), "after": str(mode)})


# -- sending (the worker) -----------------------------------------------------------------------


@dataclass
class SendRun:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0
    digests: int = 0
    errors: list[str] = field(default_factory=list)


class _Mailer:
    """One SMTP connection per worker pass, opened on first use."""

    def __init__(self, config: Any) -> None:
        self.config = config
        self.smtp: smtplib.SMTP | None = None

    def send(self, message: EmailMessage) -> None:
        if self.smtp is None:
            self.smtp = self._connect()
        try:
            self.smtp.send_message(message)
        except BaseException:
            self.close()
            raise

    def _connect(self) -> smtplib.SMTP:
        cfg = self.config
        host, port = cfg["SMTP_HOST"], int(cfg["SMTP_PORT"])
        timeout = float(cfg.get("SMTP_TIMEOUT", 10))
        security = cfg.get("SMTP_SECURITY", "starttls")
        if security == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                host, port, timeout=timeout, context=ssl.create_default_context()
            )
        else:
            smtp = smtplib.SMTP(host, port, timeout=timeout)
            if security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
        if cfg.get("SMTP_USERNAME"):
            smtp.login(cfg["SMTP_USERNAME"], cfg.get("SMTP_PASSWORD") or "")
        return smtp

    def close(self) -> None:
        if self.smtp is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self.smtp.quit()
            self.smtp = None


def _message(to: str, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = current_app.config.get("MAIL_FROM", "meezan@localhost")
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    return message


def backoff(attempts: int) -> timedelta:
    """Wait before attempt `attempts + 1`: base × 2^(attempts − 1), capped."""
    base = float(current_app.config.get("NOTIFY_BACKOFF_SECONDS", 60))
    cap = float(current_app.config.get("NOTIFY_BACKOFF_MAX_SECONDS", 6 * 3600))
    return timedelta(seconds=min(cap, base * 2 ** max(0, attempts - 1)))


def _lock_due(query: Any) -> list[Notification]:
    return list(db.session.scalars(
        query.with_for_update(skip_locked=True).execution_options(populate_existing=True)
    ))


def _after_failure(rows: list[Notification], error: str, now: datetime, run: SendRun) -> None:
    max_attempts = int(current_app.config.get("NOTIFY_MAX_ATTEMPTS", 10))
    for row in rows:
        row.attempts += 1
        row.last_error = error[:2000]
        if row.attempts >= max_attempts:
            row.status = NotificationStatus.FAILED
            run.failed += 1
        else:
            row.next_attempt_at = now + backoff(row.attempts)
            run.retried += 1


def _deliver(rows: list[Notification], mailer: _Mailer, run: SendRun, digest: bool) -> None:
    """Send `rows` (locked, one recipient when `digest`) as one mail each or as one digest."""
    now = clock.now()
    recipient = rows[0].recipient
    if not recipient.email:
        for row in rows:
            row.status, row.last_error = NotificationStatus.SKIPPED, "no e-mail address"
            run.skipped += 1
        return
    if digest:
        body = "\n".join(f"• {r.subject.removeprefix('Meezan: ')}\n  {r.body.strip()}\n"
                         for r in rows)
        messages = [_message(recipient.email, f"Meezan: your daily digest ({len(rows)} items)",
                             f"Since your last digest:\n\n{body}")]
    else:
        messages = [_message(recipient.email, r.subject, r.body) for r in rows]
    try:
        for message in messages:
            mailer.send(message)
    except (OSError, smtplib.SMTPException) as exc:
        error = f"{type(exc).__name__}: {exc}"
        run.errors.append(f"notification(s) {[r.id for r in rows]}: {error}")
        _after_failure(rows, error, now, run)
        return
    for row in rows:
        row.status, row.sent_at = NotificationStatus.SENT, now
        row.attempts += 1
    if digest:
        run.digests += 1
    else:
        run.sent += len(rows)


def send_due(batch_size: int = 100) -> SendRun:
    """One pass: every due immediate notification, then every due digest."""
    run = SendRun()
    mailer = _Mailer(current_app.config)
    try:
        now = clock.now()
        due_ids = list(db.session.scalars(
            select(Notification.id)
            .where(Notification.status == NotificationStatus.PENDING,
                   Notification.digest.is_(False), Notification.next_attempt_at <= now)
            .order_by(Notification.next_attempt_at, Notification.id)
            .limit(batch_size)
        ))
        db.session.rollback()
        for notification_id in due_ids:
            with unit_of_work():
                rows = _lock_due(select(Notification).where(
                    Notification.id == notification_id,
                    Notification.status == NotificationStatus.PENDING,
                    Notification.next_attempt_at <= now))
                if rows:  # else another worker has it, or sent it
                    _deliver(rows, mailer, run, digest=False)
        recipients = list(db.session.scalars(
            select(Notification.recipient_id)
            .where(Notification.status == NotificationStatus.PENDING,
                   Notification.digest.is_(True), Notification.next_attempt_at <= now)
            .group_by(Notification.recipient_id)
            .order_by(Notification.recipient_id)
            .limit(batch_size)
        ))
        db.session.rollback()
        for recipient_id in recipients:
            with unit_of_work():
                rows = _lock_due(select(Notification).where(
                    Notification.recipient_id == recipient_id,
                    Notification.status == NotificationStatus.PENDING,
                    Notification.digest.is_(True), Notification.next_attempt_at <= now,
                ).order_by(Notification.id))
                if rows:
                    _deliver(rows, mailer, run, digest=True)
    finally:
        mailer.close()
    return run


def retry_failed() -> int:
    """Put every failed notification back in the queue (after fixing the mail settings)."""
    with unit_of_work():
        result = db.session.execute(
            update(Notification)
            .where(Notification.status == NotificationStatus.FAILED)
            .values(status=NotificationStatus.PENDING, attempts=0, next_attempt_at=clock.now())
        )
    return result.rowcount or 0
