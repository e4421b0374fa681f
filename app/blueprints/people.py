"""Choosing a colleague (to delegate to, to act during an absence, to reassign to) in an
organisation of any size: a text field that takes a username, with names suggested as one types
from `/people/lookup` (app/static/person-picker.js fills the field's <datalist>). Without
JavaScript the field still takes a typed username. No page ever lists every user."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, jsonify, request
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from wtforms import StringField

from app.services import users

bp = Blueprint("people", __name__)

# A suggestion reads "Full Name (username)"; the username in the last brackets is what counts.
_SUGGESTION = re.compile(r"\(([^()]+)\)\s*$")


class PersonField(StringField):
    """A colleague, typed as a username or picked from the suggestions. `data` is the active
    user's id (None when empty); an unknown or inactive username is a form error."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.raw_text = str(valuelist[0]).strip() if valuelist else ""
        self.data = None
        if not self.raw_text:
            return
        match = _SUGGESTION.search(self.raw_text)
        user = users.active_user_named(match.group(1) if match else self.raw_text)
        if user is None:
            raise ValueError(_l("No active user has that username: type at least two letters "
                                "of a name and pick from the list."))
        self.data = user.id

    def _value(self) -> str:
        return getattr(self, "raw_text", "") or ""


@bp.get("/people/lookup")
@login_required
def lookup():  # noqa: ANN201
    """Up to 20 active colleagues whose name or username contains `q` (two letters or more)."""
    found = users.find_colleagues(request.args.get("q", ""))
    return jsonify([{"username": u.username, "name": u.full_name,
                     "label": f"{u.full_name} ({u.username})"} for u in found])
