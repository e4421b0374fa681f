"""HR's upload page for org data (CSV): imported whole, or rejected with a report."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from werkzeug.utils import secure_filename
from wtforms import BooleanField

from app.extensions import csrf
from app.services import org_import

bp = Blueprint("org_import", __name__)
# A department's file (tens of thousands of rows) is larger than the app's default 2 MB limit.
MAX_UPLOAD_BYTES = 32 * 1024 * 1024


class ImportForm(FlaskForm):
    file = FileField(_l("CSV file"), validators=[FileRequired(_l("Choose a CSV file."))])
    dry_run = BooleanField(_l("Only check the file, import nothing"))


# The global CSRF check reads the body before any view runs, under the app's 2 MB limit; this
# view raises the limit first and lets ImportForm check the CSRF token itself (FlaskForm does,
# like every form), so the upload is exactly as protected as any other form.
@csrf.exempt
@bp.route("/org/import", methods=["GET", "POST"])
@login_required
def import_org():  # noqa: ANN201
    if not org_import.may_import(current_user):
        abort(403, _("Only HR or an administrator may import org data."))
    request.max_content_length = MAX_UPLOAD_BYTES
    form = ImportForm()
    report = None
    status = 200
    if form.validate_on_submit():
        upload = form.file.data
        try:  # a large upload is spooled to a temporary file: release it as soon as it is read
            content = upload.read()
        finally:
            upload.close()
        report = org_import.import_org_csv(current_user, content,
                                           secure_filename(upload.filename or "") or "upload.csv",
                                           dry_run=form.dry_run.data)
        status = 200 if report.ok else 422
    elif form.errors:
        status = 400
    return render_template("org/import.html", form=form, report=report), status
