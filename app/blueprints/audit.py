"""The auditors' view: the audit trail filtered, exported, and its chain verified."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import select
from wtforms import DateField, Form, IntegerField, SelectField, StringField
from wtforms.validators import Optional

from app.extensions import db
from app.models import OrgUnit, Role
from app.services import audit

bp = Blueprint("audit", __name__, url_prefix="/audit")
PAGE_SIZE = 100


class AuditFilterForm(Form):
    """GET filters: read-only, so no CSRF token (nothing changes)."""

    case = IntegerField(_l("Case"), [Optional()])
    user = StringField(_l("User"), [Optional()])
    unit = SelectField(_l("Unit"), [Optional()], coerce=str)
    since = DateField(_l("From"), [Optional()])
    until = DateField(_l("To"), [Optional()])
    page = IntegerField(_l("Page"), [Optional()], default=1)


def _require_auditor() -> None:
    if not (current_user.has_role(Role.AUDITOR) or current_user.has_role(Role.ADMIN)):
        abort(403, _("The audit trail is for auditors and administrators."))


def _criteria(form: AuditFilterForm) -> audit.AuditFilter:
    unit_id = None
    if form.unit.data:
        unit_id = db.session.scalar(select(OrgUnit.id).where(OrgUnit.code == form.unit.data))
    since: date | None = form.since.data
    until: date | None = form.until.data
    return audit.AuditFilter(form.case.data, (form.user.data or "").strip() or None, unit_id,
                             since, until)


def _filter_form() -> AuditFilterForm:
    form = AuditFilterForm(request.args)
    units = db.session.execute(select(OrgUnit.code, OrgUnit.name).order_by(OrgUnit.name)).all()
    form.unit.choices = [("", _("All units"))] + [(code, name) for code, name in units]
    return form


@bp.get("")
@login_required
def events():  # noqa: ANN201
    _require_auditor()
    form = _filter_form()
    form.validate()
    page = max(1, form.page.data or 1)
    rows = audit.find_events(_criteria(form), limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)
    query = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template("audit/events.html", form=form, events=rows[:PAGE_SIZE], page=page,
                           has_next=len(rows) > PAGE_SIZE, query=query)


@bp.get("/export.<fmt>")
@login_required
def export(fmt: str):  # noqa: ANN201
    _require_auditor()
    if fmt not in ("csv", "json"):
        abort(404)
    form = _filter_form()
    form.validate()
    criteria = _criteria(form)
    if fmt == "csv":
        body, mimetype = audit.export_csv(criteria), "text/csv"
    else:
        body, mimetype = audit.export_json_lines(criteria), "application/x-ndjson"
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f"attachment; filename=meezan-audit.{fmt}"
    return response


@bp.post("/verify")
@login_required
def verify():  # noqa: ANN201
    _require_auditor()
    result = audit.verify_chain()
    if result.ok:
        seq, head = audit.chain_head()
        flash(_("The chain is intact: %(count)s events; head #%(seq)s %(head)s.",
                count=result.events_checked, seq=seq, head=head), "success")
    else:
        where = (_("event %(id)s", id=result.first_bad_event_id) if result.first_bad_event_id
                 else _("the end"))
        flash(_("The chain is broken at %(where)s: %(problem)s.", where=where,
                problem=result.problem), "error")
    return redirect(url_for("audit.events"))
