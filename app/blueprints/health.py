"""`/healthz`: public, no secrets, answers whether this process can reach its database."""

from __future__ import annotations

from flask import Blueprint, jsonify

from app.services import health

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():  # noqa: ANN201
    if health.database_ok():
        return jsonify({"status": "ok", "database": "ok"}), 200
    response = jsonify({"status": "unavailable", "database": "unreachable"})
    response.headers["Retry-After"] = "5"
    response.headers["Cache-Control"] = "no-store"
    return response, 503
