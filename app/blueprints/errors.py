"""Error pages for the web and JSON errors for the API, chosen by path."""

from __future__ import annotations

import logging

from flask import Flask, g, jsonify, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException

from app.i18n import page_language, translated
from app.observability import current_request_id
from app.services.errors import ServiceError

log = logging.getLogger(__name__)

# Errors that mean "the database cannot be reached or gave up on this transaction for now": the
# request changed nothing (its transaction is gone), so the honest answer is 503, try again.
DATABASE_UNAVAILABLE = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError)


# What a page says for a refusal that came without our own explanation (Werkzeug's defaults are
# English only).
STANDARD_DESCRIPTIONS = {
    400: _l("The request could not be understood. Go back and try again."),
    403: _l("You do not have access to this page."),
    404: _l("There is no such page. Check the address, or start again from your tasks."),
    405: _l("That action is not available here."),
    413: _l("The file is too large."),
}


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def register(app: Flask) -> None:
    @app.errorhandler(ServiceError)
    def service_error(exc: ServiceError):  # noqa: ANN202
        headers = {}
        if exc.details.get("retry_after"):
            headers["Retry-After"] = str(exc.details["retry_after"])
        if _wants_json():
            return jsonify(exc.to_dict()), exc.status_code, headers
        return render_template("errors/error.html", code=exc.status_code,
                               message=translated(exc.message)), exc.status_code, headers

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):  # noqa: ANN202
        message = gettext("Your form expired or did not come from this site. Reload the page "
                          "and try again.")
        return render_template("errors/error.html", code=400, message=message), 400

    def database_unavailable(exc: Exception):  # noqa: ANN202
        log.error("database unavailable: %s", type(exc).__name__,
                  extra={"error": str(exc).splitlines()[0][:300] if str(exc) else ""})
        if _wants_json() or request.path == "/healthz":
            response = jsonify({"error": "The database is unavailable for a moment; "
                                         "nothing was saved. Try again shortly.",
                                "request_id": current_request_id()})
        else:
            # Straight from the Jinja environment: render_template's context processors
            # (Flask-Login's current_user) would ask the unreachable database again; the
            # language comes from the visitor's cookie or browser, not their account.
            g.locale_without_database = True
            page = app.jinja_env.get_template("errors/unavailable.html").render(
                request=request, url_for=url_for, request_id=current_request_id(),
                **page_language())
            response = app.make_response(page)
        response.status_code = 503
        response.headers["Retry-After"] = "5"
        return response

    for error_class in DATABASE_UNAVAILABLE:
        app.register_error_handler(error_class, database_unavailable)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):  # noqa: ANN202
        if _wants_json():
            return jsonify({"error": exc.description or exc.name}), exc.code
        message = exc.description
        if message == type(exc).description and exc.code in STANDARD_DESCRIPTIONS:
            message = STANDARD_DESCRIPTIONS[exc.code]  # Werkzeug's own text, in our words
        return render_template("errors/error.html", code=exc.code, message=message), exc.code
