"""Every form is CSRF-protected (checked route by route from the URL map, so a new POST route is
covered the day it is added), the API cannot be driven by a browser's cookies, and every page's
Content-Security-Policy lets only the app's own scripts run."""

from __future__ import annotations

import io
import re

import pytest
from flask import Flask, g
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent
from tests.helpers import csrf_token, login

# Exempt from the global check only to raise the upload size first; its FlaskForm checks the token.
CHECKED_BY_THE_FORM = {"/org/import"}
SAMPLE_VALUES = {"int": "1", "default": "goal_setting", "path": "x"}
CONVERTER = re.compile(r"<(?:([a-z_]+)(?:\([^)]*\))?:)?([a-z_]+)>")


def _sample_url(rule: str) -> str:
    return CONVERTER.sub(lambda m: "json" if m.group(2) == "fmt" else
                         SAMPLE_VALUES.get(m.group(1) or "default", "x"), rule)


def web_post_routes(app: Flask) -> list[str]:
    return sorted({_sample_url(rule.rule) for rule in app.url_map.iter_rules()
                   if "POST" in rule.methods and not rule.rule.startswith("/api/")})


def test_there_are_web_forms_to_protect(app: Flask) -> None:
    routes = web_post_routes(app)
    assert "/login" in routes and "/tasks/1" in routes and len(routes) >= 20


def test_every_post_route_refuses_a_request_without_a_csrf_token(app: Flask, org) -> None:
    client = app.test_client()
    login(client, "admin")
    before = db.session.scalar(select(func.count(AuditEvent.id)))
    for url in web_post_routes(app):
        # Test requests share this test's app context; a real request starts with a fresh `g`,
        # without the "already checked" mark the sign-in above left on it.
        g.pop("csrf_valid", None)
        response = client.post(url, data={"comment": "x", "decision": "approve",
                                          "file": (io.BytesIO(b"employee_number\nX-1\n"),
                                                   "org.csv")})
        text = response.get_data(as_text=True)
        assert response.status_code == 400, url
        if url not in CHECKED_BY_THE_FORM:
            assert "did not come from this site" in text, url
    db.session.rollback()
    assert db.session.scalar(select(func.count(AuditEvent.id))) == before  # nothing happened


def test_a_token_from_another_session_is_refused_too(app: Flask, org) -> None:
    other = app.test_client()
    stolen = csrf_token(other, "/login")
    g.pop("csrf_token", None)  # Flask-WTF caches the token on `g`, which test requests share
    client = app.test_client()
    login(client, "hr1")
    response = client.post("/logout", data={"csrf_token": stolen})
    assert response.status_code == 400
    assert client.get("/tasks").status_code == 200  # still signed in


def test_the_api_does_not_accept_a_browser_session(app: Flask, org) -> None:
    """The API skips CSRF because it reads only bearer tokens: a signed-in browser's cookie
    must not work there."""
    client = app.test_client()
    login(client, "hr1")
    response = client.post("/api/v1/cases", json={"process": "goal_setting",
                                                   "subject": "KP-00003"})
    assert response.status_code == 401


def _directives(csp: str) -> dict[str, list[str]]:
    parsed = {}
    for part in csp.split(";"):
        name, *values = part.split()
        parsed[name] = values
    return parsed


@pytest.mark.parametrize("path", ["/login", "/tasks", "/cases", "/processes",
                                  "/processes/goal_setting/modeler", "/audit",
                                  "/account/two-factor"])
def test_pages_run_only_the_apps_own_scripts(app: Flask, org, path: str) -> None:
    client = app.test_client()
    if path != "/login":
        login(client, "admin")
    response = client.get(path)
    assert response.status_code == 200, path
    policy = _directives(response.headers["Content-Security-Policy"])
    scripts = policy.get("script-src", policy["default-src"])
    assert scripts == ["'self'"], (path, scripts)
    assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"] and policy["form-action"] == ["'self'"]
    assert not re.search(r"<script(?![^>]*\ssrc=)[^>]*>", response.get_data(as_text=True)), \
        f"inline script on {path}"
