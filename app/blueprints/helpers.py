"""Template filters and globals."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.extensions import db
from app.i18n import format_day, format_when
from app.models import User

EVENT_LABELS = {
    "case_started": _l("started the case"),
    "case_completed": _l("case completed"),
    "task_assigned": _l("task assigned"),
    "task_completed": _l("completed"),
    "process_version_deployed": _l("deployed a process version"),
    "task_claimed": _l("claimed"),
    "task_unclaimed": _l("returned to the pool"),
    "task_delegated": _l("delegated"),
    "task_handed_back": _l("handed back"),
    "task_recalled": _l("recalled"),
    "task_reassigned": _l("reassigned"),
    "task_rerouted": _l("rerouted"),
    "task_escalated": _l("escalated"),
    "task_reminded": _l("reminder sent for"),
}
# Events about moving a task between people, shown with their target, reason and note.
TASK_MOVE_EVENTS = ("task_claimed", "task_unclaimed", "task_delegated", "task_handed_back",
                    "task_recalled", "task_reassigned", "task_rerouted", "task_escalated",
                    "task_reminded")


DECISION_LABELS = {
    "agree": _l("agreed to the scorecard"),
    "approve": _l("approved"),
    "return": _l("sent it back"),
}


KPI_FIELD_LABELS = {"kind": _l("kind"), "unit": _l("unit"), "target": _l("target"),
                    "weight": _l("weight")}


# How a role reads inside "any … officer" ("any HR officer", "any finance officer").
ROLE_LABELS = {"hr": _l("HR"), "finance": _l("finance"), "admin": _l("admin"),
               "process_owner": _l("process owner"), "auditor": _l("auditor")}


# Stored values the pages show as words (statuses, KPI kinds and scopes, who reports):
# `{{ value|word }}` reads "running" in English and its translation in Urdu.
WORDS = {
    "running": _l("running"), "completed": _l("completed"), "cancelled": _l("cancelled"),
    "open": _l("open"), "draft": _l("draft"), "launching": _l("launching"),
    "launched": _l("launched"), "not_launched": _l("not launched"),
    "quantity": _l("quantity"), "quality": _l("quality"), "individual": _l("individual"),
    "team": _l("team"), "linked": _l("linked"), "officer": _l("officer"),
    "employee": _l("employee"), "proposed": _l("proposed"), "approved": _l("approved"),
    "withdrawn": _l("withdrawn"), "rejected": _l("rejected"), "returned": _l("returned"),
    "none": _l("none"),
    "added": _l("added"), "removed": _l("removed"), "changed": _l("changed"),
    "outstanding": _l("outstanding"), "very_good": _l("very good"), "good": _l("good"),
    "average": _l("average"), "below_average": _l("below average"),
    "approve": _l("approve"), "return": _l("return"), "uphold": _l("uphold"),
    "revise": _l("revise"), "resubmit": _l("resubmit"), "withdraw": _l("withdraw"),
}


def role_label(role: str) -> str:
    return str(ROLE_LABELS.get(role, role))


def _number(value: object) -> str:
    return f"{value:g}" if isinstance(value, int | float) else str(value)


def describe_scorecard_changes(before: list[dict], after: list[dict]) -> list[str]:
    """What a redesign changed, KPI by KPI, in words an auditor can read."""
    if not before:
        return [gettext("designed %(count)s KPIs", count=len(after))]
    lines = []
    old = {k["name"]: k for k in before}
    new = {k["name"]: k for k in after}
    for name in new.keys() - old.keys():
        lines.append(gettext("added “%(name)s”", name=name))
    for name in old.keys() - new.keys():
        lines.append(gettext("removed “%(name)s”", name=name))
    for name in new.keys() & old.keys():
        for field in ("kind", "unit", "target", "weight"):
            if old[name].get(field) != new[name].get(field):
                lines.append(gettext(
                    "“%(name)s” %(field)s %(before)s → %(after)s", name=name,
                    field=str(KPI_FIELD_LABELS[field]), before=_number(old[name].get(field)),
                    after=_number(new[name].get(field))))
    return sorted(lines) or [gettext("resubmitted unchanged")]


def _as_utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def register(app: Flask) -> None:
    app.jinja_env.globals["task_move_events"] = TASK_MOVE_EVENTS

    @app.template_filter("when")
    def when(value: datetime | None) -> str:
        return format_when(value)

    @app.template_filter("day")
    def day(value: datetime | None) -> str:
        return format_day(value)

    @app.template_filter("overdue")
    def overdue(value: datetime | None) -> bool:
        return value is not None and _as_utc(value) < datetime.now(UTC)

    @app.template_filter("username")
    def username(user_id: int | None) -> str:
        if user_id is None:
            return gettext("system")
        user = db.session.get(User, user_id)
        if user is None:
            return gettext("user %(id)s", id=user_id)
        return f"{user.full_name} ({user.username})"

    @app.template_filter("person_label")
    def person_label(username_value: str) -> str:
        user = db.session.scalar(select(User).where(User.username == username_value))
        return f"{user.full_name} ({user.username})" if user else username_value

    @app.template_filter("iso_day")
    def iso_day(value: str) -> str:
        try:
            return format_day(datetime.fromisoformat(value))
        except (TypeError, ValueError):
            return str(value)

    @app.template_filter("word")
    def word(value: object) -> str:
        return str(WORDS.get(str(value), str(value)))

    @app.template_filter("decision_label")
    def decision_label(value: str) -> str:
        return str(DECISION_LABELS.get(str(value), str(value)))

    @app.template_global("scorecard_changes")
    def scorecard_changes(before: list | None, after: list | None) -> list[str]:
        return describe_scorecard_changes(before or [], after or [])

    @app.template_filter("event_label")
    def event_label(value: str) -> str:
        return str(EVENT_LABELS.get(str(value), str(value).replace("_", " ")))

    @app.template_filter("role_word")
    def role_word(role: str) -> str:
        return role_label(str(role))

    @app.template_filter("assignee_label")
    def assignee_label(task: object) -> str:
        assignee = getattr(task, "assignee", None)
        if assignee is not None:
            return f"{assignee.full_name} ({assignee.username})"
        role = getattr(task, "candidate_role", None)
        if not role:
            return gettext("unassigned")
        return gettext("any %(role)s officer", role=role_label(role))
