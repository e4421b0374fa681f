"""Production setup: the health endpoint, request ids and structured logs, gunicorn's settings,
the production configuration, and the database going away for a moment (a clear 503, then
recovery) on PostgreSQL."""

from __future__ import annotations

import json
import logging
import runpy
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from flask import Flask

from app import create_app
from app.config import ProductionConfig
from app.extensions import db
from app.observability import JsonFormatter, KeyValueFormatter, RequestIdFilter
from tests.helpers import login
from tests.tcp_proxy import TcpProxy

REPO = Path(__file__).resolve().parents[2]


def test_healthz_is_public_and_reports_the_database(client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok"}
    assert response.headers["Content-Type"] == "application/json"
    assert "Set-Cookie" not in response.headers  # no session for a probe


def test_healthz_answers_503_when_the_database_cannot_be_reached(tmp_path: Path) -> None:
    unreachable = create_app("test", {
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'missing-dir' / 'x.db'}",
        "SQLALCHEMY_ENGINE_OPTIONS": {},
    })
    response = unreachable.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json == {"status": "unavailable", "database": "unreachable"}
    assert response.headers["Retry-After"] == "5"
    body = response.get_data(as_text=True)
    assert "missing-dir" not in body and "sqlite" not in body  # no internals leak
    with unreachable.app_context():
        db.engine.dispose()


def test_every_response_carries_a_request_id_and_keeps_a_sane_incoming_one(client) -> None:
    generated = client.get("/login").headers["X-Request-ID"]
    assert len(generated) == 32 and generated != client.get("/login").headers["X-Request-ID"]
    assert client.get("/login", headers={"X-Request-ID": "lb-abc123456"}).headers[
        "X-Request-ID"] == "lb-abc123456"
    forged = client.get("/login", headers={"X-Request-ID": '<script>" onload=x'})
    assert len(forged.headers["X-Request-ID"]) == 32  # replaced, not echoed


def test_log_lines_are_json_with_the_request_id(app: Flask) -> None:
    with app.test_request_context("/tasks"):
        from flask import g

        g.request_id = "req-0123456789"
        record = logging.LogRecord("meezan.test", logging.INFO, __file__, 1, "task %s done",
                                   (7,), None)
        record.task_id = 7
        RequestIdFilter().filter(record)
        line = JsonFormatter().format(record)
        text = KeyValueFormatter().format(record)
    entry = json.loads(line)
    assert entry["message"] == "task 7 done" and entry["request_id"] == "req-0123456789"
    assert entry["level"] == "info" and entry["logger"] == "meezan.test" and entry["task_id"] == 7
    assert "request_id=req-0123456789" in text and 'msg="task 7 done"' in text


def test_the_request_log_line_names_method_path_status_and_user(app: Flask, org, caplog) -> None:
    client = app.test_client()
    login(client, "emp1")
    with caplog.at_level(logging.INFO, logger="meezan.request"):
        response = client.get("/tasks", headers={"X-Request-ID": "trace-12345678"})
    [record] = [r for r in caplog.records if r.name == "meezan.request"]
    assert (record.method, record.path, record.status) == ("GET", "/tasks", 200)
    assert record.user_id == org["emp1"].id and record.duration_ms >= 0
    assert response.headers["X-Request-ID"] == "trace-12345678"


def test_gunicorn_settings_come_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("MEEZAN_WORKERS", "5")
    monkeypatch.setenv("MEEZAN_PORT", "8123")
    monkeypatch.setenv("MEEZAN_TIMEOUT", "45")
    settings = runpy.run_path(str(REPO / "gunicorn.conf.py"))
    assert settings["workers"] == 5 and settings["bind"] == "127.0.0.1:8123"
    assert settings["timeout"] == 45 and settings["graceful_timeout"] == 30
    assert settings["accesslog"] == "-" and "request_id=%({x-request-id}o)s" in settings[
        "access_log_format"]
    assert settings["preload_app"] is False  # no database connection shared across a fork


def test_production_config_needs_secrets_from_the_environment(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setattr(ProductionConfig, "SECRET_KEY", None)
    monkeypatch.setenv("DATABASE_URL", "postgresql://db.invalid/meezan")
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        ProductionConfig(str(tmp_path))
    monkeypatch.setattr(ProductionConfig, "SECRET_KEY", "k" * 64)
    monkeypatch.delenv("DATABASE_URL")
    with pytest.raises(RuntimeError, match="DATABASE_URL"):
        ProductionConfig(str(tmp_path))


def test_production_cookies_are_secure_and_https_is_pinned(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(ProductionConfig, "SECRET_KEY", "k" * 64)
    monkeypatch.setenv("DATABASE_URL", "postgresql://db.invalid/meezan")
    config = ProductionConfig(str(tmp_path))
    assert config.SESSION_COOKIE_SECURE and config.REMEMBER_COOKIE_SECURE
    assert config.SESSION_COOKIE_HTTPONLY and config.REMEMBER_COOKIE_HTTPONLY
    assert config.SESSION_COOKIE_SAMESITE == "Lax"
    assert config.HSTS_SECONDS >= 180 * 24 * 3600
    assert config.LOG_TO_STDOUT and config.LOG_FORMAT == "json"
    assert config.SQLALCHEMY_ENGINE_OPTIONS["pool_pre_ping"] is True
    assert config.SQLALCHEMY_ENGINE_OPTIONS["connect_args"]["connect_timeout"] <= 10


def test_the_production_script_refuses_sqlite_and_runs_the_workers() -> None:
    script = (REPO / "scripts" / "serve-production.sh").read_text()
    for needed in ("db upgrade", "deploy-workflows", "run-timers", "send-notifications",
                   "gunicorn -c gunicorn.conf.py wsgi:app", "MEEZAN_ENV=production"):
        assert needed in script
    assert "production runs on PostgreSQL" in script


def _through(url: str, port: int) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host))


def test_the_database_going_away_gives_a_503_page_and_then_recovers(app: Flask, org,
                                                                     is_postgres: bool) -> None:
    if not is_postgres:
        pytest.skip("a database server that goes away and comes back is tested on PostgreSQL")
    url = urlsplit(app.config["SQLALCHEMY_DATABASE_URI"])
    proxy = TcpProxy(url.hostname or "127.0.0.1", url.port or 5432)
    proxy.start()
    flaky = create_app("test", {
        "SQLALCHEMY_DATABASE_URI": _through(app.config["SQLALCHEMY_DATABASE_URI"], proxy.port)})
    try:
        client = flaky.test_client()
        login(client, "emp1")
        assert client.get("/tasks").status_code == 200

        proxy.stop()
        page = client.get("/tasks")
        assert page.status_code == 503 and page.headers["Retry-After"] == "5"
        text = " ".join(page.get_data(as_text=True).split())
        assert "briefly unavailable" in text and "Nothing you submitted" in text
        assert page.headers["X-Request-ID"] in text  # a reference the user can quote
        assert client.get("/healthz").status_code == 503
        api = client.get("/api/v1/tasks", headers={"Authorization": "Bearer x"})
        assert api.status_code == 503 and "unavailable" in api.json["error"]

        proxy.start()
        assert client.get("/healthz").json == {"status": "ok", "database": "ok"}
        assert client.get("/tasks").status_code == 200  # same session, fresh connections
    finally:
        proxy.stop()
        with flaky.app_context():
            db.engine.dispose()
