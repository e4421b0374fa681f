"""The one source of "now" for the app and the engine's timers.

Production reads the system clock. Tests (and demos of a whole performance year) freeze or
advance it, so timers are driven by a controllable clock, never by sleeping.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from threading import Lock


class Clock:
    def __init__(self) -> None:
        self._lock = Lock()
        self._frozen_at: datetime | None = None
        self._offset = timedelta(0)

    def now(self) -> datetime:
        """Timezone-aware UTC now."""
        with self._lock:
            base = self._frozen_at if self._frozen_at is not None else datetime.now(UTC)
            return base + self._offset

    def freeze(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("freeze() needs a timezone-aware datetime")
        with self._lock:
            self._frozen_at, self._offset = at.astimezone(UTC), timedelta(0)

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._offset += delta

    def reset(self) -> None:
        with self._lock:
            self._frozen_at, self._offset = None, timedelta(0)


clock = Clock()
