"""Performance cycles: HR defines one, launches it, and watches the launch's progress."""

from __future__ import annotations

from decimal import Decimal

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    DecimalField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    widgets,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from app.i18n import translated
from app.services import cycles, process_models
from app.services.errors import ServiceError, ValidationFailed

bp = Blueprint("cycles", __name__)
PROBLEMS_PER_PAGE = 100


class CheckboxList(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class CycleForm(FlaskForm):
    name = StringField(_l("Name"), validators=[InputRequired(), Length(max=200)])
    year = IntegerField(_l("Year"), validators=[InputRequired(), NumberRange(2000, 2100)])
    process_key = SelectField(_l("Process each employee goes through"),
                              validators=[InputRequired()])
    org_unit_ids = CheckboxList(_l("Org units in scope (each with the units below it)"),
                                coerce=int)
    starts_on = DateField(_l("Starts on"), validators=[InputRequired()])
    mid_year_on = DateField(_l("Mid-year review on"), validators=[InputRequired()])
    interview_opens_on = DateField(_l("Interview window opens"), validators=[InputRequired()])
    interview_closes_on = DateField(_l("Interview window closes"), validators=[InputRequired()])
    ends_on = DateField(_l("Ends on"), validators=[InputRequired()])
    incentive_cap_percent = DecimalField(
        _l("Incentive cap in percent of base pay (the same for everyone)"), places=2,
        validators=[InputRequired()])
    budget = DecimalField(_l("Incentive budget (PKR)"), places=2, validators=[InputRequired()])
    incentive_threshold_amount = DecimalField(
        _l("Finance approves incentives above (PKR, optional)"), places=2, validators=[Optional()])
    outstanding = DecimalField(_l("Outstanding %"), validators=[InputRequired()])
    very_good = DecimalField(_l("Very good %"), validators=[InputRequired()])
    good = DecimalField(_l("Good %"), validators=[InputRequired()])
    average = DecimalField(_l("Average %"), validators=[InputRequired()])
    below_average = DecimalField(_l("Below average %"), validators=[InputRequired()])

    def to_input(self) -> cycles.CycleInput:
        return cycles.CycleInput(
            name=self.name.data or "",
            year=self.year.data,
            process_key=self.process_key.data,
            org_unit_ids=list(self.org_unit_ids.data or []),
            starts_on=self.starts_on.data,
            mid_year_on=self.mid_year_on.data,
            interview_opens_on=self.interview_opens_on.data,
            interview_closes_on=self.interview_closes_on.data,
            ends_on=self.ends_on.data,
            incentive_cap_percent=self.incentive_cap_percent.data,
            budget=self.budget.data,
            incentive_threshold_amount=self.incentive_threshold_amount.data,
            guideline_distribution={band: getattr(self, band).data
                                    for band in cycles.RATING_BANDS},
        )

    def show_errors(self, exc: ValidationFailed) -> None:
        for name, messages in exc.errors.items():
            target = getattr(self, name, None)
            if name == "guideline_distribution":
                target = self.outstanding
            if target is not None:
                target.errors = list(target.errors or []) + [translated(m) for m in messages]


def _form(**data: object) -> CycleForm:
    """The form, filled from the request on POST, else from `data`."""
    form = CycleForm(**data)
    form.process_key.choices = [(m.key, m.name) for m in process_models.startable_processes()]
    form.org_unit_ids.choices = [(u.id, f"{u.name} ({u.code})")
                                 for u in cycles.manageable_units(current_user)]
    return form


def _require_definer() -> None:
    if not cycles.may_define_cycles(current_user):
        abort(403, _("Only HR or an administrator may manage performance cycles."))


@bp.route("/cycles")
@login_required
def cycle_list():  # noqa: ANN201
    """HR and administrators manage cycles here; auditors read them (no action buttons)."""
    if not cycles.may_read_cycles(current_user):
        _require_definer()
    return render_template("cycles/list.html", cycles=cycles.list_cycles(current_user),
                           may_define=cycles.may_define_cycles(current_user))


@bp.route("/cycles/new", methods=["GET", "POST"])
@login_required
def new_cycle():  # noqa: ANN201
    _require_definer()
    defaults = {band: share for band, share in cycles.DEFAULT_DISTRIBUTION.items()}
    form = _form(**defaults, process_key=_default_process())
    status = 200
    if form.validate_on_submit():
        try:
            cycle = cycles.create_cycle(current_user, form.to_input())
        except ValidationFailed as exc:
            form.show_errors(exc)
            flash(translated(exc.message), "error")
            status = 422
        except ServiceError as exc:
            flash(translated(exc.message), "error")
            status = exc.status_code
        else:
            flash(_("Cycle “%(name)s” defined. Launch it when the org data is ready.",
                    name=cycle.name),
                  "success")
            return redirect(url_for("cycles.cycle_detail", cycle_id=cycle.id))
    elif form.errors:
        status = 400
    return render_template("cycles/form.html", form=form, cycle=None), status


@bp.route("/cycles/<int:cycle_id>/edit", methods=["GET", "POST"])
@login_required
def edit_cycle(cycle_id: int):  # noqa: ANN201
    cycle = cycles.get_cycle_for(current_user, cycle_id, manage=True)
    current = {
        "name": cycle.name, "year": cycle.year, "process_key": cycle.process_key,
        "org_unit_ids": [u.id for u in cycle.org_units], "starts_on": cycle.starts_on,
        "mid_year_on": cycle.mid_year_on, "interview_opens_on": cycle.interview_opens_on,
        "interview_closes_on": cycle.interview_closes_on, "ends_on": cycle.ends_on,
        "incentive_cap_percent": cycle.incentive_cap_percent, "budget": cycle.budget,
        "incentive_threshold_amount": cycle.incentive_threshold_amount,
        **{band: Decimal(str(cycle.guideline_distribution.get(band, 0)))
           for band in cycles.RATING_BANDS},
    }
    form = _form(**current)
    status = 200
    if form.validate_on_submit():
        try:
            cycles.update_cycle(current_user, cycle_id, form.to_input())
        except ValidationFailed as exc:
            form.show_errors(exc)
            flash(translated(exc.message), "error")
            status = 422
        except ServiceError as exc:
            flash(translated(exc.message), "error")
            status = exc.status_code
        else:
            flash(_("Cycle updated."), "success")
            return redirect(url_for("cycles.cycle_detail", cycle_id=cycle_id))
    elif form.errors:
        status = 400
    return render_template("cycles/form.html", form=form, cycle=cycle), status


class LaunchForm(FlaskForm):
    pass


@bp.route("/cycles/<int:cycle_id>")
@login_required
def cycle_detail(cycle_id: int):  # noqa: ANN201
    cycle = cycles.get_cycle_for(current_user, cycle_id)
    page = max(request.args.get("page", 1, type=int), 1)
    progress = cycles.launch_progress(cycle)
    return render_template(
        "cycles/detail.html",
        cycle=cycle,
        progress=progress,
        can_manage=cycles.can_manage_cycle(current_user, cycle),
        problems=cycles.not_launched_members(cycle_id, limit=PROBLEMS_PER_PAGE,
                                             offset=(page - 1) * PROBLEMS_PER_PAGE),
        page=page,
        per_page=PROBLEMS_PER_PAGE,
        launch_form=LaunchForm(),
    )


@bp.route("/cycles/<int:cycle_id>/launch", methods=["POST"])
@login_required
def launch(cycle_id: int):  # noqa: ANN201
    form = LaunchForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        cycles.launch_in_background(current_user, cycle_id)
    except ServiceError as exc:
        if exc.status_code == 403:
            raise
        flash(translated(exc.message), "error")
    else:
        flash(_("The launch has started; this page shows its progress."), "success")
    return redirect(url_for("cycles.cycle_detail", cycle_id=cycle_id))


def _default_process() -> str | None:
    keys = [m.key for m in process_models.startable_processes()]
    return "annual_appraisal" if "annual_appraisal" in keys else (keys[0] if keys else None)
