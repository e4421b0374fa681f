"""Meezan: performance-management cases on SpiffWorkflow behind Flask."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask
from flask_babel import gettext
from sqlalchemy.orm import lazyload
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from app import i18n
from app.config import load_config
from app.extensions import csrf, db, login_manager, migrate
from app.i18n import N_
from app.observability import configure_logging, register_request_ids


def create_app(config_name: str | None = None, overrides: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_object(load_config(app.instance_path, config_name))
    if overrides:
        app.config.update(overrides)
    configure_logging(app)
    app.url_map.converters["int"] = DatabaseIdConverter
    if app.config.get("PROXY_COUNT"):
        count = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count)  # type: ignore[method-assign]
    register_request_ids(app)
    register_input_guards(app)
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    register_template_helpers(app)
    register_security_headers(app)
    # SpiffWorkflow logs every task state change at INFO; keep the app's log readable.
    logging.getLogger("spiff").setLevel(logging.WARNING)
    return app


def register_extensions(app: Flask) -> None:
    from app import models  # noqa: F401 - register the mappers before anything queries

    db.init_app(app)
    migrate.init_app(app, db, directory=str(_project_path("migrations")))
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = N_("Please sign in to continue.")
    login_manager.localize_callback = gettext  # flashed in the reader's language
    i18n.register(app)  # Flask-Babel, the language switcher and its template helpers

    @login_manager.user_loader
    def load_user(user_id: str) -> models.User | None:
        # Every signed-in request: the roles are read only by pages that ask about them.
        user = db.session.get(models.User, int(user_id),
                              options=[lazyload(models.User.roles)])
        return user if user is not None and user.active else None


def register_blueprints(app: Flask) -> None:
    from app.api import api_bp
    from app.blueprints.absences import bp as absences_bp
    from app.blueprints.account import bp as account_bp
    from app.blueprints.audit import bp as audit_bp
    from app.blueprints.auth import bp as auth_bp
    from app.blueprints.calibration import bp as calibration_bp
    from app.blueprints.cases import bp as cases_bp
    from app.blueprints.cycles import bp as cycles_bp
    from app.blueprints.dashboards import bp as dashboards_bp
    from app.blueprints.health import bp as health_bp
    from app.blueprints.modeler import bp as modeler_bp
    from app.blueprints.org_import import bp as org_import_bp
    from app.blueprints.people import bp as people_bp
    from app.blueprints.queues import bp as queues_bp
    from app.blueprints.tasks import bp as tasks_bp

    app.register_blueprint(health_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(account_bp)
    app.register_blueprint(tasks_bp)
    app.register_blueprint(cases_bp)
    app.register_blueprint(calibration_bp)
    app.register_blueprint(cycles_bp)
    app.register_blueprint(org_import_bp)
    app.register_blueprint(queues_bp)
    app.register_blueprint(absences_bp)
    app.register_blueprint(people_bp)
    app.register_blueprint(modeler_bp)
    app.register_blueprint(audit_bp)
    app.register_blueprint(dashboards_bp)
    app.register_blueprint(api_bp)
    csrf.exempt(api_bp)  # bearer tokens, no cookies: nothing for a cross-site form to ride on


def register_errorhandlers(app: Flask) -> None:
    from app.blueprints.errors import register

    register(app)


def register_commands(app: Flask) -> None:
    from app.commands import register

    register(app)


def register_template_helpers(app: Flask) -> None:
    from app.blueprints.helpers import register

    register(app)


CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


def register_security_headers(app: Flask) -> None:
    """The app serves only its own scripts and styles; nothing may frame it."""

    @app.after_request
    def set_headers(response):  # noqa: ANN001, ANN202
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if app.config.get("HSTS_SECONDS"):
            response.headers.setdefault(
                "Strict-Transport-Security", f"max-age={app.config['HSTS_SECONDS']}")
        return response


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def register_input_guards(app: Flask) -> None:
    """Refuse text with NUL characters anywhere in a request (path, query, form, JSON): no field
    of the app means one, and PostgreSQL cannot store them (a driver error, i.e. a 500, instead
    of a clear 400)."""
    from flask import abort, request

    @app.before_request
    def refuse_nul_characters() -> None:
        values: list[Any] = [request.path, *request.args.keys(), *request.args.values()]
        if request.method in ("POST", "PUT", "PATCH", "DELETE"):
            if request.is_json:
                values.append(request.get_json(silent=True))
            elif request.mimetype == "application/x-www-form-urlencoded":
                # Not multipart: uploads are parsed by their own views, under their own size
                # limit (reading them here would apply the app's 2 MB one first).
                values.extend([*request.form.keys(), *request.form.values()])
        if any(_has_nul(v) for v in values):
            abort(400, "Text in a request may not contain NUL characters.")


class DatabaseIdConverter(IntegerConverter):
    """`<int:…>` in every route: ids are the database's 32-bit integers, so a larger number
    is a 404 like any unknown id, not an overflow error from the database driver."""

    def __init__(self, map, *args, **kwargs) -> None:  # noqa: ANN001, ANN002, ANN003, A002
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, *args, **kwargs)


def _project_path(name: str) -> Any:
    from pathlib import Path

    return Path(__file__).resolve().parent.parent / name
