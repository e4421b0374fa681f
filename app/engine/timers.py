"""Make SpiffWorkflow's timer events read the app clock.

SpiffWorkflow 3.2 calls `datetime.now(timezone.utc)` inside its timer module; giving that module a
`datetime` whose `now()` asks `app.clock` lets tests and the timer worker move time without
sleeping. Everything else about datetime is unchanged.
"""

from __future__ import annotations

from datetime import datetime, tzinfo

from SpiffWorkflow.bpmn.specs.event_definitions import timer as spiff_timer_module

from app.clock import clock


class ClockDatetime(datetime):
    @classmethod
    def now(cls, tz: tzinfo | None = None) -> datetime:  # type: ignore[override]
        current = clock.now()
        return current.astimezone(tz) if tz is not None else current.replace(tzinfo=None)


def install() -> None:
    spiff_timer_module.datetime = ClockDatetime


TIMER_EVENT_TYPES = frozenset(
    {"TimeDateEventDefinition", "DurationTimerEventDefinition", "CycleTimerEventDefinition"}
)


def parse_due(value: object) -> datetime | None:
    """The due time of a pending timer event, as the engine reports it."""
    if not isinstance(value, str):
        return None
    try:
        due = spiff_timer_module.TimerEventDefinition.get_datetime(value)
    except (ValueError, TypeError):
        return None
    return due if due.tzinfo else due.replace(tzinfo=clock.now().tzinfo)


install()
