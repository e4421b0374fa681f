"""`flask` CLI commands for org data and performance cycles: import-org, set-password,
create-cycle, launch-cycle."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
from flask import Flask
from sqlalchemy import select

from app.extensions import db
from app.models import Cycle, OrgUnit, User
from app.services import cycles, org_import, users
from app.services.errors import ServiceError, ValidationFailed


def _user(username: str) -> User:
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise click.ClickException(f"No user named {username!r}.")
    return user


def _fail(exc: ServiceError) -> click.ClickException:
    message = exc.message
    if isinstance(exc, ValidationFailed) and exc.errors:
        message += "".join(
            f"\n  {name}: {' '.join(str(e) for e in errors)}" for name, errors in exc.errors.items()
        )
    return click.ClickException(message)


def print_import_report(report: org_import.ImportReport) -> None:
    for problem in report.file_problems:
        click.echo(f"File rejected: {problem}", err=True)
    if report.rejected:
        click.echo(f"{len(report.rejected)} of {report.rows} rows rejected; nothing was imported:",
                   err=True)
        for row in report.rejected:
            label = f" ({row.employee_number})" if row.employee_number else ""
            click.echo(f"  row {row.row}{label}: {'; '.join(row.reasons)}", err=True)


def register(app: Flask) -> None:
    @app.cli.command("import-org")
    @click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--as", "username", required=True, help="HR user (or admin) importing")
    @click.option("--dry-run", is_flag=True, help="Validate and report, import nothing")
    def import_org(csv_file: Path, username: str, dry_run: bool) -> None:
        """Import employees from CSV_FILE: all rows or, if any row is rejected, none."""
        try:
            report = org_import.import_org_csv(_user(username), csv_file.read_bytes(),
                                               csv_file.name, dry_run=dry_run)
        except ServiceError as exc:
            raise _fail(exc) from exc
        print_import_report(report)
        if not report.ok:
            raise SystemExit(1)
        if dry_run:
            click.echo(f"{report.rows} rows are valid; nothing imported (dry run).")
            return
        click.echo(f"Imported {report.rows} rows: {report.created} created, {report.updated} "
                   f"updated, {report.unchanged} unchanged, "
                   f"{report.logins_created} logins created.")

    @app.cli.command("set-password")
    @click.argument("username")
    @click.password_option()
    def set_password(username: str, password: str) -> None:
        """Give a login a password (logins created by import-org have none)."""
        try:
            users.set_password(username, password)
        except ServiceError as exc:
            raise _fail(exc) from exc
        click.echo(f"Password of {username} set.")

    @app.cli.command("create-cycle")
    @click.option("--as", "username", required=True, help="HR user (or admin) defining it")
    @click.option("--name", required=True)
    @click.option("--year", type=int, required=True)
    @click.option("--unit", "unit_codes", multiple=True, required=True,
                  help="Org unit code in scope (with the units below it); repeatable")
    @click.option("--process", "process_key", default="annual_appraisal", show_default=True)
    @click.option("--starts-on", type=click.DateTime(["%Y-%m-%d"]), required=True)
    @click.option("--mid-year-on", type=click.DateTime(["%Y-%m-%d"]), required=True)
    @click.option("--interview-opens-on", type=click.DateTime(["%Y-%m-%d"]), required=True)
    @click.option("--interview-closes-on", type=click.DateTime(["%Y-%m-%d"]), required=True)
    @click.option("--ends-on", type=click.DateTime(["%Y-%m-%d"]), required=True)
    @click.option("--cap", "cap", required=True,
                  help="Incentive cap for everyone, in percent of base pay")
    @click.option("--budget", required=True, help="Department incentive budget")
    @click.option("--finance-threshold", default=None,
                  help="Incentives above this amount also need finance's approval")
    @click.option("--distribution", default=json.dumps(cycles.DEFAULT_DISTRIBUTION),
                  show_default=True, help="Guideline rating distribution, JSON percentages")
    def create_cycle(username: str, name: str, year: int, unit_codes: tuple[str, ...],
                     process_key: str, cap: str, budget: str, finance_threshold: str | None,
                     distribution: str, **dates: Any) -> None:
        """Define a performance cycle (launch it with launch-cycle)."""
        user = _user(username)
        units = {u.code: u.id for u in db.session.scalars(
            select(OrgUnit).where(OrgUnit.code.in_(unit_codes)))}
        unknown = sorted(set(unit_codes) - set(units))
        if unknown:
            raise click.ClickException(f"Unknown org unit(s): {', '.join(unknown)}")
        try:
            shares = json.loads(distribution)
        except json.JSONDecodeError as exc:
            raise click.ClickException(f"--distribution is not JSON: {exc}") from exc
        day: dict[str, date] = {key: value.date() for key, value in dates.items()}
        try:
            cycle = cycles.create_cycle(user, cycles.CycleInput(
                name=name, year=year, process_key=process_key,
                org_unit_ids=[units[c] for c in unit_codes], **day,
                incentive_cap_percent=_decimal(cap, "--cap"),
                budget=_decimal(budget, "--budget"),
                incentive_threshold_amount=_decimal(finance_threshold, "--finance-threshold")
                if finance_threshold else None,
                guideline_distribution=shares if isinstance(shares, dict) else {},
            ))
        except ServiceError as exc:
            raise _fail(exc) from exc
        click.echo(f"Cycle #{cycle.id} “{cycle.name}” defined; launch it with "
                   f"`flask launch-cycle {cycle.id}`.")

    @app.cli.command("launch-cycle")
    @click.argument("cycle_id", type=int)
    @click.option("--as", "username", default=None,
                  help="Who launches (default: the HR user who defined the cycle)")
    @click.option("--batch-size", default=cycles.DEFAULT_BATCH_SIZE, show_default=True)
    @click.option("--workers", default=0, show_default=True,
                  help="Engine worker processes (0: run the engine in this process)")
    @click.option("--show-problems", default=20, show_default=True,
                  help="How many not-launched employees to list")
    def launch_cycle(cycle_id: int, username: str | None, batch_size: int, workers: int,
                     show_problems: int) -> None:
        """Launch cycle CYCLE_ID: one case per employee in scope. Safe to re-run after an
        interruption: nobody gets a second case, the rest are launched."""
        cycle = db.session.get(Cycle, cycle_id)
        if cycle is None:
            raise click.ClickException(f"No cycle {cycle_id}.")
        if username is None and cycle.created_by is None:
            raise click.ClickException("Say who launches it with --as.")
        actor = _user(username) if username else cycle.created_by
        bar: Any = None

        def progress(result: cycles.LaunchResult, processed: int) -> None:
            nonlocal bar
            if bar is None:
                click.echo(f"{result.in_scope} employees in scope, {result.already_launched} "
                           "launched before.")
                bar = click.progressbar(length=max(result.in_scope - result.already_launched, 0),
                                        label="Launching", show_pos=True, show_eta=True)
                bar.__enter__()
            bar.update(processed)

        try:
            result = cycles.launch_cycle(cycle_id, actor, batch_size=batch_size,
                                         workers=workers, progress=progress)
        except ServiceError as exc:
            raise _fail(exc) from exc
        finally:
            if bar is not None:
                bar.__exit__(None, None, None)
        click.echo(f"{result.cases_started} cases started, {result.not_launched} employees not "
                   f"launched, {result.already_launched} launched before.")
        if result.not_launched and show_problems:
            for member in cycles.not_launched_members(cycle_id, limit=show_problems):
                click.echo(f"  {member.employee.employee_number} {member.employee.full_name}: "
                           f"{member.problem}")
            if result.not_launched > show_problems:
                click.echo(f"  … and {result.not_launched - show_problems} more "
                           f"(the cycle's page lists them all).")


def _decimal(value: str, option: str) -> Decimal:
    try:
        return Decimal(value)
    except ArithmeticError as exc:
        raise click.ClickException(f"{option} must be a number.") from exc
