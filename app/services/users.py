"""Managing logins."""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import AuditEventType, Role, User, UserRole
from app.services import audit
from app.services.errors import Conflict, NotFound, ValidationFailed
from app.services.transaction import unit_of_work

MIN_PASSWORD_LENGTH = 10


def create_user(
    username: str, full_name: str, password: str, email: str | None, roles: list[Role]
) -> User:
    username = username.strip()
    if not username or len(username) > 80:
        raise ValidationFailed("A username has 1 to 80 characters.", {"username": ["Invalid."]})
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(
            f"A password has at least {MIN_PASSWORD_LENGTH} characters.",
            {"password": ["Too short."]},
        )
    if db.session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"A user named {username!r} already exists.")
    with unit_of_work():
        user = User(username=username, full_name=full_name.strip(), email=email)
        user.set_password(password)
        user.roles = [UserRole(role=role) for role in roles]
        db.session.add(user)
    return user


def set_password(username: str, password: str) -> User:
    """An administrator's (CLI) way to give a login a password, e.g. one created by an org data
    import, which has none."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(
            f"A password has at least {MIN_PASSWORD_LENGTH} characters.",
            {"password": ["Too short."]},
        )
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"No user named {username!r}.")
    with unit_of_work():
        user.set_password(password)
        audit.record(AuditEventType.USER_PASSWORD_SET, details={"username": username})
    return user
