"""Sign in and out."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import InputRequired, Length

from app.services import auth

bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    username = StringField("Username", [InputRequired(), Length(max=80)])
    password = PasswordField("Password", [InputRequired(), Length(max=200)])


def _safe_next(target: str | None) -> str:
    """Only same-site paths: an open redirect after sign-in is a phishing tool."""
    local = (
        bool(target)
        and target.startswith("/")
        and not target.startswith("//")
        and not urlsplit(target).netloc
    )
    return target if local else url_for("tasks.my_tasks")


@bp.route("/login", methods=["GET", "POST"])
def login():  # noqa: ANN201
    if current_user.is_authenticated:
        return redirect(url_for("tasks.my_tasks"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        user = auth.authenticate(form.username.data, form.password.data)
        if user is not None:
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
        flash("Wrong username or password.", "error")
        status = 401
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
@login_required
def logout():  # noqa: ANN201
    auth.record_logout(current_user)
    logout_user()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))
