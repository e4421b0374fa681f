"""Optional second factor for the people whose sign-in matters most: approvers (officers with
someone reporting to them, HR, finance) and administrators.

Enrolment: a new secret is shown as a QR code (SVG drawn on the server: no third-party image
service ever sees it) and as text; the person confirms with a code from their authenticator app,
and only then is the secret stored and sign-in starts asking for a code. Ten recovery codes are
shown once and stored as SHA-256 digests. Codes are RFC 6238 TOTP (30 s steps, one step of clock
drift either way) checked against the app clock; a time step once accepted is never accepted
again, so a code read over someone's shoulder is useless after its owner used it.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

import pyotp
import segno
from sqlalchemy import exists, or_, select

from app.clock import clock
from app.extensions import db
from app.i18n import N_
from app.models import AuditEventType, Employee, RecoveryCode, Role, User
from app.models.base import utcnow
from app.services import audit
from app.services.errors import Conflict, PermissionDenied, ValidationFailed
from app.services.transaction import unit_of_work

ISSUER = "Meezan"
RECOVERY_CODES = 10
STEP_SECONDS = 30
RECOVERY_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
APPROVER_ROLES = (Role.ADMIN, Role.HR, Role.FINANCE)


def eligible(user: User) -> bool:
    """Administrators, HR and finance, and officers: anyone who approves someone's work."""
    if any(user.has_role(role) for role in APPROVER_ROLES):
        return True
    officer = select(Employee.id).where(Employee.user_id == user.id).scalar_subquery()
    return bool(db.session.scalar(select(exists().where(or_(
        Employee.reporting_officer_id == officer, Employee.countersigning_officer_id == officer)))))


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The otpauth URI as an inline SVG QR code."""
    return segno.make(uri, error="m").svg_inline(scale=5, dark="#111", light="#fff",
                                                 omitsize=False)


def _timecode(at: datetime) -> int:
    return int(at.timestamp()) // STEP_SECONDS


def _matching_timecode(secret: str, code: str) -> int | None:
    """The time step (now, or one step either side) whose code this is."""
    totp, now = pyotp.TOTP(secret), clock.now()
    current = _timecode(now)
    for step in (current, current - 1, current + 1):
        if secrets.compare_digest(totp.at(step * STEP_SECONDS), code):
            return step
    return None


def _normalised(code: str) -> str:
    return "".join(code.split()).replace("-", "").upper()


def _digest(code: str) -> str:
    return hashlib.sha256(_normalised(code).encode("ascii", "ignore")).hexdigest()


def _new_recovery_codes(user: User) -> list[str]:
    db.session.query(RecoveryCode).filter(RecoveryCode.user_id == user.id).delete()
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(10))  # 50 random bits
        codes.append(f"{raw[:5]}-{raw[5:]}")
        db.session.add(RecoveryCode(user_id=user.id, code_hash=_digest(raw)))
    return codes


def enable(user: User, secret: str, code: str) -> list[str]:
    """Confirm enrolment with a code from the app; returns the recovery codes (shown once)."""
    if not eligible(user):
        raise PermissionDenied(N_("A second factor is offered to approvers and administrators."))
    if user.has_two_factor:
        raise Conflict(N_("Two-step sign-in is already on."))
    step = _matching_timecode(secret, _normalised(code))
    if step is None:
        raise ValidationFailed(N_("That code does not match. Check the time on your phone and "
                                  "enter the code now shown."), {"code": ["Wrong code."]})
    with unit_of_work():
        user.totp_secret, user.totp_enabled_at, user.totp_last_timecode = secret, utcnow(), step
        codes = _new_recovery_codes(user)
        audit.record(AuditEventType.USER_TWO_FACTOR_ENABLED, actor=user,
                     details={"recovery_codes": len(codes)})
    return codes


def check_code(user: User, code: str) -> str | None:
    """Within the caller's transaction: "totp" or "recovery_code" if the code is good (and
    burn it), None otherwise."""
    if not user.has_two_factor or not code:
        return None
    code = _normalised(code)
    if code.isdigit() and len(code) == 6:
        step = _matching_timecode(user.totp_secret or "", code)
        if step is None or (user.totp_last_timecode is not None
                            and step <= user.totp_last_timecode):
            return None
        user.totp_last_timecode = step
        return "totp"
    row = db.session.scalar(select(RecoveryCode).where(
        RecoveryCode.user_id == user.id, RecoveryCode.code_hash == _digest(code),
        RecoveryCode.used_at.is_(None)).with_for_update())
    if row is None:
        return None
    row.used_at = utcnow()
    return "recovery_code"


def remaining_recovery_codes(user: User) -> int:
    return len(list(db.session.scalars(select(RecoveryCode.id).where(
        RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)))))


def disable(user: User, code: str) -> None:
    """Turn it off, proving possession once more (a code or a recovery code)."""
    if not user.has_two_factor:
        raise Conflict(N_("Two-step sign-in is not on."))
    with unit_of_work():
        used = check_code(user, code)
        if used is None:
            raise ValidationFailed(N_("That code does not match."), {"code": ["Wrong code."]})
        user.totp_secret = user.totp_enabled_at = user.totp_last_timecode = None
        db.session.query(RecoveryCode).filter(RecoveryCode.user_id == user.id).delete()
        audit.record(AuditEventType.USER_TWO_FACTOR_DISABLED, actor=user,
                     details={"confirmed_with": used})
