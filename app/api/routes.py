"""JSON API v1. Bearer-token auth; every error is JSON with a message; same services as the web."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import wraps
from typing import Any

from flask import Blueprint, current_app, g, jsonify, request

from app.models import AuditEvent, Case, HumanTask, User
from app.services import appraisal_report, auth, cases, delegation, queues, tasks
from app.services.errors import ServiceError, ValidationFailed
from forms.registry import formdata_from_json

api_bp = Blueprint("api", __name__, url_prefix="/api/v1")


class Unauthorized(ServiceError):
    status_code = 401


def token_required(view):  # noqa: ANN001, ANN201
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any):  # noqa: ANN202
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        user = auth.user_for_token(token.strip()) if scheme.lower() == "bearer" and token else None
        if user is None:
            raise Unauthorized("A valid bearer token is required (POST /api/v1/tokens).")
        g.api_user = user
        return view(*args, **kwargs)

    return wrapper


def _json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ServiceError("The request body must be a JSON object.")
    return body


def _iso(value: Any) -> str | None:
    """RFC 3339 with its offset. SQLite hands back naive datetimes; every stored time is UTC."""
    if value is None:
        return None
    if isinstance(value, datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.isoformat()


def task_json(task: HumanTask) -> dict[str, Any]:
    return {
        "id": task.id,
        "case_id": task.case_id,
        "name": task.task_name,
        "title": task.title,
        "process": task.process_key,
        "lane": task.lane,
        "form": task.form_key,
        "status": str(task.status),
        "assignee": task.assignee.username if task.assignee else None,
        "owner": task.owner.username if task.owner else None,
        "delegate": task.delegate.username if task.delegate else None,
        "candidate_role": task.candidate_role,
        "subject": task.case.subject.full_name,
        "created_at": _iso(task.created_at),
        "due_at": _iso(task.due_at),
        "completed_at": _iso(task.completed_at),
        "completed_by": task.completed_by.username if task.completed_by else None,
    }


def event_json(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "type": str(event.event_type),
        "occurred_at": _iso(event.occurred_at),
        "actor": event.actor.username if event.actor else None,
        "task_id": event.human_task_id,
        "details": event.details,
    }


def case_json(view: cases.CaseView) -> dict[str, Any]:
    case: Case = view.case
    return {
        "id": case.id,
        "process": case.process_version.process_model.key,
        "process_name": view.process_name,
        "version": view.process_version,
        "status": str(case.status),
        "subject": {
            "employee_number": case.subject.employee_number,
            "name": case.subject.full_name,
        },
        "started_at": _iso(case.started_at),
        "completed_at": _iso(case.completed_at),
        "open_tasks": [task_json(t) for t in view.open_tasks],
        "data": view.data,
        "audit_events": [event_json(e) for e in view.timeline],
    }


@api_bp.post("/tokens")
def create_token():  # noqa: ANN201
    body = _json_body()
    username, password = body.get("username"), body.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        raise ValidationFailed("username and password are required.", {
            k: ["This field is required."] for k in ("username", "password")
            if not isinstance(body.get(k), str)
        })
    otp = body.get("otp")
    user: User | None = auth.authenticate(username, password, channel="api",
                                          client_ip=request.remote_addr,
                                          otp=otp if isinstance(otp, str) else None)
    if user is None:
        raise Unauthorized("Wrong username or password.")
    token, expires_at = auth.issue_token(user, current_app.config["API_TOKEN_TTL_HOURS"])
    return jsonify({"token": token, "expires_at": expires_at.isoformat()}), 201


@api_bp.get("/tasks")
@token_required
def list_tasks():  # noqa: ANN201
    """My queue, a page at a time: ?process=&step=&unit=&due_before=&overdue=1&sort=&page=."""
    page = queues.queue_page(g.api_user, queues.QueueFilters.from_args(request.args))
    return jsonify({
        "tasks": [task_json(t) for t in page.items],
        "page": page.filters.page,
        "per_page": page.filters.per_page,
        "total": page.total,
        "pages": page.pages,
    })


MAX_ID = 2**31 - 1  # ids are 32-bit integers in the database


def _is_id(value: Any) -> bool:
    """A whole number that can be a row id: larger ones would be a driver error, not a 404."""
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID


def _text(body: dict[str, Any], name: str) -> str | None:
    """An optional free-text field: a string or null, nothing else."""
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise ValidationFailed(f"{name} must be text.", {name: ["Must be a string."]})
    return value


def _user_ref(value: Any) -> int | None:
    """A user given by id or username."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if _is_id(value) else None
    if isinstance(value, str):
        return delegation.user_id_for(value)
    return None


@api_bp.post("/tasks/<int:task_id>/claim")
@token_required
def claim_task(task_id: int):  # noqa: ANN201
    return jsonify({"task": task_json(delegation.claim_task(g.api_user, task_id))})


@api_bp.post("/tasks/<int:task_id>/unclaim")
@token_required
def unclaim_task(task_id: int):  # noqa: ANN201
    return jsonify({"task": task_json(delegation.unclaim_task(g.api_user, task_id))})


@api_bp.post("/tasks/<int:task_id>/delegate")
@token_required
def delegate_task(task_id: int):  # noqa: ANN201
    """{"to": "username" or id, "note": "..."}"""
    body = _json_body()
    task = delegation.delegate_task(g.api_user, task_id, _user_ref(body.get("to")),
                                    _text(body, "note"))
    return jsonify({"task": task_json(task)})


@api_bp.post("/tasks/<int:task_id>/hand-back")
@token_required
def hand_back_task(task_id: int):  # noqa: ANN201
    body = request.get_json(silent=True) or {}
    note = _text(body, "note") if isinstance(body, dict) else None
    return jsonify({"task": task_json(delegation.hand_back_task(g.api_user, task_id, note))})


@api_bp.post("/tasks/<int:task_id>/recall")
@token_required
def recall_task(task_id: int):  # noqa: ANN201
    return jsonify({"task": task_json(delegation.recall_task(g.api_user, task_id))})


@api_bp.post("/tasks/<int:task_id>/reassign")
@token_required
def reassign_task(task_id: int):  # noqa: ANN201
    """{"to": "username" or id, "reason": "..."} (administrators and HR)."""
    body = _json_body()
    task = delegation.reassign_task(g.api_user, task_id, _user_ref(body.get("to")),
                                    _text(body, "reason"))
    return jsonify({"task": task_json(task)})


@api_bp.post("/tasks/bulk")
@token_required
def bulk_tasks():  # noqa: ANN201
    """{"task_ids": [...], "action": "approve" | "return", "comment": "..."}: each task is
    completed separately; 200 with every outcome, whatever failed."""
    body = _json_body()
    ids = body.get("task_ids")
    if not isinstance(ids, list) or not all(_is_id(i) for i in ids):
        raise ValidationFailed("task_ids must be a list of task ids.", {"task_ids": ["Invalid."]})
    result = queues.bulk_complete(g.api_user, ids, str(body.get("action", "")),
                                  _text(body, "comment"))
    return jsonify({
        "action": result.action,
        "succeeded": result.succeeded,
        "failed": result.failed,
        "results": [{"task_id": o.task_id, "ok": o.ok, "message": o.full_message}
                    for o in result.outcomes],
    })


@api_bp.get("/tasks/<int:task_id>")
@token_required
def get_task(task_id: int):  # noqa: ANN201
    view = tasks.task_form_view(g.api_user, task_id)
    return jsonify({
        "task": task_json(view.task),
        "instructions": view.task.instructions,
        "form": {"key": view.task.form_key, "fields": view.form_class.describe()},
        "initial_data": view.initial_data,
        "case_data": view.case_data,
    })


@api_bp.post("/tasks/<int:task_id>/complete")
@token_required
def complete_task(task_id: int):  # noqa: ANN201
    body = _json_body()
    data = body.get("data")
    if not isinstance(data, dict):
        raise ServiceError('The body must be {"data": {...}} with the form\'s fields.')
    done = tasks.complete_task(g.api_user, task_id, formdata_from_json(data))
    return jsonify({"task": task_json(done)}), 200


@api_bp.post("/cases")
@token_required
def start_case():  # noqa: ANN201
    body = _json_body()
    process, subject = body.get("process"), body.get("subject")
    errors = {}
    if not isinstance(process, str):
        errors["process"] = ["Give the process key, e.g. goal_setting."]
    if not (_is_id(subject) or isinstance(subject, str)):
        errors["subject"] = ["Give the subject's employee id or employee number."]
    if errors:
        raise ValidationFailed("process and subject are required.", errors)
    subject_id = cases.resolve_subject_id(subject)
    case = cases.start_case(process, subject_id, g.api_user)
    return jsonify(case_json(cases.view_case(g.api_user, case.id))), 201


@api_bp.get("/cases/<int:case_id>")
@token_required
def get_case(case_id: int):  # noqa: ANN201
    return jsonify(case_json(cases.view_case(g.api_user, case_id)))


@api_bp.get("/cases/<int:case_id>/report.pdf")
@token_required
def get_case_report(case_id: int):  # noqa: ANN201
    """The case's appraisal report as PDF (as on the web; its generation is audited)."""
    return appraisal_report.generate(g.api_user, case_id).as_response()
