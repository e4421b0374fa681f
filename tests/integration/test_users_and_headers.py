"""Creating logins from the command line, and the security headers on every response."""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import Role, User


def test_create_user_command_makes_a_hashed_login_with_roles(app) -> None:
    result = app.test_cli_runner().invoke(args=[
        "create-user", "chief", "--name", "Chief Admin", "--role", "admin",
        "--password", "a-long-passphrase"])
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).where(User.username == "chief"))
    assert user.has_role(Role.ADMIN) and user.check_password("a-long-passphrase")
    assert "a-long-passphrase" not in user.password_hash


def test_create_user_refuses_short_passwords_and_duplicates(app) -> None:
    runner = app.test_cli_runner()
    short = runner.invoke(args=["create-user", "x", "--name", "X", "--password", "short"])
    assert short.exit_code != 0 and "at least 10" in short.output
    runner.invoke(args=["create-user", "y", "--name", "Y", "--password", "long-enough-pw"])
    again = runner.invoke(args=["create-user", "y", "--name", "Y", "--password", "long-enough-pw"])
    assert again.exit_code != 0 and "already exists" in again.output


def test_responses_carry_security_headers(client) -> None:
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_session_cookie_is_http_only(app) -> None:
    assert app.config["SESSION_COOKIE_HTTPONLY"] and app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
