"""`flask` CLI commands: deploy the diagrams in workflows/, seed the demo, start cases."""

from __future__ import annotations

import signal
import threading
from datetime import datetime
from typing import TextIO

import click
from flask import Flask, current_app
from sqlalchemy import select

from app.extensions import db
from app.models import Employee, OrgUnit, Role, User
from app.services import audit, cases, cycles, demo, notifications, process_models, timers, users
from app.services.errors import ServiceError


def _stop_flag() -> threading.Event:
    """Set by SIGTERM/SIGINT so a process manager can stop the worker between passes."""
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    return stop


def register(app: Flask) -> None:
    from app.org_commands import register as register_org_commands
    from app.reporting_commands import register as register_reporting_commands

    register_audit_commands(app)
    register_org_commands(app)
    register_reporting_commands(app)

    @app.cli.command("deploy-workflows")
    def deploy_workflows() -> None:
        """Deploy each BPMN file in workflows/ whose content is not yet a version."""
        try:
            results = process_models.sync_workflow_files(current_app.config["WORKFLOWS_DIR"])
        except ServiceError as exc:
            raise click.ClickException(exc.message) from exc
        for version, created in results:
            state = "deployed" if created else "unchanged"
            click.echo(f"{version.process_model.key} v{version.version} {state}")

    @app.cli.command("seed-demo")
    def seed_demo() -> None:
        """Create the demo department and users (password meezan-demo). Demo installs only."""
        process_models.sync_workflow_files(current_app.config["WORKFLOWS_DIR"])
        if not demo.seed_demo():
            click.echo("Demo data already present.")
            return
        hr = db.session.scalar(select(User).where(User.username == "hr1"))
        emp2 = db.session.scalar(
            select(Employee).join(User, Employee.user_id == User.id).where(User.username == "emp2")
        )
        case = cases.start_case("goal_setting", emp2.id, hr)
        click.echo(f"Demo data created; goal-setting case #{case.id} started for emp2.")
        cycle = cycles.define_demo_cycle(hr)
        click.echo(f"Cycle #{cycle.id} “{cycle.name}” defined (not launched): "
                   f"flask launch-cycle {cycle.id}")

    @app.cli.command("run-timers")
    @click.option("--once", is_flag=True, help="One pass, then exit (for cron or tests)")
    @click.option("--interval", default=30.0, show_default=True, help="Seconds between passes")
    @click.option("--batch-size", default=200, show_default=True)
    def run_timers(once: bool, interval: float, batch_size: int) -> None:
        """Fire due BPMN timers (reminders, escalations, cycle dates). Safe to run in several
        processes at once: each timer fires exactly once."""
        stop = _stop_flag()
        while True:
            result = timers.run_due_timers(batch_size)
            db.session.remove()
            if result.cases_checked or result.errors or result.tasks_rerouted:
                click.echo(f"{result.cases_checked} due cases, {result.timers_fired} timers "
                           f"fired, {len(result.errors)} errors"
                           + (f", {result.tasks_rerouted} tasks rerouted by absences"
                              if result.tasks_rerouted else ""))
            for error in result.errors:
                click.echo(f"  {error}", err=True)
            if once or stop.is_set():
                break
            if result.cases_checked < batch_size:
                stop.wait(interval)
            if stop.is_set():
                break

    @app.cli.command("send-notifications")
    @click.option("--once", is_flag=True, help="One pass, then exit (for cron or tests)")
    @click.option("--interval", default=15.0, show_default=True, help="Seconds between passes")
    @click.option("--batch-size", default=100, show_default=True)
    @click.option("--retry-failed", is_flag=True, help="Re-queue notifications that gave up")
    def send_notifications(once: bool, interval: float, batch_size: int,
                           retry_failed: bool) -> None:
        """Send the e-mail outbox over SMTP (immediate mails and due daily digests), retrying
        failures with backoff. Safe to run in several processes at once."""
        if retry_failed:
            click.echo(f"{notifications.retry_failed()} failed notifications re-queued")
        stop = _stop_flag()
        while True:
            result = notifications.send_due(batch_size)
            db.session.remove()
            if result.sent or result.digests or result.retried or result.failed or result.skipped:
                click.echo(f"{result.sent} sent, {result.digests} digests, {result.retried} to "
                           f"retry, {result.failed} failed, {result.skipped} without address")
            for error in result.errors:
                click.echo(f"  {error}", err=True)
            if once or stop.is_set():
                break
            stop.wait(interval)
            if stop.is_set():
                break

    @app.cli.command("create-user")
    @click.argument("username")
    @click.option("--name", "full_name", required=True, help="Full name")
    @click.option("--email", default=None)
    @click.option("--role", "roles", multiple=True,
                  type=click.Choice([r.value for r in Role]), help="Repeatable")
    @click.password_option()
    def create_user(username: str, full_name: str, email: str | None,
                    roles: tuple[str, ...], password: str) -> None:
        """Create a login (e.g. the first administrator of a production install)."""
        try:
            users.create_user(username, full_name, password, email, [Role(r) for r in roles])
        except ServiceError as exc:
            raise click.ClickException(exc.message) from exc
        click.echo(f"User {username} created.")

    @app.cli.command("start-case")
    @click.argument("process_key")
    @click.argument("employee_number")
    @click.option("--as", "username", required=True, help="HR user starting the case")
    def start_case(process_key: str, employee_number: str, username: str) -> None:
        """Start PROCESS_KEY for the employee with EMPLOYEE_NUMBER."""
        user = db.session.scalar(select(User).where(User.username == username))
        subject = db.session.scalar(
            select(Employee).where(Employee.employee_number == employee_number)
        )
        if user is None or subject is None:
            raise click.ClickException("Unknown user or employee number.")
        try:
            case = cases.start_case(process_key, subject.id, user)
        except ServiceError as exc:
            raise click.ClickException(exc.message) from exc
        click.echo(f"Case #{case.id} started.")


def register_audit_commands(app: Flask) -> None:
    audit_cli = click.Group("audit", help="Verify and export the hash-chained audit trail.")

    @audit_cli.command("verify")
    def verify() -> None:
        """Recompute the whole chain; exit 1 naming the first edited, deleted or moved event."""
        result = audit.verify_chain()
        if result.ok:
            seq, head = audit.chain_head()
            click.echo(f"OK: {result.events_checked} events, chain head #{seq} {head}")
            return
        where = f"event id {result.first_bad_event_id}" if result.first_bad_event_id else "tail"
        click.echo(f"BROKEN at {where} after {result.events_checked} good events: "
                   f"{result.problem}", err=True)
        raise SystemExit(1)

    @audit_cli.command("export")
    @click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv")
    @click.option("--case", "case_id", type=int)
    @click.option("--user", "username",
                  help="Username: events they did, or someone did on their behalf")
    @click.option("--unit", "unit_code",
                  help="Org unit code (includes units below it): its employees' cases, and "
                       "events without a case by, for or about its people, units or cycles")
    @click.option("--since", type=click.DateTime(["%Y-%m-%d"]))
    @click.option("--until", type=click.DateTime(["%Y-%m-%d"]))
    @click.option("--out", type=click.File("w"), default="-")
    def export(fmt: str, case_id: int | None, username: str | None, unit_code: str | None,
               since: datetime | None, until: datetime | None, out: TextIO) -> None:
        """Export audit events (CSV, or JSON lines), filtered."""
        unit_id = None
        if unit_code:
            unit_id = db.session.scalar(select(OrgUnit.id).where(OrgUnit.code == unit_code))
            if unit_id is None:
                raise click.ClickException(f"No org unit {unit_code!r}.")
        criteria = audit.AuditFilter(case_id, username, unit_id,
                                     since.date() if since else None,
                                     until.date() if until else None)
        chunks = audit.export_csv(criteria) if fmt == "csv" else audit.export_json_lines(criteria)
        for chunk in chunks:
            out.write(chunk)

    app.cli.add_command(audit_cli)
