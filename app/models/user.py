"""People who sign in, their application roles and their API tokens."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

from flask import current_app
from flask_login import UserMixin
from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from app.extensions import db
from app.models.base import db_enum, utcnow

if TYPE_CHECKING:
    from app.models.org import Employee


class Role(enum.StrEnum):
    """Application roles. Officer roles (reporting, countersigning) are not here: they come
    from the org data for each case's subject employee."""

    ADMIN = "admin"
    HR = "hr"
    FINANCE = "finance"
    PROCESS_OWNER = "process_owner"
    AUDITOR = "auditor"


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Optional second factor (RFC 6238 TOTP): the shared secret once enrolment is confirmed, and
    # the last time step accepted, so a code cannot be used twice.
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    totp_last_timecode: Mapped[int | None] = mapped_column(BigInteger)
    # The interface language the person chose ("en", "ur"); None: follow the browser.
    locale: Mapped[str | None] = mapped_column(String(8))

    roles: Mapped[list[UserRole]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )
    employee: Mapped[Employee | None] = relationship(back_populates="user", uselist=False)

    def set_password(self, password: str) -> None:
        method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt")
        self.password_hash = generate_password_hash(password, method=method)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def is_active(self) -> bool:  # flask-login refuses inactive users
        return self.active

    @property
    def has_two_factor(self) -> bool:
        return self.totp_secret is not None and self.totp_enabled_at is not None

    def has_role(self, role: Role) -> bool:
        return any(r.role == role for r in self.roles)

    def role_names(self) -> list[str]:
        return sorted({str(r.role) for r in self.roles})

    def __repr__(self) -> str:
        return f"<User {self.username}>"


class UserRole(db.Model):
    """A role held by a user, optionally limited to an org unit and the units below it
    (e.g. HR of the Health Department). No unit means the whole organisation."""

    __tablename__ = "user_roles"
    __table_args__ = (UniqueConstraint("user_id", "role", "org_unit_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role] = mapped_column(db_enum(Role, 32))
    org_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"))

    user: Mapped[User] = relationship(back_populates="roles")


class ApiToken(db.Model):
    """A bearer token for the JSON API. Only its SHA-256 is stored, so a database leak
    gives no usable tokens."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    user: Mapped[User] = relationship()
