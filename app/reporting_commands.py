"""`flask refresh-reporting`: recompute the dashboards' projection from the cases' stored
engine state (the backfill after the projection's migration; safe to run at any time)."""

from __future__ import annotations

import click
from flask import Flask
from sqlalchemy import func, select

from app.extensions import db
from app.models import Case
from app.services import reporting


def register(app: Flask) -> None:
    @app.cli.command("refresh-reporting")
    @click.option("--batch-size", default=200, show_default=True,
                  help="Cases per transaction.")
    def refresh_reporting(batch_size: int) -> None:
        """Recompute every case's reporting rows (dashboards) from its engine state."""
        total = db.session.scalar(select(func.count(Case.id))) or 0
        done = 0
        with click.progressbar(length=total, label="Cases") as bar:
            for count in reporting.refresh_all(batch_size=batch_size):
                done += count
                bar.update(count)
        click.echo(f"Reporting rows recomputed for {done} case(s).")
