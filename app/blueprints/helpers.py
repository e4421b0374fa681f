"""Template filters and globals."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask

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
