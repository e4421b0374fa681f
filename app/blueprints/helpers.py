"""Template filters and globals."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask
from sqlalchemy import select

from app.extensions import db
from app.models import User

EVENT_LABELS = {
    "case_started": "started the case",
    "case_completed": "case completed",
    "task_assigned": "task assigned",
    "task_completed": "completed",
    "process_version_deployed": "deployed a process version",
    "task_claimed": "claimed",
    "task_unclaimed": "returned to the pool",
    "task_delegated": "delegated",
    "task_handed_back": "handed back",
    "task_recalled": "recalled",
    "task_reassigned": "reassigned",
    "task_rerouted": "rerouted",
    "task_escalated": "escalated",
    "task_reminded": "reminder sent for",
}
# Events about moving a task between people, shown with their target, reason and note.
TASK_MOVE_EVENTS = ("task_claimed", "task_unclaimed", "task_delegated", "task_handed_back",
                    "task_recalled", "task_reassigned", "task_rerouted", "task_escalated",
                    "task_reminded")


DECISION_LABELS = {
    "agree": "agreed to the scorecard",
    "approve": "approved",
    "return": "sent it back",
}


def _number(value: object) -> str:
    return f"{value:g}" if isinstance(value, int | float) else str(value)


def describe_scorecard_changes(before: list[dict], after: list[dict]) -> list[str]:
    """What a redesign changed, KPI by KPI, in words an auditor can read."""
    if not before:
        return [f"designed {len(after)} KPIs"]
    lines = []
    old = {k["name"]: k for k in before}
    new = {k["name"]: k for k in after}
    for name in new.keys() - old.keys():
        lines.append(f"added “{name}”")
    for name in old.keys() - new.keys():
        lines.append(f"removed “{name}”")
    for name in new.keys() & old.keys():
        for field in ("kind", "unit", "target", "weight"):
            if old[name].get(field) != new[name].get(field):
                lines.append(f"“{name}” {field} {_number(old[name].get(field))} → "
                             f"{_number(new[name].get(field))}")
    return sorted(lines) or ["resubmitted unchanged"]


def _as_utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def register(app: Flask) -> None:
    app.jinja_env.globals["task_move_events"] = TASK_MOVE_EVENTS

    @app.template_filter("when")
    def when(value: datetime | None) -> str:
        if value is None:
            return "—"
        return _as_utc(value).strftime("%d %b %Y %H:%M UTC")

    @app.template_filter("day")
    def day(value: datetime | None) -> str:
        return "—" if value is None else _as_utc(value).strftime("%d %b %Y")

    @app.template_filter("overdue")
    def overdue(value: datetime | None) -> bool:
        return value is not None and _as_utc(value) < datetime.now(UTC)

    @app.template_filter("username")
    def username(user_id: int | None) -> str:
        if user_id is None:
            return "system"
        user = db.session.get(User, user_id)
        return user.full_name + f" ({user.username})" if user else f"user {user_id}"

    @app.template_filter("person_label")
    def person_label(username_value: str) -> str:
        user = db.session.scalar(select(User).where(User.username == username_value))
        return f"{user.full_name} ({user.username})" if user else username_value

    @app.template_filter("iso_day")
    def iso_day(value: str) -> str:
        try:
            return _as_utc(datetime.fromisoformat(value)).strftime("%d %b %Y")
        except (TypeError, ValueError):
            return str(value)

    @app.template_filter("decision_label")
    def decision_label(value: str) -> str:
        return DECISION_LABELS.get(str(value), str(value))

    @app.template_global("scorecard_changes")
    def scorecard_changes(before: list | None, after: list | None) -> list[str]:
        return describe_scorecard_changes(before or [], after or [])

    @app.template_filter("event_label")
    def event_label(value: str) -> str:
        return EVENT_LABELS.get(str(value), str(value).replace("_", " "))

    @app.template_filter("assignee_label")
    def assignee_label(task: object) -> str:
        assignee = getattr(task, "assignee", None)
        if assignee is not None:
            return f"{assignee.full_name} ({assignee.username})"
        role = getattr(task, "candidate_role", None)
        return f"any {role.upper() if role == 'hr' else role} officer" if role else "unassigned"
