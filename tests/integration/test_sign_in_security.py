"""Signing in safely: lockout after repeated failures (per username and per client address, web
and API, audited, with a clear message), the password policy, and the optional second factor
(TOTP) for approvers and administrators: enrolment with a server-drawn QR code, a code at every
sign-in, no replay, hashed one-time recovery codes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.clock import clock
from app.extensions import db
from app.models import AuditEvent, AuditEventType, RecoveryCode, Role, User
from app.services import passwords, users
from app.services.errors import ValidationFailed
from tests.helpers import csrf_token, login, logout

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_clock() -> Iterator[None]:
    clock.freeze(START)
    yield
    clock.reset()


def _post_login(client: FlaskClient, username: str, password: str):  # noqa: ANN202
    token = csrf_token(client, "/login")
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": token})


def _events(event_type: AuditEventType) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.event_type == event_type)
                                   .order_by(AuditEvent.seq)))


def test_five_wrong_passwords_lock_the_username_out_with_a_clear_message(client, org) -> None:
    for _ in range(5):
        assert _post_login(client, "emp1", "wrong-password").status_code == 401
    refused = _post_login(client, "emp1", "meezan-demo")  # even the right password
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "900"
    assert "Too many failed sign-ins" in refused.get_data(as_text=True)
    assert "15 minutes" in refused.get_data(as_text=True)
    [locked] = _events(AuditEventType.USER_LOCKED_OUT)
    assert locked.details["scope"] == "username" and locked.details["username"] == "emp1"
    assert _events(AuditEventType.USER_LOGIN_FAILED)[-1].details["reason"] == "locked out"

    clock.advance(timedelta(minutes=15, seconds=1))
    assert _post_login(client, "emp1", "meezan-demo").status_code == 302


def test_a_correct_sign_in_clears_the_username_count(client, org) -> None:
    for _ in range(4):
        _post_login(client, "emp1", "wrong-password")
    assert _post_login(client, "emp1", "meezan-demo").status_code == 302
    logout(client)
    for _ in range(4):
        assert _post_login(client, "emp1", "wrong-password").status_code == 401
    assert _post_login(client, "emp1", "meezan-demo").status_code == 302


def test_failures_outside_the_window_do_not_add_up(client, org) -> None:
    for _ in range(4):
        _post_login(client, "emp1", "wrong-password")
    clock.advance(timedelta(minutes=16))
    for _ in range(4):
        _post_login(client, "emp1", "wrong-password")
    assert _post_login(client, "emp1", "meezan-demo").status_code == 302


def test_unknown_usernames_lock_like_known_ones(client, org) -> None:
    for _ in range(5):
        _post_login(client, "nobody", "wrong-password")
    assert _post_login(client, "nobody", "x" * 12).status_code == 429


def test_one_address_trying_many_usernames_is_locked_out_but_others_are_not(app, org) -> None:
    attacker = app.test_client()
    attacker.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    for attempt in range(20):
        _post_login(attacker, f"guess{attempt}", "wrong-password")
    assert _post_login(attacker, "emp2", "meezan-demo").status_code == 429
    [locked] = _events(AuditEventType.USER_LOCKED_OUT)
    assert locked.details == {"scope": "ip", "ip": "203.0.113.9", "failures": 20,
                              "until": locked.details["until"]}
    attacker.environ_base["REMOTE_ADDR"] = "198.51.100.7"  # a colleague's machine
    ok = _post_login(attacker, "emp2", "meezan-demo")
    assert ok.status_code == 302, ok.get_data(as_text=True)


def test_the_api_token_endpoint_is_throttled_too(client, org) -> None:
    for _ in range(5):
        wrong = client.post("/api/v1/tokens", json={"username": "ro1", "password": "nope"})
        assert wrong.status_code == 401
    locked = client.post("/api/v1/tokens", json={"username": "ro1", "password": "meezan-demo"})
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) == 900
    assert "Too many failed sign-ins" in locked.json["error"]


@pytest.mark.parametrize(("password", "username", "problem"), [
    ("short", "someone", "at least 10"),
    ("password123", "someone", "most commonly used"),
    ("Qwertyuiop!!", "someone", "most commonly used"),
    ("Pakistan786!", "someone", "most commonly used"),
    ("aaaaaaaaaaaa", "someone", "more than one or two"),
    ("sana.afridi-2026", "Sana.Afridi", "may not contain the username"),
])
def test_the_password_policy_refuses(password: str, username: str, problem: str) -> None:
    assert any(problem in p for p in passwords.problems(password, username))


def test_the_password_policy_accepts_a_long_uncommon_passphrase() -> None:
    assert passwords.problems("tea garden monsoon 42", "hr1") == []


def test_creating_a_user_or_setting_a_password_applies_the_policy(org) -> None:
    with pytest.raises(ValidationFailed, match="commonly used"):
        users.create_user("chief2", "Chief", "password1234", None, [Role.ADMIN])
    with pytest.raises(ValidationFailed, match="contain the username"):
        users.set_password("emp1", "emp1-is-my-password")
    users.set_password("emp1", "tea garden monsoon 42")
    assert db.session.get(User, org["emp1"].id).check_password("tea garden monsoon 42")


# Two-step sign-in


def _enrol(client: FlaskClient, username: str) -> tuple[str, list[str]]:
    login(client, username)
    page = client.get("/account/two-factor")
    assert page.status_code == 200 and "Set up two-step sign-in" in page.get_data(as_text=True)
    setup = client.post("/account/two-factor/setup",
                        data={"csrf_token": csrf_token(client, "/account/two-factor")})
    html = setup.get_data(as_text=True)
    assert setup.status_code == 200 and "<svg" in html and 'data-testid="totp-qr"' in html
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7]+)<', html).group(1)
    wrong = client.post("/account/two-factor/confirm", data={
        "code": "000000", "csrf_token": csrf_token(client, "/account/two-factor")})
    assert wrong.status_code == 422 and db.session.get(User, _id(username)).totp_secret is None
    done = client.post("/account/two-factor/confirm", data={
        "code": pyotp.TOTP(secret).at(clock.now()),
        "csrf_token": csrf_token(client, "/account/two-factor")})
    assert done.status_code == 200
    codes = re.findall(r"<li><code>([A-Z2-7]{5}-[A-Z2-7]{5})</code></li>",
                       done.get_data(as_text=True))
    logout(client)
    return secret, codes


def _id(username: str) -> int:
    return db.session.scalar(select(User.id).where(User.username == username))


def test_an_officer_enrols_and_then_needs_a_code_to_sign_in(client, org) -> None:
    secret, codes = _enrol(client, "ro1")
    assert len(codes) == 10 and len(set(codes)) == 10
    stored = db.session.scalars(select(RecoveryCode.code_hash)).all()
    assert len(stored) == 10 and not any(c.replace("-", "") in h for c in codes for h in stored)
    assert [e.actor_id for e in _events(AuditEventType.USER_TWO_FACTOR_ENABLED)] == [_id("ro1")]

    clock.advance(timedelta(seconds=30))
    step_one = _post_login(client, "ro1", "meezan-demo")
    assert step_one.status_code == 302 and step_one.headers["Location"].endswith("/login/code")
    assert client.get("/tasks").status_code == 302  # not signed in yet
    token = csrf_token(client, "/login/code")
    assert client.post("/login/code", data={"code": "123456", "csrf_token": token}
                       ).status_code == 401
    code = pyotp.TOTP(secret).at(clock.now())
    signed_in = client.post("/login/code", data={"code": code, "csrf_token": token})
    assert signed_in.status_code == 302 and client.get("/tasks").status_code == 200
    assert _events(AuditEventType.USER_LOGGED_IN)[-1].details["second_factor"] == "totp"

    logout(client)  # the same code again, within its 30 seconds: refused (no replay)
    _post_login(client, "ro1", "meezan-demo")
    again = client.post("/login/code", data={"code": code,
                                             "csrf_token": csrf_token(client, "/login/code")})
    assert again.status_code == 401


def test_a_recovery_code_signs_in_once(client, org) -> None:
    _secret, codes = _enrol(client, "hr1")
    for expected in (302, 401):
        _post_login(client, "hr1", "meezan-demo")
        response = client.post("/login/code", data={
            "code": codes[0].lower(), "csrf_token": csrf_token(client, "/login/code")})
        assert response.status_code == expected
        if expected == 302:
            logout(client)
    assert db.session.scalar(select(func.count(RecoveryCode.id)).where(
        RecoveryCode.used_at.is_not(None))) == 1


def test_wrong_codes_count_towards_the_lockout(client, org) -> None:
    _enrol(client, "cso1")
    _post_login(client, "cso1", "meezan-demo")
    token = csrf_token(client, "/login/code")
    for _ in range(5):
        client.post("/login/code", data={"code": "999999", "csrf_token": token})
    assert client.post("/login/code", data={"code": "999999", "csrf_token": token}
                       ).status_code in (302, 429)  # locked: the pending sign-in is dropped
    assert _post_login(client, "cso1", "meezan-demo").status_code == 429


def test_the_api_asks_for_the_code_of_an_enrolled_user(client, org) -> None:
    secret, _codes = _enrol(client, "admin")
    clock.advance(timedelta(seconds=30))
    without = client.post("/api/v1/tokens", json={"username": "admin", "password": "meezan-demo"})
    assert without.status_code == 401 and without.json["second_factor_required"] is True
    with_code = client.post("/api/v1/tokens", json={
        "username": "admin", "password": "meezan-demo",
        "otp": pyotp.TOTP(secret).at(clock.now())})
    assert with_code.status_code == 201 and with_code.json["token"]


def test_people_who_approve_nothing_are_not_offered_a_second_factor(client, org) -> None:
    login(client, "emp1")
    assert "offered to approvers" in client.get("/account/two-factor").get_data(as_text=True)
    refused = client.post("/account/two-factor/setup",
                          data={"csrf_token": csrf_token(client, "/account/two-factor")})
    assert refused.status_code == 403


def test_turning_it_off_needs_a_code_and_is_audited(client, org) -> None:
    secret, _codes = _enrol(client, "fin1")
    clock.advance(timedelta(seconds=30))
    _post_login(client, "fin1", "meezan-demo")
    client.post("/login/code", data={"code": pyotp.TOTP(secret).at(clock.now()),
                                     "csrf_token": csrf_token(client, "/login/code")})
    wrong = client.post("/account/two-factor/disable", data={
        "code": "111111", "csrf_token": csrf_token(client, "/account/two-factor")})
    assert wrong.status_code == 422
    clock.advance(timedelta(seconds=30))
    off = client.post("/account/two-factor/disable", data={
        "code": pyotp.TOTP(secret).at(clock.now()),
        "csrf_token": csrf_token(client, "/account/two-factor")})
    assert off.status_code == 302
    user = db.session.get(User, _id("fin1"))
    db.session.refresh(user)
    assert not user.has_two_factor
    assert db.session.scalar(select(func.count(RecoveryCode.id))) == 0
    assert len(_events(AuditEventType.USER_TWO_FACTOR_DISABLED)) == 1
