"""Sign in and out."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import InputRequired, Length

from app.clock import clock
from app.i18n import translated
from app.services import auth, login_throttle

bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), [InputRequired(), Length(max=80)])
    password = PasswordField(_l("Password"), [InputRequired(), Length(max=200)])


def _safe_next(target: str | None) -> str:
    """Only same-site paths: an open redirect after sign-in is a phishing tool."""
    local = (
        bool(target)
        and target.startswith("/")
        and not target.startswith("//")
        and not urlsplit(target).netloc
    )
    return target if local else url_for("tasks.my_tasks")


PENDING = "pending_second_factor"
PENDING_SECONDS = 300


class SecondFactorForm(FlaskForm):
    code = StringField(_l("Code"), [InputRequired(), Length(max=20)])


def _locked(exc: login_throttle.LoginLocked, template: str, form: FlaskForm):  # noqa: ANN202
    flash(translated(exc.message), "error")
    return render_template(template, form=form), 429, {"Retry-After": str(exc.retry_after)}


@bp.route("/login", methods=["GET", "POST"])
def login():  # noqa: ANN201
    if current_user.is_authenticated:
        return redirect(url_for("tasks.my_tasks"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        try:
            result = auth.check_password(form.username.data, form.password.data,
                                         client_ip=request.remote_addr)
        except login_throttle.LoginLocked as exc:
            return _locked(exc, "auth/login.html", form)
        if result.user is not None and result.complete:
            login_user(result.user)
            return redirect(_safe_next(request.args.get("next")))
        if result.user is not None:
            session[PENDING] = {"user_id": result.user.id, "at": clock.now().timestamp(),
                                "next": _safe_next(request.args.get("next"))}
            return redirect(url_for("auth.second_factor"))
        flash(_("Wrong username or password."), "error")
        status = 401
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status


@bp.route("/login/code", methods=["GET", "POST"])
def second_factor():  # noqa: ANN201
    """The second step for people with two-step sign-in: a code after the right password."""
    pending = session.get(PENDING)
    if not pending or clock.now().timestamp() - pending.get("at", 0) > PENDING_SECONDS:
        session.pop(PENDING, None)
        flash(_("Please sign in again."), "info")
        return redirect(url_for("auth.login"))
    form = SecondFactorForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = auth.verify_second_factor(pending["user_id"], form.code.data,
                                             client_ip=request.remote_addr)
        except login_throttle.LoginLocked as exc:
            session.pop(PENDING, None)
            return _locked(exc, "auth/second_factor.html", form)
        if user is not None:
            session.pop(PENDING, None)
            login_user(user)
            return redirect(pending.get("next") or url_for("tasks.my_tasks"))
        flash(_("That code is not right. Enter the code your authenticator app shows now, or "
                "one of your recovery codes."), "error")
        status = 401
    elif request.method == "POST":
        status = 400
    return render_template("auth/second_factor.html", form=form), status


@bp.route("/logout", methods=["POST"])
@login_required
def logout():  # noqa: ANN201
    auth.record_logout(current_user)
    logout_user()
    flash(_("You are signed out."), "info")
    return redirect(url_for("auth.login"))
