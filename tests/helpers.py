"""Small helpers the tests share: signing in through the real form, CSRF tokens, scorecards."""

from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient

from app.services.demo import DEMO_PASSWORD

_CSRF = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


def csrf_token(client: FlaskClient, path: str) -> str:
    page = client.get(path)
    match = _CSRF.search(page.get_data(as_text=True))
    assert match, f"no CSRF token on {path} (status {page.status_code})"
    return match.group(1)


def login(client: FlaskClient, username: str, password: str = DEMO_PASSWORD) -> None:
    token = csrf_token(client, "/login")
    response = client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}
    )
    assert response.status_code == 302, response.get_data(as_text=True)


def logout(client: FlaskClient) -> None:
    token = csrf_token(client, "/tasks")
    client.post("/logout", data={"csrf_token": token})


def good_scorecard() -> list[dict[str, Any]]:
    return [
        {"name": "Children fully immunised", "kind": "quantity", "unit": "children",
         "target": 12000, "weight": 40},
        {"name": "Vaccinator attendance", "kind": "quantity", "unit": "%", "target": 95,
         "weight": 25},
        {"name": "Cold-chain audits passed", "kind": "quality", "unit": "%", "target": 90,
         "weight": 35},
    ]


def scorecard_formdata(scorecard: list[dict[str, Any]]) -> dict[str, str]:
    data = {}
    for index, kpi in enumerate(scorecard):
        for key, value in kpi.items():
            data[f"kpis-{index}-{key}"] = str(value)
    return data
