"""Importing org data (employees, their units and officers) from a CSV file.

The rule: **a file is imported whole or not at all.** Every row is validated first, against the
database and against the other rows (an officer may be defined further down the same file); if
any row is rejected, nothing is written and the report lists every rejected row with its row
number and reasons, so HR fixes the file and uploads it again. A file without rejected rows is
imported in one transaction. Importing is idempotent: an employee number already known updates
that employee, and a second import of the same file changes nothing.

Why not import the valid rows and skip the rest: org data is a graph. A skipped row can be an
officer other rows point to, and a half-applied file (a transfer imported, the new reporting
officer not) routes appraisals to the wrong people. Fixing the file is cheap; untangling a
partial import is not.

Columns (header names, any order, case and spaces ignored):
employee_number, name, grade, base_pay, unit_code, reporting_officer, countersigning_officer,
email — required (the two officer columns may be left empty for the top of a hierarchy) —
and optionally designation and create_login (yes/no). An officer is named by employee number.
A login created by an import has the employee number as username and no usable password until an
administrator sets one (`flask set-password`).
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select

from app.extensions import db
from app.i18n import N_
from app.models import AuditEventType, Employee, OrgUnit, Role, User
from app.services import audit, reporting
from app.services.access import is_admin, is_hr_or_admin
from app.services.errors import PermissionDenied
from app.services.org import descendant_unit_ids
from app.services.transaction import unit_of_work

REQUIRED_COLUMNS = ("employee_number", "name", "grade", "base_pay", "unit_code",
                    "reporting_officer", "countersigning_officer", "email")
OPTIONAL_COLUMNS = ("designation", "create_login")
MAX_ROWS = 250_000
MIN_GRADE, MAX_GRADE = 1, 22  # Basic Pay Scales
MAX_BASE_PAY = Decimal("9999999999.99")  # Numeric(12, 2)
UNUSABLE_PASSWORD_HASH = "!imported: no password set"  # noqa: S105 - matches no password
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_YES = {"yes", "y", "true", "1"}
_NO = {"no", "n", "false", "0", ""}
_CHUNK = 900  # ids per IN (...) list


@dataclass(frozen=True)
class RejectedRow:
    row: int  # the line in the file; the header is row 1
    employee_number: str
    reasons: list[str]


@dataclass
class ImportReport:
    source_name: str
    rows: int = 0
    file_problems: list[str] = field(default_factory=list)
    rejected: list[RejectedRow] = field(default_factory=list)
    imported: bool = False
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    logins_created: int = 0

    @property
    def ok(self) -> bool:
        return not self.file_problems and not self.rejected


@dataclass
class _Row:
    line: int
    number: str
    name: str
    grade: int | None
    base_pay: Decimal | None
    unit_code: str
    reporting: str
    countersigning: str
    email: str
    designation: str | None
    create_login: bool
    reasons: list[str] = field(default_factory=list)


def _header_key(name: str) -> str:
    return re.sub(r"\s+", "_", (name or "").strip().lower())


def _decode(data: bytes | str) -> str:
    if isinstance(data, str):
        return data.removeprefix("\ufeff")
    return data.decode("utf-8-sig")  # spreadsheets often write a byte-order mark


def _parse_row(line: int, raw: dict[str, str]) -> _Row:
    def value(column: str) -> str:
        return (raw.get(column) or "").strip()

    reasons: list[str] = []
    number = value("employee_number")
    if not number:
        reasons.append("employee_number is missing")
    elif len(number) > 40 or any(ch.isspace() for ch in number):
        reasons.append("employee_number must be at most 40 characters without spaces")
    name = value("name")
    if not name:
        reasons.append("name is missing")
    elif len(name) > 200:
        reasons.append("name is longer than 200 characters")
    grade: int | None = None
    if not value("grade"):
        reasons.append("grade is missing")
    else:
        try:
            grade = int(value("grade"))
        except ValueError:
            reasons.append(f"grade {value('grade')!r} is not a whole number")
        else:
            if not MIN_GRADE <= grade <= MAX_GRADE:
                reasons.append(f"grade {grade} is outside BPS {MIN_GRADE}-{MAX_GRADE}")
    base_pay: Decimal | None = None
    pay_text = value("base_pay").replace(",", "")
    if not pay_text:
        reasons.append("base_pay is missing")
    else:
        try:
            base_pay = Decimal(pay_text)
        except InvalidOperation:
            reasons.append(f"base_pay {value('base_pay')!r} is not a number")
        else:
            if not base_pay.is_finite() or base_pay <= 0:
                reasons.append(f"base_pay {value('base_pay')!r} must be a positive amount")
            elif base_pay != base_pay.quantize(Decimal("0.01")):
                reasons.append(f"base_pay {value('base_pay')!r} has more than two decimals")
            elif base_pay > MAX_BASE_PAY:
                reasons.append(f"base_pay {value('base_pay')!r} is too large")
            else:
                base_pay = base_pay.quantize(Decimal("0.01"))
    unit_code = value("unit_code")
    if not unit_code:
        reasons.append("unit_code is missing")
    email = value("email")
    if not email:
        reasons.append("email is missing")
    elif len(email) > 254 or not _EMAIL.match(email):
        reasons.append(f"email {email!r} is not an e-mail address")
    designation = value("designation") or None
    if designation is not None and len(designation) > 200:
        reasons.append("designation is longer than 200 characters")
    login_text = value("create_login").lower()
    if login_text not in _YES | _NO:
        reasons.append(f"create_login {value('create_login')!r} must be yes or no")
    return _Row(
        line=line, number=number, name=name, grade=grade, base_pay=base_pay,
        unit_code=unit_code, reporting=value("reporting_officer"),
        countersigning=value("countersigning_officer"), email=email, designation=designation,
        create_login=login_text in _YES, reasons=reasons,
    )


def _chunks(values: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start:start + _CHUNK]


def _existing_employees(numbers: Iterable[str]) -> dict[str, Employee]:
    found: dict[str, Employee] = {}
    for chunk in _chunks(sorted(set(numbers))):
        for employee in db.session.scalars(
            select(Employee).where(Employee.employee_number.in_(chunk))
        ):
            found[employee.employee_number] = employee
    return found


def _taken_usernames(names: Iterable[str]) -> dict[str, int]:
    taken: dict[str, int] = {}
    for chunk in _chunks(sorted(set(names))):
        for user_id, username in db.session.execute(
            select(User.id, User.username).where(User.username.in_(chunk))
        ):
            taken[username] = user_id
    return taken


def _validate(user: User, rows: list[_Row]) -> dict[str, Employee]:
    """Add every cross-row and database reason to the rows; return the employees (file rows
    and officers) that already exist, by number."""
    lines_of: dict[str, list[int]] = {}
    for row in rows:
        if row.number:
            lines_of.setdefault(row.number, []).append(row.line)
    in_file = set(lines_of)
    officers = {n for row in rows for n in (row.reporting, row.countersigning) if n}
    existing = _existing_employees(in_file | officers)
    units = {u.code: u for u in db.session.scalars(select(OrgUnit))}
    admin = is_admin(user)
    scope = _hr_scope(user)
    hr_units = {code: unit for code, unit in units.items() if admin or unit.id in scope}
    unit_code_of = {unit.id: unit.code for unit in units.values()}
    taken = _taken_usernames(row.number for row in rows if row.create_login and row.number)

    for row in rows:
        if row.number and len(lines_of[row.number]) > 1:
            others = ", ".join(str(n) for n in lines_of[row.number] if n != row.line)
            row.reasons.append(f"employee number {row.number} also appears on row(s) {others}")
        if row.unit_code and row.unit_code not in units:
            row.reasons.append(f"unknown unit {row.unit_code!r}")
        elif row.unit_code and row.unit_code not in hr_units:
            row.reasons.append(f"unit {row.unit_code} is outside your HR scope")
        current = existing.get(row.number)
        if current is not None and not admin and unit_code_of.get(current.org_unit_id) not in \
                hr_units:
            row.reasons.append(f"{row.number} belongs to unit "
                               f"{unit_code_of.get(current.org_unit_id)}, outside your HR scope")
        for label, officer in (("reporting officer", row.reporting),
                               ("countersigning officer", row.countersigning)):
            if not officer:
                continue
            if officer == row.number:
                row.reasons.append(f"an employee cannot be their own {label}")
            elif officer not in in_file and officer not in existing:
                row.reasons.append(f"unknown {label} {officer!r}: not in this file nor in "
                                   "the org data")
        if row.reporting and row.reporting == row.countersigning:
            row.reasons.append("the reporting and countersigning officers must be different "
                               "people")
        if row.create_login and row.number in taken and (
            current is None or current.user_id != taken[row.number]
        ):
            row.reasons.append(f"a login named {row.number} already belongs to someone else")
    return existing


def _hr_scope(user: User) -> set[int]:
    """Every unit where the user holds HR (a role at a unit covers the units below it)."""
    scope: set[int] = set()
    for held in user.roles:
        if held.role != Role.HR:
            continue
        if held.org_unit_id is None:
            return {unit_id for (unit_id,) in db.session.execute(select(OrgUnit.id))}
        scope |= descendant_unit_ids(held.org_unit_id)
    return scope


def _fields(row: _Row) -> dict[str, Any]:
    return {
        "full_name": row.name,
        "designation": row.designation,
        "grade": row.grade,
        "base_pay": row.base_pay,
        "email": row.email,
    }


def _comparable(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) else value


def may_import(user: User) -> bool:
    """HR (of some unit: each row is checked against their scope) or an administrator."""
    return is_hr_or_admin(user)


def import_org_csv(
    user: User, data: bytes | str, source_name: str = "org.csv", *, dry_run: bool = False
) -> ImportReport:
    """Validate a whole file and, if no row is rejected (and not `dry_run`), import it in one
    transaction. Only HR (for the units the rows name and the employees they update) or admins."""
    if not may_import(user):
        raise PermissionDenied(N_("Only HR or an administrator may import org data."))
    report = ImportReport(source_name=source_name)
    try:
        text = _decode(data)
    except UnicodeDecodeError:
        report.file_problems.append("The file is not UTF-8 text. Save it as CSV UTF-8.")
        return report
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [_header_key(name) for name in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    unknown = [c for c in header if c not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
    if missing:
        report.file_problems.append(f"Missing columns: {', '.join(missing)}.")
    if unknown:
        report.file_problems.append(
            f"Unknown columns: {', '.join(unknown) or '(blank)'}; the columns are "
            f"{', '.join(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)}.")
    if len(set(header)) != len(header):
        report.file_problems.append("A column appears twice in the header.")
    if report.file_problems:
        return report
    reader.fieldnames = header
    rows: list[_Row] = []
    try:
        for raw in reader:
            if None in raw:  # more cells than header columns
                line = reader.line_num
                rows.append(_parse_row(line, raw))
                rows[-1].reasons.append("the row has more cells than the header")
                continue
            if not any((v or "").strip() for v in raw.values()):
                continue  # blank line
            rows.append(_parse_row(reader.line_num, raw))
            if len(rows) > MAX_ROWS:
                report.file_problems.append(f"The file has more than {MAX_ROWS} rows.")
                return report
    except csv.Error as exc:
        report.file_problems.append(f"The file is not valid CSV (line {reader.line_num}): {exc}")
        return report
    report.rows = len(rows)
    if not rows:
        report.file_problems.append("The file has no rows.")
        return report
    existing = _validate(user, rows)
    report.rejected = [RejectedRow(r.line, r.number, r.reasons) for r in rows if r.reasons]
    if not report.ok or dry_run:
        return report
    _write(user, rows, existing, report, hashlib.sha256(text.encode("utf-8")).hexdigest())
    return report


def _write(user: User, rows: list[_Row], existing: dict[str, Employee], report: ImportReport,
           digest: str) -> None:
    units = {u.code: u for u in db.session.scalars(select(OrgUnit))}
    unit_code_of = {unit.id: code for code, unit in units.items()}
    number_of = _numbers_of_current_officers(existing)
    with unit_of_work():
        new_employees: list[tuple[_Row, Employee]] = []
        updates: list[tuple[_Row, Employee, dict[str, Any]]] = []
        for row in rows:
            employee = existing.get(row.number)
            if employee is None:
                employee = Employee(employee_number=row.number, org_unit_id=units[row.unit_code].id,
                                    **_fields(row))
                db.session.add(employee)
                new_employees.append((row, employee))
                continue
            before = {
                **{k: _comparable(getattr(employee, k)) for k in _fields(row)},
                "unit_code": unit_code_of[employee.org_unit_id],
                "reporting_officer": number_of.get(employee.reporting_officer_id),
                "countersigning_officer": number_of.get(employee.countersigning_officer_id),
            }
            for key, value in _fields(row).items():
                setattr(employee, key, value)
            employee.org_unit_id = units[row.unit_code].id
            updates.append((row, employee, before))
        db.session.flush()
        ids = {e.employee_number: e.id for e in existing.values()}
        ids.update({e.employee_number: e.id for _, e in new_employees})
        for row, employee in [*new_employees, *[(r, e) for r, e, _ in updates]]:
            employee.reporting_officer_id = ids[row.reporting] if row.reporting else None
            employee.countersigning_officer_id = (
                ids[row.countersigning] if row.countersigning else None)
        logins = _create_logins(
            [(row, employee) for row, employee in new_employees if row.create_login]
            + [(row, employee) for row, employee, _ in updates
               if row.create_login and employee.user_id is None])
        db.session.flush()
        report.logins_created = len(logins)
        for row, employee in new_employees:
            report.created += 1
            audit.record(AuditEventType.EMPLOYEE_CREATED, actor=user, details={
                "employee": row.number, "unit": row.unit_code,
                "reporting_officer": row.reporting or None,
                "countersigning_officer": row.countersigning or None,
                "login": employee.id in logins, "source": report.source_name,
            })
        for row, employee, before in updates:
            after = {
                **{k: _comparable(v) for k, v in _fields(row).items()},
                "unit_code": row.unit_code,
                "reporting_officer": row.reporting or None,
                "countersigning_officer": row.countersigning or None,
            }
            changes = {k: {"before": before[k], "after": v}
                       for k, v in after.items() if before[k] != v}
            if employee.id in logins:
                changes["login"] = {"before": None, "after": row.number}
            if not changes:
                report.unchanged += 1
                continue
            report.updated += 1
            audit.record(AuditEventType.EMPLOYEE_UPDATED, actor=user, details={
                "employee": row.number, "changes": changes, "source": report.source_name})
        moved = [employee.id for row, employee, before in updates
                 if before["unit_code"] != row.unit_code]
        if moved:  # their cases now count for the new unit on the dashboards
            reporting.sync_units(moved if len(moved) <= 5000 else None)
        audit.record(AuditEventType.ORG_DATA_IMPORTED, actor=user, details={
            "source": report.source_name, "sha256": digest, "rows": report.rows,
            "created": report.created, "updated": report.updated,
            "unchanged": report.unchanged, "logins_created": report.logins_created,
        })
        report.imported = True


def _numbers_of_current_officers(existing: dict[str, Employee]) -> dict[int, str]:
    """Employee id -> number for the known employees and everyone now their officer."""
    number_of = {e.id: e.employee_number for e in existing.values()}
    missing = sorted({
        officer_id for e in existing.values()
        for officer_id in (e.reporting_officer_id, e.countersigning_officer_id)
        if officer_id is not None and officer_id not in number_of
    })
    for start in range(0, len(missing), _CHUNK):
        for employee_id, number in db.session.execute(
            select(Employee.id, Employee.employee_number)
            .where(Employee.id.in_(missing[start:start + _CHUNK]))
        ):
            number_of[employee_id] = number
    return number_of


def _create_logins(people: list[tuple[_Row, Employee]]) -> set[int]:
    """A login per employee, named by employee number, with no usable password yet."""
    created: set[int] = set()
    users = []
    for row, employee in people:
        login = User(username=row.number, full_name=row.name, email=row.email,
                     password_hash=UNUSABLE_PASSWORD_HASH)
        users.append((employee, login))
        db.session.add(login)
    db.session.flush()
    for employee, login in users:
        employee.user_id = login.id
        created.add(employee.id)
    return created
