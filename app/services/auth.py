"""Signing in (web sessions) and API bearer tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from app.extensions import db
from app.models import ApiToken, AuditEventType, User
from app.models.base import utcnow
from app.services import audit
from app.services.transaction import unit_of_work


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """Checked against when the username is unknown, so both paths cost the same hash time."""
    return generate_password_hash(secrets.token_hex(16))


def authenticate(username: str, password: str, channel: str = "web") -> User | None:
    """The active user with these credentials, or None. Both outcomes are audited."""
    user = db.session.scalar(select(User).where(User.username == username.strip()))
    with unit_of_work():
        if user is None or not user.active:
            check_password_hash(_dummy_hash(), password)
            audit.record(
                AuditEventType.USER_LOGIN_FAILED,
                details={"username": username[:80], "channel": channel},
            )
            return None
        if not user.check_password(password):
            audit.record(
                AuditEventType.USER_LOGIN_FAILED,
                details={"username": user.username, "channel": channel},
            )
            return None
        audit.record(AuditEventType.USER_LOGGED_IN, actor=user, details={"channel": channel})
    return user


def record_logout(user: User) -> None:
    with unit_of_work():
        audit.record(AuditEventType.USER_LOGGED_OUT, actor=user)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(user: User, ttl_hours: int) -> tuple[str, datetime]:
    token = secrets.token_urlsafe(32)
    expires_at = utcnow() + timedelta(hours=ttl_hours)
    with unit_of_work():
        db.session.add(ApiToken(user_id=user.id, token_hash=_digest(token), expires_at=expires_at))
        audit.record(
            AuditEventType.API_TOKEN_ISSUED,
            actor=user,
            details={"expires_at": expires_at.isoformat()},
        )
    return token, expires_at


def user_for_token(token: str) -> User | None:
    row = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(token)))
    if row is None or row.revoked_at is not None:
        return None
    expires_at = row.expires_at
    if expires_at.tzinfo is None:  # SQLite drops the zone; values are stored in UTC
        expires_at = expires_at.replace(tzinfo=UTC)
    if expires_at <= utcnow() or not row.user.active:
        return None
    return row.user
