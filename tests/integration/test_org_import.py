"""Org data import from CSV: every row validated, a report of rejected rows, and a file imported
whole or not at all."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, AuditEventType, Employee, User
from app.services import audit, org_import
from app.services.errors import PermissionDenied
from tests.conftest import employee_of
from tests.org_factory import add_unit, employee

DATA = Path(__file__).resolve().parents[1] / "data" / "org_import"
HEADER = ["employee_number", "name", "grade", "base_pay", "unit_code", "reporting_officer",
          "countersigning_officer", "email", "designation", "create_login"]


def row(**overrides: str) -> dict[str, str]:
    values = {"employee_number": "PSH-00100", "name": "Nasir Iqbal", "grade": "16",
              "base_pay": "95000", "unit_code": "KP-HEALTH-PSH", "reporting_officer": "KP-00002",
              "countersigning_officer": "KP-00001", "email": "nasir@health.kp.example",
              "designation": "Vaccinator", "create_login": "yes"}
    values.update(overrides)
    return values


def csv_text(*rows: dict[str, str], header: list[str] = HEADER) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _import(user: User, text: str | bytes, **kwargs: Any) -> org_import.ImportReport:
    return org_import.import_org_csv(user, text, "test.csv", **kwargs)


def _reasons(report: org_import.ImportReport) -> dict[int, list[str]]:
    return {r.row: r.reasons for r in report.rejected}


def _employees() -> int:
    return db.session.scalar(select(func.count(Employee.id)))


# --- a valid file -----------------------------------------------------------------------------


def test_a_valid_file_is_imported_with_its_officers_even_those_defined_further_down(org) -> None:
    report = _import(org["hr1"], (DATA / "valid_department.csv").read_bytes())
    assert report.ok and report.imported
    assert (report.rows, report.created, report.updated, report.logins_created) == (4, 3, 1, 3)
    zainab = employee("PSH-00010")
    assert zainab.reporting_officer.employee_number == "PSH-00012"  # defined on a later row
    assert zainab.countersigning_officer.employee_number == "KP-00001"
    assert zainab.org_unit.code == "KP-HEALTH-PSH" and zainab.grade == 16
    assert employee("PSH-00011").base_pay == Decimal("121500.50")
    assert zainab.user.username == "PSH-00010" and zainab.user.email == zainab.email


def test_an_imported_login_has_no_usable_password_until_one_is_set(app, org) -> None:
    _import(org["hr1"], (DATA / "valid_department.csv").read_bytes())
    login = employee("PSH-00010").user
    assert not login.check_password("") and not login.check_password("PSH-00010")
    result = app.test_cli_runner().invoke(args=["set-password", "PSH-00010"],
                                          input="a-long-password\na-long-password\n")
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert employee("PSH-00010").user.check_password("a-long-password")
    assert db.session.scalar(select(AuditEvent).where(
        AuditEvent.event_type == AuditEventType.USER_PASSWORD_SET)).details == {
        "username": "PSH-00010"}


def test_an_import_updates_existing_employees_by_number_and_audits_what_changed(org) -> None:
    _import(org["hr1"], (DATA / "valid_department.csv").read_bytes())
    ayesha = employee("KP-00003")
    assert (ayesha.grade, ayesha.base_pay, ayesha.designation) == (
        18, Decimal("150000.00"), "District Health Officer (acting)")
    assert ayesha.user.username == "emp1"  # her login is kept
    updated = db.session.scalar(select(AuditEvent).where(
        AuditEvent.event_type == AuditEventType.EMPLOYEE_UPDATED))
    assert updated.actor_id == org["hr1"].id
    assert updated.details["employee"] == "KP-00003"
    assert updated.details["changes"] == {
        "designation": {"before": "Deputy District Health Officer",
                        "after": "District Health Officer (acting)"},
        "grade": {"before": 17, "after": 18},
        "base_pay": {"before": "142000.00", "after": "150000.00"},
    }


def test_an_import_is_audited_with_its_counts_and_the_files_hash(org) -> None:
    data = (DATA / "valid_department.csv").read_bytes()
    _import(org["hr1"], data)
    imported = db.session.scalar(select(AuditEvent).where(
        AuditEvent.event_type == AuditEventType.ORG_DATA_IMPORTED))
    assert imported.details["created"] == 3 and imported.details["updated"] == 1
    assert len(imported.details["sha256"]) == 64
    created = db.session.scalars(select(AuditEvent).where(
        AuditEvent.event_type == AuditEventType.EMPLOYEE_CREATED)).all()
    assert sorted(e.details["employee"] for e in created) == ["PSH-00010", "PSH-00011",
                                                              "PSH-00012"]


def test_importing_the_same_file_again_changes_nothing(org) -> None:
    data = (DATA / "valid_department.csv").read_bytes()
    _import(org["hr1"], data)
    before = _employees()
    again = _import(org["hr1"], data)
    assert (again.created, again.updated, again.unchanged, again.logins_created) == (0, 0, 4, 0)
    assert _employees() == before


def test_a_dry_run_validates_and_imports_nothing(org) -> None:
    before = _employees()
    report = _import(org["hr1"], (DATA / "valid_department.csv").read_bytes(), dry_run=True)
    assert report.ok and not report.imported
    assert _employees() == before


def test_a_spreadsheets_byte_order_mark_and_header_spelling_are_accepted(org) -> None:
    text = csv_text(row(), header=HEADER).replace("employee_number", "Employee Number", 1)
    report = _import(org["hr1"], "\ufeff".encode() + text.encode("utf-8"))
    assert report.imported, report


# --- rejected rows: nothing imported, every reason reported -----------------------------------


def test_a_file_with_any_rejected_row_imports_nothing_and_reports_each_row(org) -> None:
    before = _employees()
    report = _import(org["hr1"], (DATA / "rejected_rows.csv").read_bytes())
    assert not report.imported and report.rows == 9
    assert _employees() == before
    assert db.session.scalar(select(Employee).where(
        Employee.employee_number == "PSH-00020")) is None  # the valid row was not imported
    reasons = _reasons(report)
    assert sorted(reasons) == [3, 4, 5, 6, 7, 8, 9, 10]
    assert reasons[3] == ["name is missing"]
    assert reasons[4] == ["unknown unit 'KP-NOWHERE'"]
    assert reasons[5] == ["unknown reporting officer 'KP-99999': not in this file nor in the "
                          "org data"]
    assert reasons[6] == ["an employee cannot be their own reporting officer"]
    assert reasons[7] == ["the reporting and countersigning officers must be different people"]
    assert reasons[8] == ["employee number PSH-00026 also appears on row(s) 9"]
    assert reasons[9] == ["employee number PSH-00026 also appears on row(s) 8"]
    assert reasons[10] == ["base_pay 'lots' is not a number"]


@pytest.mark.parametrize("column", ["employee_number", "name", "grade", "base_pay", "unit_code",
                                    "email"])
def test_a_required_field_left_empty_rejects_the_row(org, column: str) -> None:
    report = _import(org["hr1"], csv_text(row(**{column: ""})))
    assert f"{column} is missing" in _reasons(report)[2]
    assert not report.imported


def test_officers_may_be_left_empty_at_the_top_of_a_hierarchy(org) -> None:
    report = _import(org["hr1"], csv_text(row(reporting_officer="", countersigning_officer="")))
    assert report.imported
    assert employee("PSH-00100").reporting_officer is None


def test_an_officer_defined_further_down_the_same_file_is_known(org) -> None:
    report = _import(org["hr1"], csv_text(
        row(reporting_officer="PSH-00200"),
        row(employee_number="PSH-00200", email="boss@health.kp.example"),
    ))
    assert report.imported
    assert employee("PSH-00100").reporting_officer.employee_number == "PSH-00200"


def test_an_unknown_countersigning_officer_rejects_the_row(org) -> None:
    report = _import(org["hr1"], csv_text(row(countersigning_officer="NOBODY")))
    assert _reasons(report)[2] == ["unknown countersigning officer 'NOBODY': not in this file "
                                   "nor in the org data"]


def test_self_countersigning_rejects_the_row(org) -> None:
    report = _import(org["hr1"], csv_text(row(countersigning_officer="PSH-00100")))
    assert "an employee cannot be their own countersigning officer" in _reasons(report)[2]


@pytest.mark.parametrize("pay,reason", [
    ("-5", "must be a positive amount"),
    ("0", "must be a positive amount"),
    ("1.234", "more than two decimals"),
    ("abc", "is not a number"),
    ("1e20", "is too large"),
    ("NaN", "must be a positive amount"),
])
def test_bad_base_pay_rejects_the_row(org, pay: str, reason: str) -> None:
    assert reason in _reasons(_import(org["hr1"], csv_text(row(base_pay=pay))))[2][0]


@pytest.mark.parametrize("grade,reason", [("0", "outside BPS 1-22"), ("23", "outside BPS 1-22"),
                                          ("seventeen", "is not a whole number")])
def test_a_grade_outside_the_basic_pay_scales_rejects_the_row(org, grade: str, reason) -> None:
    assert reason in _reasons(_import(org["hr1"], csv_text(row(grade=grade))))[2][0]


def test_a_malformed_email_rejects_the_row(org) -> None:
    assert "is not an e-mail address" in _reasons(_import(
        org["hr1"], csv_text(row(email="nasir.health"))))[2][0]


def test_create_login_must_be_yes_or_no(org) -> None:
    assert "must be yes or no" in _reasons(_import(
        org["hr1"], csv_text(row(create_login="maybe"))))[2][0]


def test_a_login_name_already_taken_by_someone_else_rejects_the_row(org) -> None:
    db.session.add(User(username="PSH-00100", full_name="Someone else", password_hash="!"))
    db.session.commit()
    report = _import(org["hr1"], csv_text(row()))
    assert "a login named PSH-00100 already belongs to someone else" in _reasons(report)[2]


def test_a_row_with_more_cells_than_the_header_is_rejected(org) -> None:
    text = csv_text(row()).rstrip("\r\n") + ",surplus\r\n"
    assert "more cells than the header" in _reasons(_import(org["hr1"], text))[2][-1]


@pytest.mark.parametrize("text,problem", [
    ("employee_number,name\nX,Y\n", "Missing columns: grade, base_pay"),
    (csv_text(row(), header=[*HEADER, "salary"]).replace(",yes\r", ",yes,1\r"),
     "Unknown columns: salary"),
    ("", "Missing columns"),
    (",".join(HEADER) + "\n", "The file has no rows."),
])
def test_a_file_with_the_wrong_columns_or_no_rows_is_rejected(org, text: str, problem) -> None:
    report = _import(org["hr1"], text)
    assert not report.imported and problem in " ".join(report.file_problems)


def test_a_file_that_is_not_utf8_is_rejected(org) -> None:
    report = _import(org["hr1"], csv_text(row(name="Nasir Iqbal")).encode("utf-16"))
    assert report.file_problems == ["The file is not UTF-8 text. Save it as CSV UTF-8."]


# --- nothing half-imported --------------------------------------------------------------------


def test_a_failure_while_writing_leaves_nothing_half_imported(org, monkeypatch) -> None:
    before_employees = _employees()
    before_users = db.session.scalar(select(func.count(User.id)))
    real_record = audit.record

    def fail_at_the_end(event_type, **kwargs):  # noqa: ANN001, ANN003, ANN202
        if event_type == AuditEventType.ORG_DATA_IMPORTED:
            raise RuntimeError("disk full")
        return real_record(event_type, **kwargs)

    monkeypatch.setattr(audit, "record", fail_at_the_end)
    with pytest.raises(RuntimeError):
        _import(org["hr1"], (DATA / "valid_department.csv").read_bytes())
    db.session.expire_all()
    assert _employees() == before_employees
    assert db.session.scalar(select(func.count(User.id))) == before_users
    assert employee("KP-00003").grade == 17
    assert db.session.scalar(select(func.count(AuditEvent.id)).where(
        AuditEvent.event_type == AuditEventType.EMPLOYEE_CREATED)) == 0


# --- who may import what ----------------------------------------------------------------------


@pytest.mark.parametrize("username", ["emp1", "ro1", "fin1", "owner1"])
def test_only_hr_or_an_admin_may_import(org, username: str) -> None:
    with pytest.raises(PermissionDenied):
        _import(org[username], csv_text(row()))


def test_hr_cannot_import_people_into_a_unit_outside_their_scope(org) -> None:
    add_unit("KP-EDU", "Elementary & Secondary Education", parent_code=None)
    report = _import(org["hr1"], csv_text(row(unit_code="KP-EDU")))
    assert _reasons(report)[2] == ["unit KP-EDU is outside your HR scope"]
    assert _import(org["admin"], csv_text(row(unit_code="KP-EDU"))).imported


def test_hr_cannot_take_over_an_employee_of_a_unit_outside_their_scope(org) -> None:
    add_unit("KP-EDU", "Elementary & Secondary Education", parent_code=None)
    _import(org["admin"], csv_text(row(unit_code="KP-EDU", reporting_officer="",
                                       countersigning_officer="")))
    report = _import(org["hr1"], csv_text(row()))
    assert _reasons(report)[2] == ["PSH-00100 belongs to unit KP-EDU, outside your HR scope"]
    assert employee("PSH-00100").org_unit.code == "KP-EDU"


# --- the CLI ----------------------------------------------------------------------------------


def test_the_import_command_prints_rejected_rows_and_fails(app, org) -> None:
    result = app.test_cli_runner().invoke(args=[
        "import-org", str(DATA / "rejected_rows.csv"), "--as", "hr1"])
    assert result.exit_code == 1
    assert "8 of 9 rows rejected; nothing was imported" in result.output
    assert "row 4 (PSH-00022): unknown unit 'KP-NOWHERE'" in result.output


def test_the_import_command_imports_a_valid_file(app, org) -> None:
    result = app.test_cli_runner().invoke(args=[
        "import-org", str(DATA / "valid_department.csv"), "--as", "hr1"])
    assert result.exit_code == 0, result.output
    assert "Imported 4 rows: 3 created, 1 updated, 0 unchanged, 3 logins created." in \
        result.output
    assert employee_of(org["emp1"]).grade == 18
