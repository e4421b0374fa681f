"""Column helpers shared by the models."""

import enum
from datetime import datetime

from sqlalchemy import Enum

from app.clock import clock


def utcnow() -> datetime:
    """Timezone-aware now from the app clock; every timestamp is stored in UTC."""
    return clock.now()


def db_enum(enum_class: type[enum.Enum], length: int) -> Enum:
    """A portable string column holding the enum's values ("open"), not its member names."""
    return Enum(
        enum_class,
        native_enum=False,
        length=length,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )
