"""Absences (acting appointments) and how a user wants their e-mail."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import (
    DateField,
    RadioField,
    SelectChoice,
    SelectMultipleField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length

from app.blueprints.people import PersonField
from app.extensions import db
from app.i18n import translated
from app.models import DeliveryMode, ProcessModel
from app.services import absences, notifications
from app.services.errors import ServiceError

bp = Blueprint("absences", __name__)


class AbsenceForm(FlaskForm):
    delegate = PersonField(_l("Acting for me"), validators=[InputRequired()])
    first_day = DateField(_l("First day away"), validators=[InputRequired()])
    last_day = DateField(_l("Last day away"), validators=[InputRequired()])
    processes = SelectMultipleField(_l("Only tasks of these processes (none selected: all)"))
    reason = TextAreaField(_l("Reason"), [InputRequired(), Length(max=2000)])


class PreferenceForm(FlaskForm):
    mode = RadioField(_l("E-mail me"), choices=[
        SelectChoice(DeliveryMode.IMMEDIATE.value, _l("Each notification at once")),
        SelectChoice(DeliveryMode.DIGEST.value, _l("One daily digest")),
    ], validators=[InputRequired()])


def _day_start(day: date) -> datetime:
    """Midnight at the start of `day` in the organisation's time zone."""
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(current_app.config["LOCAL_TIMEZONE"]))


@bp.route("/absences", methods=["GET", "POST"])
@login_required
def absence_list():  # noqa: ANN201
    form = AbsenceForm()
    form.processes.choices = [SelectChoice(m.key, m.name) for m in db.session.scalars(
        select(ProcessModel).order_by(ProcessModel.name))]
    status = 200
    if form.validate_on_submit():
        try:
            absences.declare_absence(
                current_user, current_user.id, form.delegate.data,
                _day_start(form.first_day.data),
                _day_start(form.last_day.data + timedelta(days=1)),
                form.reason.data, form.processes.data or None,
            )
        except ServiceError as exc:
            flash(translated(exc.message), "error")
            status = exc.status_code
        else:
            flash(_("Absence recorded."), "success")
            return redirect(url_for("absences.absence_list"))
    elif form.errors:
        status = 400
    return render_template("absences/list.html", form=form,
                           absences=absences.absences_of(current_user)), status


@bp.post("/absences/<int:absence_id>/cancel")
@login_required
def cancel(absence_id: int):  # noqa: ANN201
    try:
        absences.cancel_absence(current_user, absence_id)
    except ServiceError as exc:
        flash(translated(exc.message), "error")
    else:
        flash(_("Absence cancelled: your tasks are back with you."), "success")
    return redirect(url_for("absences.absence_list"))


@bp.route("/settings/notifications", methods=["GET", "POST"])
@login_required
def notification_settings():  # noqa: ANN201
    form = PreferenceForm(data={"mode": notifications.preference_of(current_user.id).value})
    if form.validate_on_submit():
        notifications.set_preference(current_user, DeliveryMode(form.mode.data))
        flash(_("Notification preference saved."), "success")
        return redirect(url_for("absences.notification_settings"))
    return render_template("absences/notifications.html", form=form)
