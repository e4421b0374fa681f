"""The one way services end a unit of work: commit everything, or roll everything back."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from app.extensions import db


@contextmanager
def unit_of_work() -> Iterator[None]:
    try:
        yield
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
