"""Acting as someone who can get past the database's append-only triggers on `audit_events`.

The triggers stop the application's own connection from changing or deleting audit events. A
PostgreSQL superuser can still switch them off (`session_replication_role = replica`), and
whoever holds an SQLite file can drop them: the tamper specs act as that person, which is what
the hash chain is there to catch. Test set-up uses the same door to empty the table.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text

from app.extensions import db


@contextmanager
def audit_triggers_bypassed() -> Iterator[None]:
    """Within the current transaction (the caller commits): the triggers do not fire."""
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL session_replication_role = replica"))
        yield
        db.session.execute(text("SET LOCAL session_replication_role = origin"))
        return
    triggers = db.session.execute(text(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_events'"
    )).all()
    for name, _ in triggers:
        db.session.execute(text(f'DROP TRIGGER "{name}"'))
    try:
        yield
    finally:
        for _, sql in triggers:
            db.session.execute(text(sql))
