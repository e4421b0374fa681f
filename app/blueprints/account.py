"""My account: two-step sign-in (TOTP) for approvers and administrators."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms import StringField
from wtforms.validators import InputRequired, Length

from app.i18n import translated
from app.services import two_factor
from app.services.errors import ServiceError

bp = Blueprint("account", __name__, url_prefix="/account")
PENDING_SECRET = "pending_totp_secret"  # noqa: S105 - a session key name


class CodeForm(FlaskForm):
    code = StringField(_l("Code from the app"), [InputRequired(), Length(max=20)])


class ConfirmForm(FlaskForm):
    """A button with a CSRF token."""


def _page(status: int = 200, **context: object):  # noqa: ANN202
    return render_template(
        "account/two_factor.html", eligible=two_factor.eligible(current_user),
        enabled=current_user.has_two_factor,
        remaining=two_factor.remaining_recovery_codes(current_user)
        if current_user.has_two_factor else 0,
        start_form=ConfirmForm(), code_form=CodeForm(), **context), status


@bp.get("/two-factor")
@login_required
def two_factor_page():  # noqa: ANN201
    return _page()


@bp.post("/two-factor/setup")
@login_required
def setup():  # noqa: ANN201
    """A fresh secret, kept in the (signed) session until confirmed: nothing is stored yet."""
    form = ConfirmForm()
    if not form.validate_on_submit():
        return _page(400)
    if not two_factor.eligible(current_user) or current_user.has_two_factor:
        flash(_("Two-step sign-in is for approvers and administrators who have not set it up."),
              "error")
        return _page(403)
    secret = two_factor.new_secret()
    session[PENDING_SECRET] = secret
    uri = two_factor.provisioning_uri(current_user, secret)
    return _page(secret=secret, qr=Markup(two_factor.qr_svg(uri)))  # noqa: S704 - our own SVG


@bp.post("/two-factor/confirm")
@login_required
def confirm():  # noqa: ANN201
    form = CodeForm()
    secret = session.get(PENDING_SECRET)
    if secret is None:
        flash(_("Start the setup again."), "error")
        return redirect(url_for("account.two_factor_page"))
    if not form.validate_on_submit():
        return _page(400)
    try:
        codes = two_factor.enable(current_user, secret, form.code.data)
    except ServiceError as exc:
        flash(translated(exc.message), "error")
        uri = two_factor.provisioning_uri(current_user, secret)
        return _page(exc.status_code, secret=secret,
                     qr=Markup(two_factor.qr_svg(uri)))  # noqa: S704 - our own SVG
    session.pop(PENDING_SECRET, None)
    flash(_("Two-step sign-in is on. Keep the recovery codes below somewhere safe."), "success")
    return _page(recovery_codes=codes)


@bp.post("/two-factor/disable")
@login_required
def disable():  # noqa: ANN201
    form = CodeForm()
    if not form.validate_on_submit():
        return _page(400)
    try:
        two_factor.disable(current_user, form.code.data)
    except ServiceError as exc:
        flash(translated(exc.message), "error")
        return _page(exc.status_code)
    flash(_("Two-step sign-in is off."), "success")
    return redirect(url_for("account.two_factor_page"))
