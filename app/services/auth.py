"""Signing in (web sessions) and API bearer tokens."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.orm import joinedload
from werkzeug.security import check_password_hash, generate_password_hash

from app.extensions import db
from app.models import ApiToken, AuditEventType, User
from app.models.base import utcnow
from app.services import audit, login_throttle, two_factor
from app.services.errors import ServiceError
from app.services.transaction import unit_of_work


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """Checked against when the username is unknown, so both paths cost the same hash time."""
    return generate_password_hash(secrets.token_hex(16))


@dataclass(frozen=True)
class SignIn:
    """The outcome of the password step: `user` None for wrong credentials; `complete` False when
    the user has two-step sign-in on and must still give a code (`verify_second_factor`)."""

    user: User | None
    complete: bool


def check_password(username: str, password: str, channel: str = "web",
                   client_ip: str | None = None) -> SignIn:
    """The password step, throttled per username and per client address (LoginLocked while
    either is locked out: then the password is not even checked). Every outcome is audited."""
    wait = login_throttle.locked_for(username, client_ip)
    if wait:
        with unit_of_work():
            audit.record(AuditEventType.USER_LOGIN_FAILED, details={
                "username": username[:80], "channel": channel, "reason": "locked out",
                "ip": client_ip})
        raise login_throttle.LoginLocked(wait)
    user = db.session.scalar(select(User).where(User.username == username.strip()))
    with unit_of_work():
        if user is None or not user.active or not user.check_password(password):
            if user is None or not user.active:
                check_password_hash(_dummy_hash(), password)
            audit.record(AuditEventType.USER_LOGIN_FAILED, details={
                "username": user.username if user else username[:80], "channel": channel,
                "ip": client_ip})
            login_throttle.record_failure(username, client_ip)
            return SignIn(None, False)
        if user.has_two_factor:
            return SignIn(user, False)
        login_throttle.record_success(username)
        audit.record(AuditEventType.USER_LOGGED_IN, actor=user,
                     details={"channel": channel, "ip": client_ip})
    return SignIn(user, True)


def verify_second_factor(user_id: int, code: str, channel: str = "web",
                         client_ip: str | None = None) -> User | None:
    """The code step after a correct password; wrong codes count towards the lockout like
    wrong passwords."""
    user = db.session.get(User, user_id)
    if user is None or not user.active:
        return None
    wait = login_throttle.locked_for(user.username, client_ip)
    if wait:
        raise login_throttle.LoginLocked(wait)
    with unit_of_work():
        used = two_factor.check_code(user, code)
        if used is None:
            audit.record(AuditEventType.USER_LOGIN_FAILED, actor=user, details={
                "username": user.username, "channel": channel, "reason": "wrong code",
                "ip": client_ip})
            login_throttle.record_failure(user.username, client_ip)
            return None
        login_throttle.record_success(user.username)
        audit.record(AuditEventType.USER_LOGGED_IN, actor=user, details={
            "channel": channel, "ip": client_ip, "second_factor": used})
    return user


def authenticate(username: str, password: str, channel: str = "web",
                 client_ip: str | None = None, otp: str | None = None) -> User | None:
    """In one go (the API): the active user with these credentials and, if they use two-step
    sign-in, this code; None otherwise."""
    result = check_password(username, password, channel, client_ip)
    if result.user is None or result.complete:
        return result.user
    if not otp:
        raise SecondFactorRequired()
    return verify_second_factor(result.user.id, otp, channel, client_ip)


class SecondFactorRequired(ServiceError):
    status_code = 401

    def __init__(self) -> None:
        super().__init__("This account uses two-step sign-in: send the current code from the "
                         "authenticator app (or a recovery code) as otp.",
                         second_factor_required=True)


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
    # Every API request comes here: the token and its user in one query; the user's roles are
    # read only if the request asks about them.
    row = db.session.scalar(
        select(ApiToken).where(ApiToken.token_hash == _digest(token))
        .options(joinedload(ApiToken.user).lazyload(User.roles))
    )
    if row is None or row.revoked_at is not None:
        return None
    expires_at = row.expires_at
    if expires_at.tzinfo is None:  # SQLite drops the zone; values are stored in UTC
        expires_at = expires_at.replace(tzinfo=UTC)
    if expires_at <= utcnow() or not row.user.active:
        return None
    return row.user
