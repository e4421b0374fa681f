"""Reading the org tree: which units a role held at a unit covers."""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import OrgUnit


def descendant_unit_ids(unit_id: int) -> set[int]:
    """The unit and every unit below it."""
    children: dict[int | None, list[int]] = {}
    for uid, parent in db.session.execute(select(OrgUnit.id, OrgUnit.parent_id)):
        children.setdefault(parent, []).append(uid)
    found: set[int] = set()
    stack = [unit_id]
    while stack:
        current = stack.pop()
        if current in found:
            continue
        found.add(current)
        stack.extend(children.get(current, []))
    return found


def unit_and_ancestor_ids(unit: OrgUnit) -> set[int]:
    return set(unit.ancestor_ids())
