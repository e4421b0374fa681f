"""JSON API v1 for field and mobile clients."""

from app.api import openapi  # noqa: F401 - registers /api/v1/openapi.json
from app.api.routes import api_bp

__all__ = ["api_bp"]
