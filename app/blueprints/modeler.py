"""Process owners' pages: the bpmn-js modeler, drafts, validation, deploy, versions, diffs,
rollback, export, DMN checks; and the case diagram (for anyone who may view the case).

The modeler page talks JSON to the endpoints below; they are CSRF-protected like every form
(the page sends the token in the X-CSRFToken header).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import IntegerField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange

from app import CONTENT_SECURITY_POLICY
from app.engine import MAX_BPMN_BYTES
from app.i18n import translated
from app.services import modeler
from app.services.errors import ServiceError

bp = Blueprint("modeler", __name__)

# bpmn-js-properties-panel builds its container and icons with inline style attributes, which a
# CSP without 'unsafe-inline' for styles blocks. Only the modeler page gets this allowance;
# scripts stay same-origin files, and every other page keeps the app's strict policy.
MODELER_CSP = CONTENT_SECURITY_POLICY + "; style-src 'self' 'unsafe-inline'"


class CommentForm(FlaskForm):
    comment = TextAreaField(_l("What changed, and why"), [InputRequired(), Length(max=2000)])


class ConfirmForm(FlaskForm):
    """A button with a CSRF token."""


class UploadForm(FlaskForm):
    file = FileField(_l("File"), [FileRequired()])


class DiffForm(FlaskForm):
    class Meta:
        csrf = False  # a GET form that changes nothing

    old = IntegerField(_l("From version"), [InputRequired(), NumberRange(min=1)])
    new = IntegerField(_l("To version"), [InputRequired(), NumberRange(min=1)])


# What an auditor may read here (GET only): the process list, a process's versions, the diff of
# two versions and a version's exported XML. The modeler, drafts, deploy and rollback are not.
READ_ONLY_ENDPOINTS = frozenset({"modeler.process_list", "modeler.versions", "modeler.diff",
                                 "modeler.export_version"})


@bp.before_request
def process_owners_only() -> None:
    """Every page here but the case diagram is for process owners and administrators, and the
    read-only pages also for auditors: refuse others before any form is read, so the answer is
    a plain 403 whatever they sent."""
    if request.endpoint == "modeler.case_diagram" or not current_user.is_authenticated:
        return
    if modeler.may_model(current_user):
        return
    if (request.method == "GET" and request.endpoint in READ_ONLY_ENDPOINTS
            and modeler.may_read_processes(current_user)):
        return
    abort(403, _("Processes are maintained by process owners and administrators."))


def json_errors(view: Callable[..., Any]) -> Callable[..., Any]:
    """Service errors as JSON for the modeler's fetch calls (the web error pages are HTML)."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except ServiceError as exc:
            return jsonify(exc.to_dict()), exc.status_code

    return wrapper


def _read_upload(form: UploadForm) -> tuple[bytes, str]:
    upload = form.file.data
    return upload.read(MAX_BPMN_BYTES + 1), upload.filename or "upload"


@bp.route("/processes")
@login_required
def process_list():  # noqa: ANN201
    return render_template(
        "processes/list.html",
        processes=modeler.list_processes(current_user),
        upload_form=UploadForm(),
        dmn_form=UploadForm(prefix="dmn"),
        dmn_report=None,
        may_model=modeler.may_model(current_user),
    )


@bp.post("/processes/upload")
@login_required
def upload_process():  # noqa: ANN201
    form = UploadForm()
    if not form.validate_on_submit():
        flash(_("Choose a BPMN file to upload."), "error")
        return redirect(url_for("modeler.process_list"))
    xml, filename = _read_upload(form)
    try:
        draft = modeler.upload_new_process(current_user, xml, filename)
    except ServiceError as exc:
        if exc.status_code == 403:
            raise
        flash(translated(exc.message), "error")
        return redirect(url_for("modeler.process_list"))
    flash(_("%(file)s saved as the draft of %(process)s.", file=filename,
            process=draft.process_key), "success")
    return redirect(url_for("modeler.modeler_page", process_key=draft.process_key))


@bp.post("/processes/decisions/validate")
@login_required
def validate_decisions():  # noqa: ANN201
    form = UploadForm(prefix="dmn")
    report = None
    status = 200
    if form.validate_on_submit():
        xml, filename = _read_upload(form)
        report = modeler.validate_decision_table(current_user, xml, filename)
        report["filename"] = filename
        status = 200 if report["valid"] else 422
    else:
        flash(_("Choose a DMN file to check."), "error")
        status = 400
    return render_template(
        "processes/list.html",
        processes=modeler.list_processes(current_user),
        upload_form=UploadForm(),
        dmn_form=form,
        dmn_report=report,
        may_model=True,  # only modellers get here
    ), status


@bp.get("/processes/options.json")
@login_required
@json_errors
def options():  # noqa: ANN201
    return jsonify(modeler.modeler_options(current_user))


@bp.get("/processes/<process_key>/modeler")
@login_required
def modeler_page(process_key: str):  # noqa: ANN201
    view = modeler.modeler_view(current_user, process_key)
    response = make_response(render_template("processes/modeler.html", view=view))
    response.headers["Content-Security-Policy"] = MODELER_CSP
    return response


@bp.get("/processes/<process_key>/diagram.bpmn")
@login_required
def editing_xml(process_key: str):  # noqa: ANN201
    """The XML the modeler opens: the draft, else the current version."""
    view = modeler.modeler_view(current_user, process_key)
    return Response(view.bpmn_xml, mimetype="application/xml")


@bp.post("/processes/<process_key>/draft")
@login_required
@json_errors
def save_draft(process_key: str):  # noqa: ANN201
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("xml"), str):
        return jsonify({"error": 'The body must be {"xml": "<bpmn:definitions ..."}.'}), 400
    draft = modeler.save_draft(current_user, process_key, body["xml"].encode("utf-8"))
    return jsonify({
        "saved": True,
        "updated_at": draft.updated_at.isoformat(),
        "content_hash": draft.content_hash,
    })


@bp.post("/processes/<process_key>/draft/validate")
@login_required
@json_errors
def validate_draft(process_key: str):  # noqa: ANN201
    return jsonify(modeler.validate_draft(current_user, process_key).to_dict())


@bp.post("/processes/<process_key>/draft/discard")
@login_required
def discard_draft(process_key: str):  # noqa: ANN201
    if ConfirmForm().validate_on_submit():
        modeler.discard_draft(current_user, process_key)
        flash(_("Draft discarded; the modeler shows the current version."), "info")
    return redirect(url_for("modeler.modeler_page", process_key=process_key))


@bp.route("/processes/<process_key>/deploy", methods=["GET", "POST"])
@login_required
def deploy(process_key: str):  # noqa: ANN201
    view = modeler.modeler_view(current_user, process_key)
    form = CommentForm()
    status = 200
    if form.validate_on_submit():
        try:
            version = modeler.deploy_draft(current_user, process_key, form.comment.data)
        except ServiceError as exc:
            if exc.status_code == 403:
                raise
            flash(translated(exc.message), "error")
            status = exc.status_code
        else:
            flash(_("Version %(version)s of %(name)s deployed.", version=version.version,
                    name=view.name), "success")
            return redirect(url_for("modeler.versions", process_key=process_key))
    elif form.errors:
        status = 400
    report = modeler.validate_draft(current_user, process_key) if view.draft else None
    changes = None
    if view.draft is not None and view.current is not None:
        changes = modeler.diff_against_current(current_user, process_key)
    return render_template(
        "processes/deploy.html",
        view=view,
        form=form,
        report=report,
        changes=changes,
        impact=modeler.impact(current_user, process_key),
    ), status


@bp.get("/processes/<process_key>/versions")
@login_required
def versions(process_key: str):  # noqa: ANN201
    found = modeler.list_versions(current_user, process_key)
    return render_template(
        "processes/versions.html",
        process_key=process_key,
        versions=found,
        rollback_form=CommentForm(),
        may_model=modeler.may_model(current_user),
    )


@bp.get("/processes/<process_key>/diff")
@login_required
def diff(process_key: str):  # noqa: ANN201
    form = DiffForm(request.args)
    if not form.validate():
        flash(_("Choose two versions to compare."), "error")
        return redirect(url_for("modeler.versions", process_key=process_key))
    changes = modeler.diff_versions(current_user, process_key, form.old.data, form.new.data)
    return render_template(
        "processes/diff.html", process_key=process_key, old=form.old.data, new=form.new.data,
        changes=changes,
    )


@bp.get("/processes/<process_key>/versions/<int:number>.bpmn")
@login_required
def export_version(process_key: str, number: int):  # noqa: ANN201
    filename, xml = modeler.export_version(current_user, process_key, number)
    return Response(
        xml,
        mimetype="application/xml",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@bp.post("/processes/<process_key>/versions/<int:number>/rollback")
@login_required
def rollback(process_key: str, number: int):  # noqa: ANN201
    form = CommentForm()
    if not form.validate_on_submit():
        flash(_("Say why you roll back: a comment is required."), "error")
        return redirect(url_for("modeler.versions", process_key=process_key))
    try:
        version = modeler.rollback(current_user, process_key, number, form.comment.data)
    except ServiceError as exc:
        if exc.status_code == 403:
            raise
        flash(translated(exc.message), "error")
    else:
        flash(_("Version %(old)s deployed again as version %(new)s.", old=number,
                new=version.version), "success")
    return redirect(url_for("modeler.versions", process_key=process_key))


@bp.get("/cases/<int:case_id>/diagram.json")
@login_required
@json_errors
def case_diagram(case_id: int):  # noqa: ANN201
    return jsonify(modeler.case_diagram(current_user, case_id))
