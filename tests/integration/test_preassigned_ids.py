"""Ids for many new rows come from the table's sequence before the flush (app/models/
preassigned_ids.py), so the ORM can insert them with one executemany instead of INSERT ...
RETURNING; the sequence stays the only source of ids."""

from __future__ import annotations

import pytest
from sqlalchemy import event, select, text

from app.extensions import db
from app.models import OrgUnit


def _statements_during_flush() -> list[str]:
    seen: list[str] = []

    def remember(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", remember)
    try:
        db.session.flush()
    finally:
        event.remove(db.engine, "before_cursor_execute", remember)
    return seen


def test_many_new_rows_get_sequence_ids_and_are_inserted_without_returning(org, is_postgres
                                                                           ) -> None:
    if not is_postgres:
        pytest.skip("SQLite inserts many rows without RETURNING already")
    units = [OrgUnit(code=f"SEQ-{n}", name=f"Unit {n}") for n in range(5)]
    db.session.add_all(units)
    statements = _statements_during_flush()
    ids = [u.id for u in units]
    assert all(isinstance(i, int) for i in ids) and len(set(ids)) == 5
    inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT INTO ORG_UNITS")]
    assert inserts and not any("RETURNING" in s.upper() for s in inserts)
    db.session.commit()
    # The sequence moved past them: a row inserted the ordinary way gets a fresh id.
    single = OrgUnit(code="SEQ-single", name="Single unit")
    db.session.add(single)
    db.session.commit()
    assert single.id > max(ids)
    stored = db.session.scalars(select(OrgUnit.id).where(OrgUnit.code.like("SEQ-%"))).all()
    assert sorted(stored) == sorted([*ids, single.id])


def test_a_single_new_row_keeps_returning_its_id(org, is_postgres) -> None:
    if not is_postgres:
        pytest.skip("PostgreSQL only")
    unit = OrgUnit(code="SEQ-one", name="One unit")
    db.session.add(unit)
    statements = _statements_during_flush()
    assert not any("nextval" in s for s in statements)
    assert unit.id == db.session.scalar(text("SELECT id FROM org_units WHERE code = 'SEQ-one'"))
    db.session.commit()
