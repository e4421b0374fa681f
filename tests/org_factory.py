"""Building organisations and cycles for the cycle and org-import specs.

`add_employees` adds N people with logins to a new unit below the demo department, reporting to
the demo's officers, fast enough for a few thousand (one flush, no password hashing).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from app.extensions import db
from app.models import Employee, OrgUnit, User
from app.services.cycles import DEFAULT_DISTRIBUTION, CycleInput

UNUSABLE_PASSWORD = "!not-a-hash"  # noqa: S105 - no password matches it


def unit(code: str) -> OrgUnit:
    found = db.session.scalar(select(OrgUnit).where(OrgUnit.code == code))
    assert found is not None, code
    return found


def employee(number: str) -> Employee:
    found = db.session.scalar(select(Employee).where(Employee.employee_number == number))
    assert found is not None, number
    return found


def employee_of_username(username: str) -> Employee:
    found = db.session.scalar(
        select(Employee).join(User, Employee.user_id == User.id).where(User.username == username)
    )
    assert found is not None, username
    return found


def add_unit(code: str, name: str, parent_code: str | None = "KP-HEALTH") -> OrgUnit:
    new = OrgUnit(code=code, name=name, parent=unit(parent_code) if parent_code else None)
    db.session.add(new)
    db.session.commit()
    return new


def add_employees(
    count: int,
    *,
    unit_code: str = "KP-HEALTH-MRD",
    unit_name: str = "District Health Office Mardan",
    parent_code: str | None = "KP-HEALTH",
    reporting_officer: str = "ro1",
    countersigning_officer: str = "cso1",
    prefix: str = "MRD",
) -> list[int]:
    """`count` employees with logins in a (new) unit; returns their ids in order."""
    existing = db.session.scalar(select(OrgUnit).where(OrgUnit.code == unit_code))
    target = existing or add_unit(unit_code, unit_name, parent_code)
    ro = employee_of_username(reporting_officer)
    cso = employee_of_username(countersigning_officer)
    users = [
        User(username=f"{prefix.lower()}{i:05d}", full_name=f"Employee {prefix}-{i:05d}",
             password_hash=UNUSABLE_PASSWORD)
        for i in range(1, count + 1)
    ]
    db.session.add_all(users)
    db.session.flush()
    people = [
        Employee(
            employee_number=f"{prefix}-{i:05d}", full_name=f"Employee {prefix}-{i:05d}",
            designation="Medical Officer", grade=17, base_pay=Decimal("100000.00"),
            email=f"{prefix.lower()}{i:05d}@health.kp.example", org_unit_id=target.id,
            user_id=user.id, reporting_officer_id=ro.id, countersigning_officer_id=cso.id,
        )
        for i, user in enumerate(users, start=1)
    ]
    db.session.add_all(people)
    db.session.commit()
    return [person.id for person in people]


def cycle_input(**overrides: Any) -> CycleInput:
    values: dict[str, Any] = {
        "name": "Performance year 2027",
        "year": 2027,
        "process_key": "goal_setting",
        "org_unit_ids": [unit("KP-HEALTH").id],
        "starts_on": date(2027, 1, 1),
        "mid_year_on": date(2027, 7, 1),
        "interview_opens_on": date(2027, 12, 1),
        "interview_closes_on": date(2027, 12, 20),
        "ends_on": date(2027, 12, 31),
        "incentive_cap_percent": Decimal("20"),
        "budget": Decimal("5000000"),
        "guideline_distribution": dict(DEFAULT_DISTRIBUTION),
    }
    values.update(overrides)
    return CycleInput(**values)
