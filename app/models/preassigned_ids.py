"""Primary keys drawn from PostgreSQL's sequences before a flush that inserts many rows.

Why: the ORM must learn the id of every new row. Without ids it asks PostgreSQL for them with
INSERT ... RETURNING, which SQLAlchemy sends as one multi-row statement per few hundred rows;
psycopg then re-parses each of those long, uncacheable statements in Python, which was a third
of a cycle launch's own CPU. Given ids up front, the ORM inserts with a plain executemany that
psycopg pipelines as one prepared statement. One `SELECT nextval(...) FROM generate_series(...)`
per table buys the ids; the sequence stays the only source of ids, so concurrent writers (and
rows inserted without this hook) never collide.

Single-row inserts are left alone: RETURNING costs them nothing extra.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import event, inspect, select, text
from sqlalchemy.orm import Mapper, Session

MIN_ROWS = 2
_sequences: dict[tuple[int, str], str | None] = {}


def _integer_pk(mapper: Mapper[Any]) -> str | None:
    keys = mapper.primary_key
    if len(keys) != 1 or not keys[0].autoincrement or keys[0].type.python_type is not int:
        return None
    return keys[0].key


def _sequence_of(session: Session, table: str, column: str) -> str | None:
    bind = session.get_bind()
    key = (id(bind), table)
    if key not in _sequences:
        _sequences[key] = session.execute(
            text("SELECT pg_get_serial_sequence(:table, :column)"),
            {"table": table, "column": column},
        ).scalar_one_or_none()
    return _sequences[key]


@event.listens_for(Session, "before_flush")
def _preassign_ids(session: Session, flush_context: Any, instances: Any) -> None:
    if session.get_bind().dialect.name != "postgresql":
        return  # SQLite inserts many rows without RETURNING already
    waiting: dict[Mapper[Any], list[Any]] = defaultdict(list)
    for obj in session.new:
        mapper = inspect(obj).mapper
        column = _integer_pk(mapper)
        if column is not None and getattr(obj, column) is None:
            waiting[mapper].append(obj)
    for mapper, objects in waiting.items():
        if len(objects) < MIN_ROWS:
            continue
        column = _integer_pk(mapper)
        assert column is not None  # noqa: S101 - filtered above
        sequence = _sequence_of(session, mapper.local_table.name, column)
        if sequence is None:
            continue
        ids = session.execute(
            select(text("nextval(:sequence)")).select_from(
                text("generate_series(1, :count)")),
            {"sequence": sequence, "count": len(objects)},
        ).scalars().all()
        for obj, new_id in zip(objects, ids, strict=True):
            setattr(obj, column, new_id)
