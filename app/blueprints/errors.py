"""Error pages for the web and JSON errors for the API, chosen by path."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from app.services.errors import ServiceError


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def register(app: Flask) -> None:
    @app.errorhandler(ServiceError)
    def service_error(exc: ServiceError):  # noqa: ANN202
        if _wants_json():
            return jsonify(exc.to_dict()), exc.status_code
        return render_template("errors/error.html", code=exc.status_code,
                               message=exc.message), exc.status_code

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):  # noqa: ANN202
        message = "Your form expired or did not come from this site. Reload the page and try again."
        return render_template("errors/error.html", code=400, message=message), 400

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):  # noqa: ANN202
        if _wants_json():
            return jsonify({"error": exc.description or exc.name}), exc.code
        return render_template("errors/error.html", code=exc.code,
                               message=exc.description), exc.code
