"""Is the service able to serve? What a load balancer or orchestrator asks before routing to it."""

from __future__ import annotations

import logging

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db

log = logging.getLogger(__name__)


def database_ok() -> bool:
    """One round trip to the database; False (and a log line, never the error text to the
    caller) when it cannot be reached."""
    try:
        db.session.execute(text("SELECT 1"))
        db.session.rollback()
        return True
    except SQLAlchemyError as exc:
        log.warning("health check: database unreachable: %s", type(exc).__name__)
        db.session.rollback()
        return False
