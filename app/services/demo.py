"""Deterministic demo organisation. Only the explicit `flask seed-demo` command calls this;
no configuration creates these users by itself."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from app.extensions import db
from app.models import Employee, OrgUnit, Role, User, UserRole
from app.services.transaction import unit_of_work

DEMO_PASSWORD = "meezan-demo"  # noqa: S105 - documented demo credential, demo command only

# username, full name, designation, grade, base pay, reporting officer, countersigning officer
DEMO_PEOPLE = [
    ("cso1", "Farah Qureshi", "Director General Health Services", 20, "310000", None, None),
    ("ro1", "Imran Khattak", "District Health Officer", 18, "185000", "cso1", None),
    ("emp1", "Ayesha Khan", "Deputy District Health Officer", 17, "142000", "ro1", "cso1"),
    ("emp2", "Bilal Ahmed", "Medical Officer (EPI)", 17, "138000", "ro1", "cso1"),
    ("hr1", "Sana Afridi", "Deputy Secretary (Admin & HR)", 18, "176000", "cso1", None),
    ("fin1", "Usman Yousafzai", "Budget & Accounts Officer", 17, "150000", "cso1", None),
    ("owner1", "Nadia Shah", "Performance Management Unit Lead", 18, "180000", "cso1", None),
]
DEMO_USERS_WITHOUT_EMPLOYEE = [
    ("admin", "System Administrator"),
    ("auditor1", "Office of the Auditor General (read-only)"),
]
DEMO_ROLES = {
    "hr1": [Role.HR],
    "fin1": [Role.FINANCE],
    "owner1": [Role.PROCESS_OWNER],
    "admin": [Role.ADMIN],
    "auditor1": [Role.AUDITOR],
}


def seed_demo() -> bool:
    """Create the demo department, people and logins. Returns False if already seeded."""
    if db.session.scalar(select(User).where(User.username == "emp1")) is not None:
        return False
    with unit_of_work():
        province = OrgUnit(code="KP-HEALTH", name="Health Department, Khyber Pakhtunkhwa")
        district = OrgUnit(code="KP-HEALTH-PSH", name="District Health Office Peshawar",
                           parent=province)
        db.session.add_all([province, district])
        db.session.flush()
        users: dict[str, User] = {}
        for username, name, *_ in DEMO_PEOPLE:
            users[username] = _user(username, name)
        for username, name in DEMO_USERS_WITHOUT_EMPLOYEE:
            users[username] = _user(username, name)
        db.session.flush()
        employees: dict[str, Employee] = {}
        for number, (username, name, designation, grade, pay, _ro, _cso) in enumerate(
            DEMO_PEOPLE, start=1
        ):
            unit = province if username in {"cso1", "hr1", "fin1", "owner1"} else district
            employees[username] = Employee(
                employee_number=f"KP-{number:05d}",
                full_name=name,
                designation=designation,
                grade=grade,
                base_pay=Decimal(pay),
                email=f"{username}@health.kp.example",
                org_unit=unit,
                user=users[username],
            )
        db.session.add_all(employees.values())
        db.session.flush()
        # The Director General heads the department: she approves its incentives.
        province.head_employee_id = employees["cso1"].id
        for username, *_rest, ro, cso in DEMO_PEOPLE:
            employees[username].reporting_officer = employees[ro] if ro else None
            employees[username].countersigning_officer = employees[cso] if cso else None
        for username, roles in DEMO_ROLES.items():
            for role in roles:
                scope = province.id if role == Role.HR else None
                db.session.add(UserRole(user=users[username], role=role, org_unit_id=scope))
    return True


def _user(username: str, full_name: str) -> User:
    user = User(username=username, full_name=full_name, email=f"{username}@health.kp.example")
    user.set_password(DEMO_PASSWORD)
    db.session.add(user)
    return user
