"""Cases: the list a user may see, starting one (HR), and a case's page."""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField
from wtforms.validators import InputRequired

from app.blueprints.people import EmployeeField
from app.i18n import translated
from app.services import appraisal_report, cases, process_models
from app.services.errors import ServiceError

bp = Blueprint("cases", __name__)


class StartCaseForm(FlaskForm):
    process_key = SelectField(_l("Process"), validators=[InputRequired()])
    subject = EmployeeField(_l("Employee"), validators=[InputRequired()])


@bp.route("/cases")
@login_required
def case_list():  # noqa: ANN201
    return render_template("cases/list.html", cases=cases.list_cases(current_user),
                           can_start=cases.may_start_cases(current_user))


@bp.route("/cases/new", methods=["GET", "POST"])
@login_required
def new_case():  # noqa: ANN201
    if not cases.may_start_cases(current_user):
        message = _("Only HR of a unit or an administrator may start cases.")
        return render_template("errors/error.html", code=403, message=message), 403
    form = StartCaseForm()
    form.process_key.choices = [
        SelectChoice(m.key, m.name) for m in process_models.startable_processes()
    ]
    status = 200
    if form.validate_on_submit():
        try:
            case = cases.start_case(form.process_key.data, form.subject.data, current_user)
        except ServiceError as exc:
            flash(translated(exc.message), "error")
            status = exc.status_code
        else:
            flash(_("Case #%(id)s started.", id=case.id), "success")
            return redirect(url_for("cases.case_detail", case_id=case.id))
    elif form.errors:
        status = 400
    return render_template("cases/new.html", form=form), status


@bp.route("/cases/<int:case_id>")
@login_required
def case_detail(case_id: int):  # noqa: ANN201
    view = cases.view_case(current_user, case_id)
    return render_template("cases/detail.html", view=view, case=view.case)


@bp.route("/cases/<int:case_id>/report.pdf")
@login_required
def case_report(case_id: int) -> Response:
    """The case's appraisal report as PDF, for whoever may see the case (its generation is
    audited with the report's SHA-256)."""
    return appraisal_report.generate(current_user, case_id).as_response()
