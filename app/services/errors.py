"""Errors a use case can end with. Each carries the HTTP status the web and API layers answer."""

from __future__ import annotations

from typing import Any


class Message(str):
    """A service's message with values in it: English as a plain `str` (the API, the command
    line and logs speak English), with its catalogue template (marked with N_ where it is
    written, `%(name)s` placeholders) and values kept, so a page can show it in the reader's
    language (`app.i18n.translated`)."""

    template: str
    params: dict[str, Any]

    def __new__(cls, template: str, **params: Any) -> Message:
        message = super().__new__(cls, template % params if params else template)
        message.template, message.params = template, params
        return message


class ServiceError(Exception):
    status_code = 400

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        return {"error": self.message, **self.details}


class NotFound(ServiceError):
    status_code = 404


class PermissionDenied(ServiceError):
    status_code = 403


class Conflict(ServiceError):
    status_code = 409


class TaskAlreadyCompleted(Conflict):
    pass


class ValidationFailed(ServiceError):
    status_code = 422

    def __init__(self, message: str, errors: dict[str, Any]) -> None:
        super().__init__(message, errors=errors)
        self.errors = errors


class AssignmentError(ServiceError):
    """The org data cannot route a task without breaking a rule (e.g. segregation of duties)."""

    status_code = 422
