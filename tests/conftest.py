"""Test fixtures: one app per session on the database named by MEEZAN_TEST_DATABASE_URL
(SQLite by default; the README's test command runs the suite on SQLite and on PostgreSQL),
schema built by the real migrations, every table emptied between tests."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import MetaData, select, text

from app import create_app
from app.clock import clock
from app.extensions import db
from app.i18n import compile_catalogues
from app.models import Employee, User
from app.services import demo, process_models
from tests.tampering import audit_triggers_bypassed


def _database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("MEEZAN_TEST_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'meezan-test.db'}"


@pytest.fixture(scope="session")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    os.environ["MEEZAN_TEST_DATABASE_URL"] = _database_url(tmp_path_factory)
    compile_catalogues()  # the Urdu catalogue as the .po says now, even without setup.sh
    app = create_app("test")
    with app.app_context():
        engine = db.engine
        existing = MetaData()
        existing.reflect(bind=engine)
        existing.drop_all(bind=engine)
        upgrade()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="session")
def is_postgres(app: Flask) -> bool:
    with app.app_context():
        return db.engine.dialect.name == "postgresql"


def _empty_all_tables() -> None:
    tables = [t for t in reversed(db.metadata.sorted_tables)]
    if db.engine.dialect.name == "postgresql":
        names = ", ".join(t.name for t in tables)
        db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        with audit_triggers_bypassed():  # audit events are append-only (a migration's triggers)
            for table in tables:
                db.session.execute(table.delete())
    db.session.commit()


@pytest.fixture
def year_clock() -> Iterator[None]:
    """The app clock at 5 January of the appraisal year (tests/appraisal_helpers.YEAR), reset
    afterwards: the year's specs ask for it with `pytestmark = pytest.mark.usefixtures(...)`."""
    from tests.appraisal_helpers import YEAR, at  # imported here: that module imports this one

    at(f"{YEAR}-01-05")
    yield
    clock.reset()


@pytest.fixture(autouse=True)
def app_context(app: Flask) -> Iterator[None]:
    with app.app_context():
        _empty_all_tables()
        process_models.sync_workflow_files(app.config["WORKFLOWS_DIR"])
        yield
        db.session.rollback()
        db.session.remove()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def org() -> dict[str, User]:
    """The demo department (emp1, emp2, ro1, cso1, hr1, fin1, owner1, admin)."""
    demo.seed_demo()
    return {u.username: u for u in db.session.scalars(select(User))}


def employee_of(user: User) -> Employee:
    employee = db.session.scalar(select(Employee).where(Employee.user_id == user.id))
    assert employee is not None
    return employee
