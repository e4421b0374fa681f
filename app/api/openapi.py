"""The JSON API described as an OpenAPI 3.1 document, served at /api/v1/openapi.json.

Written by hand next to the routes (a generator would have to guess what each view reads from
the body). tests/integration/test_openapi.py keeps it honest: every /api/v1 route must be here and
everything here must be a route, the document must validate, and schemathesis-generated requests
against the app must never get a server error.
"""

from __future__ import annotations

from typing import Any

from flask import jsonify

from app.api.routes import api_bp

API_VERSION = "1.0.0"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERROR_RESPONSES: dict[str, str] = {
    "400": "The request body is not what this operation takes.",
    "401": "No valid bearer token.",
    "403": "Not yours to do.",
    "404": "No such task, case, user or employee.",
    "409": "Already done, or a conflicting state (the task was completed a moment ago).",
    "413": "The body is larger than the app accepts.",
    "422": "Fields failed validation; `errors` maps each field to its messages.",
    "429": "Too many failed sign-ins: wait (see Retry-After).",
    "503": "The database is unavailable for a moment; nothing was saved.",
}


def _errors(*codes: str) -> dict[str, Any]:
    return {code: {"$ref": f"#/components/responses/E{code}"} for code in codes}


SORTS = ["due", "-due", "created", "-created", "step"]
ID = {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
USER_REF = {
    "description": "A user, by username or id.",
    "oneOf": [{"type": "string", "minLength": 1, "maxLength": 80}, ID],
}
NULLABLE_STRING = {"type": ["string", "null"]}
NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {"type": "string"},
            "errors": {"type": "object", "description": "Field name → messages (422)."},
            "request_id": NULLABLE_STRING,
        },
        "additionalProperties": True,
    },
    "TokenRequest": {
        "type": "object",
        "required": ["username", "password"],
        "properties": {
            "username": {"type": "string"},
            "password": {"type": "string", "format": "password"},
            "otp": {"type": "string", "description": "A current authenticator code or a recovery "
                    "code, for users who enabled the second factor."},
        },
    },
    "Token": {
        "type": "object",
        "required": ["token", "expires_at"],
        "properties": {"token": {"type": "string"},
                       "expires_at": {"type": "string", "format": "date-time"}},
    },
    "Task": {
        "type": "object",
        "required": ["id", "case_id", "name", "title", "status"],
        "properties": {
            "id": {"type": "integer"},
            "case_id": {"type": "integer"},
            "name": {"type": "string", "description": "The BPMN element id of the user task."},
            "title": {"type": "string"},
            "process": {**NULLABLE_STRING, "description": (
                "Key of the process the step belongs to: the called process for a step inside "
                "a call activity (goal_setting inside annual_appraisal).")},
            "lane": NULLABLE_STRING,
            "form": NULLABLE_STRING,
            "status": {"type": "string", "enum": ["open", "completed", "cancelled"]},
            "assignee": NULLABLE_STRING,
            "owner": NULLABLE_STRING,
            "delegate": NULLABLE_STRING,
            "candidate_role": NULLABLE_STRING,
            "subject": {"type": "string"},
            "created_at": NULLABLE_TIME,
            "due_at": NULLABLE_TIME,
            "completed_at": NULLABLE_TIME,
            "completed_by": NULLABLE_STRING,
        },
    },
    "TaskEnvelope": {"type": "object", "required": ["task"], "properties": {"task": _ref("Task")}},
    "TaskPage": {
        "type": "object",
        "required": ["tasks", "page", "per_page", "total", "pages"],
        "properties": {
            "tasks": {"type": "array", "items": _ref("Task")},
            "page": {"type": "integer"},
            "per_page": {"type": "integer"},
            "total": {"type": "integer"},
            "pages": {"type": "integer"},
        },
    },
    "FormField": {
        "type": "object",
        "required": ["name", "label", "type", "required"],
        "properties": {
            "name": {"type": "string"},
            "label": {"type": "string"},
            "type": {"type": "string"},
            "required": {"type": "boolean"},
            "description": {"type": "string"},
            "choices": {"type": "array", "items": {"type": "object"}},
            "item_fields": {"type": "array", "items": {"type": "object"}},
            "min_entries": {"type": ["integer", "null"]},
            "max_entries": {"type": ["integer", "null"]},
        },
    },
    "TaskDetail": {
        "type": "object",
        "required": ["task", "form", "initial_data", "case_data"],
        "properties": {
            "task": _ref("Task"),
            "instructions": NULLABLE_STRING,
            "form": {
                "type": "object",
                "required": ["key", "fields"],
                "properties": {"key": {"type": "string"},
                               "fields": {"type": "array", "items": _ref("FormField")}},
            },
            "initial_data": {"type": "object"},
            "case_data": {"type": "object"},
        },
    },
    "CompleteRequest": {
        "type": "object",
        "required": ["data"],
        "properties": {"data": {
            "type": "object",
            "description": "The form's fields (GET the task for them), e.g. a scorecard: "
                           '{"kpis": [{"name": …, "kind": "quantity", "unit": …, "target": …, '
                           '"weight": …}, …]}; a review: {"decision": "agree"}.'}},
    },
    "DelegateRequest": {
        "type": "object",
        "required": ["to"],
        "properties": {"to": USER_REF, "note": NULLABLE_STRING},
    },
    "ReassignRequest": {
        "type": "object",
        "required": ["to"],
        "properties": {"to": USER_REF, "reason": NULLABLE_STRING},
    },
    "NoteRequest": {"type": "object", "properties": {"note": NULLABLE_STRING}},
    "BulkRequest": {
        "type": "object",
        "required": ["task_ids", "action"],
        "properties": {
            "task_ids": {"type": "array", "items": ID, "maxItems": 200},
            "action": {"type": "string", "enum": ["approve", "return"]},
            "comment": NULLABLE_STRING,
        },
    },
    "BulkResult": {
        "type": "object",
        "required": ["action", "succeeded", "failed", "results"],
        "properties": {
            "action": {"type": "string"},
            "succeeded": {"type": "integer"},
            "failed": {"type": "integer"},
            "results": {"type": "array", "items": {
                "type": "object",
                "required": ["task_id", "ok"],
                "properties": {"task_id": {"type": "integer"}, "ok": {"type": "boolean"},
                               "message": NULLABLE_STRING},
            }},
        },
    },
    "StartCaseRequest": {
        "type": "object",
        "required": ["process", "subject"],
        "properties": {
            "process": {"type": "string", "description": "Process key, e.g. goal_setting."},
            "subject": {"description": "The employee: id or employee number.",
                        "oneOf": [ID, {"type": "string", "minLength": 1}]},
        },
    },
    "AuditEvent": {
        "type": "object",
        "required": ["id", "type", "occurred_at"],
        "properties": {
            "id": {"type": "integer"},
            "type": {"type": "string"},
            "occurred_at": {"type": "string", "format": "date-time"},
            "actor": NULLABLE_STRING,
            "task_id": {"type": ["integer", "null"]},
            "details": {"type": "object"},
        },
    },
    "Case": {
        "type": "object",
        "required": ["id", "process", "version", "status", "subject", "open_tasks", "data",
                     "audit_events"],
        "properties": {
            "id": {"type": "integer"},
            "process": {"type": "string"},
            "process_name": {"type": "string"},
            "version": {"type": "integer"},
            "status": {"type": "string", "enum": ["running", "completed"]},
            "subject": {"type": "object", "required": ["employee_number", "name"],
                        "properties": {"employee_number": {"type": "string"},
                                       "name": {"type": "string"}}},
            "started_at": NULLABLE_TIME,
            "completed_at": NULLABLE_TIME,
            "open_tasks": {"type": "array", "items": _ref("Task")},
            "data": {"type": "object"},
            "audit_events": {"type": "array", "items": _ref("AuditEvent")},
        },
    },
}


def _body(schema: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": _ref(schema)}}}


TASK_ID = {"name": "task_id", "in": "path", "required": True, "schema": ID}
CASE_ID = {"name": "case_id", "in": "path", "required": True, "schema": ID}
TASK_ACTION_ERRORS = ("400", "401", "403", "404", "409", "422", "503")


def _task_action(summary: str, body: str | None = None) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": summary,
        "parameters": [TASK_ID],
        "responses": {"200": _json(_ref("TaskEnvelope"), "The task after the action."),
                      **_errors(*TASK_ACTION_ERRORS)},
    }
    if body:
        operation["requestBody"] = _body(body)
    return operation


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}


PATHS: dict[str, Any] = {
    "/api/v1/openapi.json": {"get": {
        "summary": "This document", "security": [],
        "responses": {"200": {"description": "The OpenAPI document.",
                              "content": {"application/json": {"schema": {"type": "object"}}}}},
    }},
    "/api/v1/tokens": {"post": {
        "summary": "Sign in: a bearer token for the other operations",
        "security": [],
        "requestBody": _body("TokenRequest"),
        "responses": {"201": _json(_ref("Token"), "A new token."),
                      **_errors("400", "401", "422", "429", "503")},
    }},
    "/api/v1/tasks": {"get": {
        "summary": "My queue, a page at a time",
        "parameters": [
            _query("process", {"type": "string"}, "Process key"),
            _query("step", {"type": "string"}, "BPMN element id of the user task"),
            _query("unit", {"type": "integer"}, "The subject's org unit (and units below)"),
            _query("due_before", {"type": "string"}, "ISO date or date-time"),
            _query("overdue", {"type": "string", "enum": ["0", "1", "true", "false"]},
                   "Only overdue tasks"),
            _query("sort", {"type": "string", "enum": SORTS}, "Order (default: due)"),
            _query("page", {"type": "integer"}, "Page number, from 1"),
            _query("per_page", {"type": "integer"}, "Tasks per page (at most 200)"),
        ],
        "responses": {"200": _json(_ref("TaskPage"), "One page of my actionable tasks."),
                      **_errors("400", "401", "503")},
    }},
    "/api/v1/tasks/{task_id}": {"get": {
        "summary": "A task, its form's fields and the case data",
        "parameters": [TASK_ID],
        "responses": {"200": _json(_ref("TaskDetail"), "The task and its form."),
                      **_errors("400", "401", "403", "404", "409", "503")},
    }},
    "/api/v1/tasks/{task_id}/complete": {"post": _task_action(
        "Complete a task with its form's data", "CompleteRequest")},
    "/api/v1/tasks/{task_id}/claim": {"post": _task_action(
        "Take a task offered to my role into my queue")},
    "/api/v1/tasks/{task_id}/unclaim": {"post": _task_action(
        "Put a claimed task back in the role's pool")},
    "/api/v1/tasks/{task_id}/delegate": {"post": _task_action(
        "Delegate a task I own to someone", "DelegateRequest")},
    "/api/v1/tasks/{task_id}/hand-back": {"post": {
        **_task_action("Hand a delegated task back to its owner"),
        "requestBody": {"required": False,
                        "content": {"application/json": {"schema": _ref("NoteRequest")}}},
    }},
    "/api/v1/tasks/{task_id}/recall": {"post": _task_action(
        "Take back a task I delegated")},
    "/api/v1/tasks/{task_id}/reassign": {"post": _task_action(
        "Reassign a task to someone else (administrators and HR)", "ReassignRequest")},
    "/api/v1/tasks/bulk": {"post": {
        "summary": "Approve or return several tasks, each in its own transaction",
        "requestBody": _body("BulkRequest"),
        "responses": {"200": _json(_ref("BulkResult"), "Every task's outcome."),
                      **_errors("400", "401", "422", "503")},
    }},
    "/api/v1/cases": {"post": {
        "summary": "Start a case (HR of the employee's unit, or an administrator)",
        "requestBody": _body("StartCaseRequest"),
        "responses": {"201": _json(_ref("Case"), "The new case."),
                      **_errors("400", "401", "403", "404", "409", "422", "503")},
    }},
    "/api/v1/cases/{case_id}": {"get": {
        "summary": "A case: status, open tasks, data and audit events",
        "parameters": [CASE_ID],
        "responses": {"200": _json(_ref("Case"), "The case."),
                      **_errors("400", "401", "403", "404", "503")},
    }},
    "/api/v1/cases/{case_id}/report.pdf": {"get": {
        "summary": "The case's appraisal report as an A4 PDF (its generation is an audit event "
                   "carrying the report's SHA-256, also sent as the X-Report-SHA256 header)",
        "parameters": [CASE_ID],
        "responses": {"200": {"description": "The report.", "content": {"application/pdf": {
                          "schema": {"type": "string", "contentMediaType": "application/pdf"}}}},
                      **_errors("400", "401", "403", "404", "503")},
    }},
}


def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Meezan API",
            "version": API_VERSION,
            "description": "Tasks, queues and cases of Meezan's performance-management "
                           "processes. Sign in with POST /api/v1/tokens, then send "
                           "`Authorization: Bearer <token>`. Errors are JSON "
                           '`{"error": "…"}`.',
        },
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}],
        "paths": PATHS,
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
            "schemas": SCHEMAS,
            "responses": {
                f"E{code}": _json(_ref("Error"), description)
                for code, description in ERROR_RESPONSES.items()
            },
        },
    }


@api_bp.get("/openapi.json")
def openapi_json():  # noqa: ANN201
    """Public, like any API reference: it describes operations, never data."""
    return jsonify(openapi_document())
