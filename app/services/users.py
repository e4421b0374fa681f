"""Managing logins."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import lazyload

from app.extensions import db
from app.i18n import N_
from app.models import AuditEventType, Role, User, UserRole
from app.services import audit, name_search, passwords
from app.services.errors import Conflict, Message, NotFound, ValidationFailed
from app.services.passwords import MIN_PASSWORD_LENGTH
from app.services.transaction import unit_of_work

__all__ = ["MIN_PASSWORD_LENGTH", "check_password_policy", "create_user", "set_password"]


def check_password_policy(password: str, username: str) -> None:
    """Refuse a password the policy (app/services/passwords.py) does not accept."""
    found = passwords.problems(password, username)
    if found:
        # One problem is its own (catalogue) message; several are read together, in English.
        raise ValidationFailed(found[0] if len(found) == 1 else " ".join(found),
                               {"password": found})


def create_user(
    username: str, full_name: str, password: str, email: str | None, roles: list[Role]
) -> User:
    username = username.strip()
    if not username or len(username) > 80:
        raise ValidationFailed(N_("A username has 1 to 80 characters."), {"username": ["Invalid."]})
    check_password_policy(password, username)
    if db.session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(Message(N_("A user named %(username)s already exists."),
                               username=repr(username)))
    with unit_of_work():
        user = User(username=username, full_name=full_name.strip(), email=email)
        user.set_password(password)
        user.roles = [UserRole(role=role) for role in roles]
        db.session.add(user)
    return user


def set_password(username: str, password: str) -> User:
    """An administrator's (CLI) way to give a login a password, e.g. one created by an org data
    import, which has none."""
    check_password_policy(password, username)
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(Message(N_("No user named %(username)s."), username=repr(username)))
    with unit_of_work():
        user.set_password(password)
        audit.record(AuditEventType.USER_PASSWORD_SET, details={"username": username})
    return user


def find_colleagues(text: str, limit: int = name_search.SUGGESTIONS) -> list[User]:
    """Active users whose name or username contains `text` (any case), by name: what a person
    picker suggests while someone types. A LIMIT query, so a ministry of 100,000 logins never
    sends everyone to the browser (fewer than two characters: nothing)."""
    matches = name_search.contains_text(text, User.username, User.full_name)
    if matches is None:
        return []
    return list(db.session.scalars(
        select(User)
        .where(User.active.is_(True), matches)
        .order_by(User.full_name, User.username)
        .limit(limit)
        .options(lazyload(User.roles))
    ))


def active_user_named(username: str) -> User | None:
    """The active user with exactly this username (what a person picker submits)."""
    return db.session.scalar(
        select(User).where(User.username == username.strip(), User.active.is_(True)))
