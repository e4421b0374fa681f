"""Request ids and structured logs.

Every request gets an id: the caller's `X-Request-ID` when it looks like one (a proxy or load
balancer in front sets it), otherwise a fresh one. It is echoed in the response header, put on
every log record written while the request runs, and logged with the request's outcome in one
line, so an error a user reports ("request id 3f2a…") leads to its log lines.

With `LOG_FORMAT=json` (production's default) each record is one JSON object per line on stdout,
which a log shipper reads without parsing rules; `text` gives `key=value` lines for a terminal.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Flask, g, has_request_context, request

REQUEST_ID_HEADER = "X-Request-ID"
_ACCEPTABLE_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")
# Attributes every LogRecord has; anything else was passed with `extra=` and is logged as a field.
_STANDARD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "request_id"}

log = logging.getLogger("meezan.request")


def current_request_id() -> str | None:
    if has_request_context():
        return g.get("request_id")
    return None


class RequestIdFilter(logging.Filter):
    """Stamp each record with the id of the request being served (or "-" outside one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id() or "-"
        return True


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRS}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
            **_extras(record),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            **_extras(record),
            "msg": record.getMessage(),
        }
        line = " ".join(f"{k}={_kv(v)}" for k, v in fields.items())
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def _kv(value: Any) -> str:
    text = str(value)
    return json.dumps(text) if (not text or any(c in text for c in ' ="')) else text


def configure_logging(app: Flask) -> None:
    """Send the app's logs to stdout in the configured format. Only when `LOG_TO_STDOUT` is on
    (production, the workers): tests keep pytest's own log capture."""
    if not app.config.get("LOG_TO_STDOUT"):
        return
    handler = logging.StreamHandler(sys.stdout)
    fmt = app.config.get("LOG_FORMAT", "json")
    handler.setFormatter(JsonFormatter() if fmt == "json" else KeyValueFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, "_meezan", False):
            root.removeHandler(existing)
    handler._meezan = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(app.config.get("LOG_LEVEL", "INFO"))
    app.logger.handlers.clear()  # propagate to the root handler only: one line per record
    app.logger.propagate = True


def register_request_ids(app: Flask) -> None:
    @app.before_request
    def assign_request_id() -> None:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = incoming if _ACCEPTABLE_ID.match(incoming) else uuid.uuid4().hex
        g.request_started = time.perf_counter()

    @app.after_request
    def log_request(response):  # noqa: ANN001, ANN202
        request_id = g.get("request_id")
        if request_id:
            response.headers[REQUEST_ID_HEADER] = request_id
        started = g.get("request_started")
        if started is not None and request.endpoint != "static":
            log.info(
                "%s %s %s", request.method, request.path, response.status_code,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                    "user_id": _user_id(),
                },
            )
        return response


def _user_id() -> int | None:
    """The signed-in (web) or bearer (API) user, if already loaded: logging never queries."""
    api_user = g.get("api_user")
    if api_user is not None:
        return api_user.id
    loaded = g.get("_login_user")
    if loaded is not None and getattr(loaded, "is_authenticated", False):
        return loaded.id
    return None


__all__ = ["configure_logging", "current_request_id", "register_request_ids"]
