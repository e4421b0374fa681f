"""The dashboards: a cycle's progress, ratings and league tables for the reader's units, drilled
down unit by unit to the employee's case, and each table as CSV or XLSX."""

from __future__ import annotations

import re

from flask import Blueprint, Response, abort, render_template, request
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.i18n import N_
from app.services import dashboard_export, dashboards
from app.services.errors import PermissionDenied

bp = Blueprint("dashboards", __name__, url_prefix="/dashboards")

EXPORT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _require_reader() -> None:
    if not dashboards.may_see_dashboards(current_user):
        raise PermissionDenied(
            N_("Dashboards are for HR, unit heads, auditors and administrators."))


def _int_arg(name: str, default: int | None = None) -> int | None:
    raw = request.args.get(name, "")
    if raw == "":
        return default
    if not raw.isdigit() or len(raw) > 12:
        abort(400, _("“%(name)s” must be a whole number.", name=name))
    return int(raw)


def _view(cycle_id: int, staff: str = "page",
          tables: tuple[str, ...] = dashboards.TABLES) -> dashboards.Dashboard:
    _require_reader()
    order = request.args.get("order", "achievement")
    if order not in dashboards.LEAGUE_ORDERS:
        abort(400, _("Unknown ranking."))
    page = _int_arg("page", 1) or 0
    if page < 1:
        abort(400, _("Pages start at 1."))
    return dashboards.dashboard(current_user, cycle_id, _int_arg("unit"), page=page,
                                league_order=order, staff=staff, tables=tables)


@bp.route("")
@login_required
def index():  # noqa: ANN201
    _require_reader()
    return render_template("dashboards/index.html",
                           cycles=dashboards.visible_cycles(current_user))


@bp.route("/<int:cycle_id>")
@login_required
def cycle_dashboard(cycle_id: int):  # noqa: ANN201
    view = _view(cycle_id)
    return render_template("dashboards/cycle.html", view=view,
                           orders=dashboards.LEAGUE_ORDERS, tables=dashboards.TABLES)


@bp.route("/<int:cycle_id>/export.<fmt>")
@login_required
def export(cycle_id: int, fmt: str):  # noqa: ANN201
    """?table=stages|ratings|units|trend|employees (default units), with the page's unit and
    ranking."""
    if fmt not in EXPORT_TYPES:
        abort(404)
    table = request.args.get("table", "units")
    if table not in dashboards.TABLES:
        abort(400, _("Unknown table."))
    view = _view(cycle_id, staff="all", tables=(table,))
    headers, rows = dashboard_export.table_rows(view, table)
    where = view.unit.code if view.unit is not None else "all"
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", f"cycle-{view.cycle.id}-{where}-{table}")
    body = (dashboard_export.to_csv(headers, rows) if fmt == "csv"
            else dashboard_export.to_xlsx(table, headers, rows))
    return Response(body, mimetype=EXPORT_TYPES[fmt], headers={
        "Content-Disposition": f'attachment; filename="{name}.{fmt}"'})


@bp.app_template_global()
def may_see_dashboards() -> bool:
    """For the nav: whether the signed-in person reads any dashboard."""
    return dashboards.may_see_dashboards(current_user)
