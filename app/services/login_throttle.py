"""Failed sign-ins, counted per username and per client address; too many lock that username
(or address) out for a while.

Per username stops guessing one person's password from anywhere; per address stops one machine
trying many usernames. The address limit is higher, since many people can sit behind one office
NAT. While locked, a sign-in is refused before its password is even checked, so guesses teach
nothing. The counters live in the database, so every gunicorn worker and host sees the same
counts. Callers run these inside their own transaction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import AuditEventType, LoginThrottle
from app.models.base import utcnow
from app.services import audit
from app.services.errors import ServiceError

USERNAME, ADDRESS = "username", "ip"


class LoginLocked(ServiceError):
    """Too many failed sign-ins: the message says how long to wait."""

    status_code = 429

    def __init__(self, retry_after_seconds: int) -> None:
        minutes = max(1, math.ceil(retry_after_seconds / 60))
        super().__init__(
            "Too many failed sign-ins. For your security, signing in is locked for "
            f"{minutes} minute{'s' if minutes != 1 else ''}; try again then, or ask an "
            "administrator.", retry_after=retry_after_seconds)
        self.retry_after = retry_after_seconds


@dataclass(frozen=True)
class Limits:
    per_username: int
    per_address: int
    window: timedelta
    lockout: timedelta


def limits() -> Limits:
    config = current_app.config
    return Limits(config["LOGIN_MAX_FAILURES"], config["LOGIN_MAX_FAILURES_PER_IP"],
                  timedelta(minutes=config["LOGIN_FAILURE_WINDOW_MINUTES"]),
                  timedelta(minutes=config["LOGIN_LOCKOUT_MINUTES"]))


def _keys(username: str, address: str | None) -> list[tuple[str, str]]:
    keys = [(USERNAME, username.strip().lower()[:200])]
    if address:
        keys.append((ADDRESS, address[:200]))
    return keys


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _any_key(username: str, address: str | None) -> ColumnElement[bool]:
    return or_(*[and_(LoginThrottle.scope == scope, LoginThrottle.key == key)
                 for scope, key in _keys(username, address)])


def locked_for(username: str, address: str | None) -> int:
    """Seconds until sign-in is allowed again for this username or address (0: not locked)."""
    now = utcnow()
    until = db.session.scalars(select(LoginThrottle.locked_until).where(
        _any_key(username, address), LoginThrottle.locked_until.is_not(None)))
    waits = [(_aware(u) - now).total_seconds() for u in until]
    return max([math.ceil(w) for w in waits if w > 0], default=0)


def _locked_row(scope: str, key: str) -> LoginThrottle:
    query = (select(LoginThrottle).where(LoginThrottle.scope == scope, LoginThrottle.key == key)
             .with_for_update().execution_options(populate_existing=True))
    row = db.session.scalars(query).one_or_none()
    if row is None:
        try:
            with db.session.begin_nested():
                db.session.add(LoginThrottle(scope=scope, key=key, failures=0,
                                             window_started_at=utcnow()))
        except IntegrityError:
            pass  # another worker counted this key's first failure at the same moment
        row = db.session.scalars(query).one()
    return row


def record_failure(username: str, address: str | None) -> None:
    """Count one failed attempt against the username and the address; lock out whichever
    reached its limit (audited)."""
    rules = limits()
    now = utcnow()
    for scope, key in _keys(username, address):
        row = _locked_row(scope, key)
        if now - _aware(row.window_started_at) > rules.window:
            row.failures, row.window_started_at = 0, now
        row.failures += 1
        limit = rules.per_username if scope == USERNAME else rules.per_address
        if row.failures >= limit:
            row.locked_until = now + rules.lockout
            audit.record(AuditEventType.USER_LOCKED_OUT, details={
                "scope": scope, scope: key, "failures": row.failures,
                "until": row.locked_until.isoformat()})
            row.failures, row.window_started_at = 0, now


def record_success(username: str) -> None:
    """A correct sign-in clears its username's count (never the address's: one good account
    must not reset the count of a machine guessing others)."""
    row = db.session.scalars(select(LoginThrottle).where(
        LoginThrottle.scope == USERNAME,
        LoginThrottle.key == username.strip().lower()[:200])).one_or_none()
    if row is not None:
        row.failures, row.locked_until = 0, None
