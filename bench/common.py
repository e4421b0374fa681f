"""What every benchmark does first: the app in its test configuration on the database named,
emptied and rebuilt by the real migrations, with the workflows in `workflows/` deployed — the
same schema and processes the app runs on, whatever an earlier run left behind."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, current_app
from flask_migrate import upgrade
from sqlalchemy import MetaData

from app import create_app
from app.extensions import db
from app.services import process_models


def bench_app(url: str, overrides: dict[str, Any] | None = None) -> Flask:
    """The test configuration on `url` (TestConfig reads and normalises it)."""
    os.environ["MEEZAN_TEST_DATABASE_URL"] = url
    return create_app("test", overrides=overrides)


def rebuild_database() -> None:
    """Drop every table of the current app's database, migrate to head, deploy the workflows.
    Needs an app context; never point a benchmark at data you want to keep."""
    existing = MetaData()
    existing.reflect(bind=db.engine)
    existing.drop_all(bind=db.engine)
    upgrade()
    process_models.sync_workflow_files(current_app.config["WORKFLOWS_DIR"])
