"""The audit trail: append-only, typed, hash-chained events.

`record()` queues an event on the current transaction. When that transaction commits, the queued
events are appended to one global chain: the one-row chain head is locked (on PostgreSQL
`SELECT ... FOR UPDATE`; SQLite serialises writers itself), each event gets the next sequence
number, the previous event's hash and its own hash over its canonical content, and the head moves
on. The lock is held only for the commit itself. Events of a rolled-back transaction are never
written. `verify_chain()` recomputes every link and names the first event that was edited,
deleted or reordered.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import ColumnElement, String, and_, cast, event, insert, or_, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.extensions import db
from app.models import (
    AuditChainHead,
    AuditEvent,
    AuditEventType,
    Case,
    Employee,
    HumanTask,
    OrgUnit,
    User,
)
from app.models.base import utcnow
from app.models.cycle import cycle_org_units

GENESIS_HASH = "0" * 64
_EVENT_COLUMNS = ("occurred_at", "event_type", "actor_id", "on_behalf_of_id", "case_id",
                  "human_task_id", "details", "seq", "prev_hash", "hash")
_PENDING = "meezan_audit_pending"


def record(
    event_type: AuditEventType,
    *,
    actor: User | None = None,
    case: Case | None = None,
    task: HumanTask | None = None,
    on_behalf_of: User | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Queue an event on the current transaction; it is chained and written at commit."""
    audit_event = AuditEvent(
        event_type=event_type,
        actor_id=actor.id if actor else None,
        on_behalf_of_id=on_behalf_of.id if on_behalf_of else None,
        case_id=case.id if case else None,
        human_task_id=task.id if task else None,
        details=json.loads(json.dumps(details or {}, default=str)),  # stored exactly as hashed
    )
    db.session().info.setdefault(_PENDING, []).append(audit_event)
    return audit_event


def _utc_iso(value: datetime) -> str:
    if value.tzinfo is None:  # SQLite returns naive values; they are stored in UTC
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_hash(audit_event: AuditEvent) -> str:
    """SHA-256 over the event's canonical JSON, which includes the previous event's hash."""
    content = {
        "seq": audit_event.seq,
        "prev_hash": audit_event.prev_hash,
        "occurred_at": _utc_iso(audit_event.occurred_at),
        "event_type": str(audit_event.event_type),
        "actor_id": audit_event.actor_id,
        "on_behalf_of_id": audit_event.on_behalf_of_id,
        "case_id": audit_event.case_id,
        "human_task_id": audit_event.human_task_id,
        "details": audit_event.details,
    }
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _locked_head(session: Session) -> AuditChainHead:
    """The chain head, read under the database's write lock so no other commit can take the
    same next sequence number. PostgreSQL: SELECT ... FOR UPDATE. SQLite has no row locks, and
    pysqlite runs a SELECT outside any transaction: an UPDATE that changes nothing first takes
    the database's write lock (a second committer waits there), then the read is the latest."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("UPDATE audit_chain_head SET seq = seq WHERE id = 1"))
    query = select(AuditChainHead).where(AuditChainHead.id == 1).with_for_update()
    head = session.scalars(query.execution_options(populate_existing=True)).one_or_none()
    if head is None:
        try:
            with session.begin_nested():
                session.add(AuditChainHead(id=1, seq=0, hash=GENESIS_HASH))
        except IntegrityError:
            pass  # another transaction created it first
        head = session.scalars(query.execution_options(populate_existing=True)).one()
    return head


@event.listens_for(Session, "before_commit")
def _append_pending_events(session: Session) -> None:
    pending: list[AuditEvent] = session.info.pop(_PENDING, [])
    if not pending:
        return
    session.flush()  # the rows the events point at exist before the head is locked
    head = _locked_head(session)
    rows = []
    for audit_event in pending:
        audit_event.seq = head.seq + 1
        audit_event.prev_hash = head.hash
        if audit_event.occurred_at is None:
            audit_event.occurred_at = utcnow()
        audit_event.hash = event_hash(audit_event)
        head.seq, head.hash = audit_event.seq, audit_event.hash
        rows.append({column: getattr(audit_event, column) for column in _EVENT_COLUMNS})
    # Written as plain rows in one executemany: events are never changed after this, so the
    # unit of work's bookkeeping for them would be pure cost (a launch writes thousands).
    session.execute(insert(AuditEvent.__table__), rows)
    session.flush()


@event.listens_for(Session, "after_soft_rollback")
def _drop_pending_events(session: Session, previous_transaction: Any) -> None:
    session.info.pop(_PENDING, None)


def case_timeline(case_id: int) -> list[AuditEvent]:
    return list(
        db.session.scalars(
            select(AuditEvent).where(AuditEvent.case_id == case_id).order_by(AuditEvent.seq)
        )
    )


@dataclass(frozen=True)
class ChainVerification:
    ok: bool
    events_checked: int
    first_bad_event_id: int | None = None
    problem: str | None = None


def verify_chain(batch_size: int = 2000) -> ChainVerification:
    """Walk the whole chain in order, streaming, and stop at the first broken link."""
    query = select(AuditEvent).order_by(AuditEvent.seq).execution_options(yield_per=batch_size)
    with closing(db.session.scalars(query)) as rows:  # a server-side cursor on PostgreSQL
        broken, checked, prev_hash = _first_broken_link(rows)
    if broken is not None:
        return broken
    head = db.session.get(AuditChainHead, 1)
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS_HASH)
    if head_seq != checked or head_hash != prev_hash:
        problem = (f"the chain head records {head_seq} events but {checked} were found: "
                   "events were deleted from the end")
        return ChainVerification(False, checked, None, problem)
    return ChainVerification(True, checked)


def _first_broken_link(
    rows: Iterator[AuditEvent],
) -> tuple[ChainVerification | None, int, str]:
    expected_seq, prev_hash, checked = 1, GENESIS_HASH, 0
    for audit_event in rows:
        problem = None
        if audit_event.seq != expected_seq:
            problem = (f"expected event #{expected_seq} of the chain but found #{audit_event.seq}:"
                       " events before it were deleted or reordered")
        elif audit_event.prev_hash != prev_hash:
            problem = "its link to the previous event does not match: an event was removed or moved"
        elif event_hash(audit_event) != audit_event.hash:
            problem = "its content does not match its hash: the event was edited"
        if problem:
            return ChainVerification(False, checked, audit_event.id, problem), checked, prev_hash
        prev_hash, expected_seq, checked = audit_event.hash, expected_seq + 1, checked + 1
    return None, checked, prev_hash


def chain_head() -> tuple[int, str]:
    """Publish this (e.g. daily, outside the database) to anchor the chain against rewrites."""
    head = db.session.get(AuditChainHead, 1)
    return (head.seq, head.hash) if head else (0, GENESIS_HASH)


@dataclass(frozen=True)
class AuditFilter:
    case_id: int | None = None
    username: str | None = None
    unit_id: int | None = None
    since: date | None = None
    until: date | None = None


# Events about a cycle record its id as details["cycle"] (calibration events use that key for the
# cycle's key, a string: they are matched by their "unit" instead).
_CYCLE_EVENTS = (AuditEventType.CYCLE_CREATED, AuditEventType.CYCLE_UPDATED,
                 AuditEventType.CYCLE_LAUNCH_STARTED, AuditEventType.CYCLE_LAUNCHED)


def _units_below_and_above(unit_id: int) -> tuple[set[int], set[int]]:
    """The unit with every unit below it; and the units above it (a cycle scoped to one of
    them covers it). One read of the org tree."""
    rows = db.session.execute(select(OrgUnit.id, OrgUnit.parent_id)).all()
    parents: dict[int, int | None] = {uid: parent for uid, parent in rows}
    children: dict[int | None, list[int]] = {}
    for uid, parent in parents.items():
        children.setdefault(parent, []).append(uid)
    below: set[int] = set()
    stack = [unit_id]
    while stack:
        current = stack.pop()
        if current not in below:
            below.add(current)
            stack.extend(children.get(current, []))
    above: set[int] = set()
    up = parents.get(unit_id)
    while up is not None and up not in above:
        above.add(up)
        up = parents.get(up)
    return below, above


def _user_condition(username: str) -> ColumnElement[bool]:
    """The user acted, or someone acted on their behalf (a delegate, HR declaring their
    absence); or, with nobody signed in, the event names them (a failed sign-in, a lockout)."""
    user_id = select(User.id).where(User.username == username).scalar_subquery()
    return or_(
        AuditEvent.actor_id == user_id,
        AuditEvent.on_behalf_of_id == user_id,
        and_(AuditEvent.actor_id.is_(None),
             AuditEvent.details["username"].as_string() == username),
    )


def _unit_condition(unit_id: int) -> ColumnElement[bool]:
    """Events about the unit or any unit below it.

    - An event of a case: the case's subject employee works in those units (only that: the
      officer who acted on it may work elsewhere).
    - An event without a case (sign-ins, absences, org data, cycles, deployments…):
      its actor, or the user it was done on behalf of, is an employee of those units; or its
      details name such an employee (details["employee"]: employee number, org import), such a
      user (details["user"], details["delegate"]: absences; details["username"]: sign-ins,
      passwords, lockouts), one of the units (details["unit"]: org import, calibration; an
      employee moved into or out of them: details["changes"]["unit_code"]), or a cycle whose
      scope covers one of them (details["cycle"] of cycle events, scoped to one of the units or
      to a unit above).

    One SQL condition: the units are computed first (one read of the org tree, a few hundred
    rows), everything else is subqueries; no event is looked at in Python.
    """
    units, above = _units_below_and_above(unit_id)
    covering = units | above
    cases_in_units = (
        select(Case.id)
        .join(Employee, Case.subject_employee_id == Employee.id)
        .where(Employee.org_unit_id.in_(units))
    )
    user_ids = select(Employee.user_id).where(Employee.org_unit_id.in_(units),
                                              Employee.user_id.is_not(None))
    usernames = (select(User.username).join(Employee, Employee.user_id == User.id)
                 .where(Employee.org_unit_id.in_(units)))
    numbers = select(Employee.employee_number).where(Employee.org_unit_id.in_(units))
    codes = select(OrgUnit.code).where(OrgUnit.id.in_(units))
    cycle_ids = (select(cast(cycle_org_units.c.cycle_id, String))
                 .where(cycle_org_units.c.org_unit_id.in_(covering)))
    details = AuditEvent.details
    return or_(
        AuditEvent.case_id.in_(cases_in_units),
        and_(
            AuditEvent.case_id.is_(None),
            or_(
                AuditEvent.actor_id.in_(user_ids),
                AuditEvent.on_behalf_of_id.in_(user_ids),
                details["employee"].as_string().in_(numbers),
                details["user"].as_string().in_(usernames),
                details["delegate"].as_string().in_(usernames),
                details["username"].as_string().in_(usernames),
                details["unit"].as_string().in_(codes),
                details[("changes", "unit_code", "before")].as_string().in_(codes),
                details[("changes", "unit_code", "after")].as_string().in_(codes),
                and_(AuditEvent.event_type.in_(_CYCLE_EVENTS),
                     details["cycle"].as_string().in_(cycle_ids)),
            ),
        ),
    )


def _filtered(criteria: AuditFilter):  # noqa: ANN202
    """One query for the events matching every given criterion, in chain order. `username`:
    see `_user_condition`; `unit_id`: see `_unit_condition`; `since`/`until`: whole UTC days,
    both included."""
    query = select(AuditEvent).order_by(AuditEvent.seq)
    if criteria.case_id is not None:
        query = query.where(AuditEvent.case_id == criteria.case_id)
    if criteria.username:
        query = query.where(_user_condition(criteria.username))
    if criteria.unit_id is not None:
        query = query.where(_unit_condition(criteria.unit_id))
    if criteria.since is not None:
        query = query.where(AuditEvent.occurred_at >= datetime.combine(criteria.since, time.min,
                                                                        tzinfo=UTC))
    if criteria.until is not None:
        query = query.where(AuditEvent.occurred_at <= datetime.combine(criteria.until, time.max,
                                                                        tzinfo=UTC))
    return query


def find_events(criteria: AuditFilter, limit: int = 100, offset: int = 0) -> list[AuditEvent]:
    return list(db.session.scalars(_filtered(criteria).limit(limit).offset(offset)))


EXPORT_FIELDS = ["seq", "id", "occurred_at", "event_type", "actor", "on_behalf_of", "case_id",
                 "task_id", "details", "prev_hash", "hash"]


def _export_row(audit_event: AuditEvent, usernames: dict[int, str]) -> dict[str, Any]:
    return {
        "seq": audit_event.seq,
        "id": audit_event.id,
        "occurred_at": _utc_iso(audit_event.occurred_at),
        "event_type": str(audit_event.event_type),
        "actor": usernames.get(audit_event.actor_id) if audit_event.actor_id else None,
        "on_behalf_of": usernames.get(audit_event.on_behalf_of_id)
        if audit_event.on_behalf_of_id else None,
        "case_id": audit_event.case_id,
        "task_id": audit_event.human_task_id,
        "details": audit_event.details,
        "prev_hash": audit_event.prev_hash,
        "hash": audit_event.hash,
    }


def export_rows(criteria: AuditFilter) -> Iterator[dict[str, Any]]:
    usernames = {user_id: name for user_id, name in db.session.execute(
        select(User.id, User.username))}
    query = _filtered(criteria).execution_options(yield_per=2000)
    with closing(db.session.scalars(query)) as rows:
        for audit_event in rows:
            yield _export_row(audit_event, usernames)


def export_csv(criteria: AuditFilter) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_FIELDS)
    writer.writeheader()
    for row in export_rows(criteria):
        writer.writerow({**row, "details": json.dumps(row["details"], sort_keys=True)})
        if buffer.tell() > 64_000:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def export_json_lines(criteria: AuditFilter) -> Iterator[str]:
    for row in export_rows(criteria):
        yield json.dumps(row, sort_keys=True) + "\n"
