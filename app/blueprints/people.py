"""Choosing a colleague (to delegate to, to act during an absence, to reassign to) or an
employee (to start a case about) in an organisation of any size: a text field that takes a
username or an employee number, with names suggested as one types from `/people/lookup` or
`/people/employees` (app/static/person-picker.js fills the field's <datalist>). Without
JavaScript the field still takes what is typed. No page ever lists everyone."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, jsonify, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import select
from wtforms import StringField

from app.extensions import db
from app.models import Employee
from app.services import cases, users

bp = Blueprint("people", __name__)

# A suggestion reads "Full Name (username)"; the username in the last brackets is what counts.
_SUGGESTION = re.compile(r"\(([^()]+)\)\s*$")


class _PickedField(StringField):
    """Text naming one record by the key in its suggestion's last brackets (or the bare key);
    `data` is the record's id, None when empty; an unknown key is a form error."""

    lookup_endpoint: str  # where the suggestions come from (the template's person_input)
    unknown: str  # the form error for a key that names nothing

    def find(self, key: str) -> int | None:
        raise NotImplementedError

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.raw_text = str(valuelist[0]).strip() if valuelist else ""
        self.data = None
        if not self.raw_text:
            return
        match = _SUGGESTION.search(self.raw_text)
        self.data = self.find(match.group(1) if match else self.raw_text)
        if self.data is None:
            raise ValueError(self.unknown)

    def _value(self) -> str:
        return getattr(self, "raw_text", "") or ""


class PersonField(_PickedField):
    """A colleague with an active login, typed as a username or picked from the suggestions."""

    lookup_endpoint = "people.lookup"
    unknown = _l("No active user has that username: type at least two letters of a name and "
                 "pick from the list.")

    def find(self, key: str) -> int | None:
        user = users.active_user_named(key)
        return user.id if user else None


class EmployeeField(_PickedField):
    """An employee, typed as an employee number or picked from the suggestions."""

    lookup_endpoint = "people.employees"
    unknown = _l("No employee has that number: type at least two letters of a name or number "
                 "and pick from the list.")

    def find(self, key: str) -> int | None:
        return db.session.scalar(select(Employee.id).where(Employee.employee_number == key))


@bp.get("/people/lookup")
@login_required
def lookup():  # noqa: ANN201
    """Up to 20 active colleagues whose name or username contains `q` (two letters or more)."""
    found = users.find_colleagues(request.args.get("q", ""))
    return jsonify([{"username": u.username, "name": u.full_name,
                     "label": f"{u.full_name} ({u.username})"} for u in found])


@bp.get("/people/employees")
@login_required
def employees():  # noqa: ANN201
    """Up to 20 employees matching `q` whom the signed-in person may start a case about (none
    for someone who starts no cases)."""
    found = cases.find_startable_subjects(current_user, request.args.get("q", ""))
    return jsonify([{"number": e.employee_number, "name": e.full_name,
                     "label": f"{e.full_name} — {e.designation or ''} ({e.employee_number})"}
                    for e in found])
