"""JSON API v1 for field and mobile clients."""

from app.api.routes import api_bp

__all__ = ["api_bp"]
