"""HR's calibration screens: the departments and cycles with ratings waiting, and one
department's distribution beside the guideline, where ratings are moved (with reasons)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.i18n import translated
from app.services import appraisal, calibration
from app.services.errors import ServiceError, ValidationFailed

bp = Blueprint("calibration", __name__)


@bp.route("/calibration")
@login_required
def calibration_list():  # noqa: ANN201
    return render_template("appraisal/calibration_list.html",
                           waiting=calibration.cycles_waiting(current_user))


@bp.route("/calibration/<int:unit_id>/<cycle_key>", methods=["GET", "POST"])
@login_required
def calibration_detail(unit_id: int, cycle_key: str):  # noqa: ANN201
    errors: dict = {}
    status = 200
    if request.method == "POST":
        try:
            if request.form.get("action") == "open":
                calibration.open_calibration(current_user, unit_id, cycle_key)
                flash(_("Calibration opened."), "success")
            else:
                moves = {
                    int(name.split("-", 1)[1]): (value, request.form.get(
                        f"reason-{name.split('-', 1)[1]}", ""))
                    for name, value in request.form.items()
                    if name.startswith("band-") and name.split("-", 1)[1].isdigit()
                }
                result = calibration.close_calibration(current_user, unit_id, cycle_key, moves)
                if result.closed:
                    message = _("%(calibrated)s rating(s) made final, %(moved)s moved; the "
                                "calibration is closed.", calibrated=result.calibrated,
                                moved=result.moved)
                else:
                    message = _("%(calibrated)s rating(s) made final, %(moved)s moved; left for "
                                "another HR officer: %(names)s.", calibrated=result.calibrated,
                                moved=result.moved, names=", ".join(result.left_for_others))
                flash(message, "success")
            return redirect(url_for("calibration.calibration_detail", unit_id=unit_id,
                                    cycle_key=cycle_key))
        except ValidationFailed as exc:
            errors, status = exc.errors, exc.status_code
            flash(translated(exc.message), "error")
        except ServiceError as exc:
            flash(translated(exc.message), "error")
            status = exc.status_code
    view = calibration.calibration_view(current_user, unit_id, cycle_key)
    return render_template("appraisal/calibration_detail.html", view=view, errors=errors,
                           form=request.form), status


@bp.app_template_global()
def kpi_charts(case_data: dict) -> list[dict]:
    """Per KPI, its monthly actuals as SVG bars against the target (the case page's chart)."""
    return [{**item, "chart": appraisal.chart_geometry(item)}
            for item in appraisal.kpi_progress(case_data) if item["points"]]
