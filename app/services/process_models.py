"""Process models and their versions: deploy once, pin forever."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from app.engine import ParsedProcess, ProcessDefinitionError, content_hash, parse_process
from app.extensions import db
from app.models import AuditEventType, ProcessModel, ProcessVersion, User
from app.services import audit
from app.services.assignment import KNOWN_LANES
from app.services.errors import NotFound, ValidationFailed
from forms.registry import FORM_REGISTRY

MAX_DUE_IN_DAYS = 366


def meezan_problems(parsed: ParsedProcess) -> list[dict[str, Any]]:
    """The app's own rules on top of the engine's, each problem with the id of the diagram
    element it is about: every user task names a known form, has a whole number of days to be
    due in, and sits in a lane Meezan can resolve to a person or role; so does every lane."""
    problems: list[dict[str, Any]] = []
    for task in parsed.user_tasks:
        if task["form_key"] not in FORM_REGISTRY:
            problems.append(_problem(
                f"User task {task['id']} names form {task['form_key']!r}, which Meezan does not "
                f"know (known: {', '.join(sorted(FORM_REGISTRY))}).", task["id"]))
        if task["lane"] not in KNOWN_LANES:
            problems.append(_problem(
                f"User task {task['id']} is in lane {task['lane']!r}; lanes must be one of "
                f"{', '.join(KNOWN_LANES)}.", task["id"]))
        due = task.get("due_in_days")
        if due not in (None, "") and not (str(due).isdigit() and int(due) <= MAX_DUE_IN_DAYS):
            problems.append(_problem(
                f"User task {task['id']} is due in {due!r} days; give a whole number of days "
                f"from 0 to {MAX_DUE_IN_DAYS}.", task["id"]))
    for lane in parsed.lanes:
        if lane["name"] not in KNOWN_LANES:
            problems.append(_problem(
                f"Lane {lane['name']!r} is not a role Meezan can resolve; name it one of "
                f"{', '.join(KNOWN_LANES)}.", lane["id"]))
    return problems


def _problem(message: str, element_id: str | None) -> dict[str, Any]:
    return {"message": message, "element_id": element_id, "line": None}


def validate_for_meezan(parsed: ParsedProcess) -> list[str]:
    """The messages of `meezan_problems`."""
    return [problem["message"] for problem in meezan_problems(parsed)]


def parse_and_validate(bpmn_xml: bytes, source_name: str) -> ParsedProcess:
    try:
        parsed = parse_process(bpmn_xml, source_name)
    except ProcessDefinitionError as exc:
        raise ValidationFailed(
            f"{source_name}: {exc.message}", {"diagram": [exc.to_dict()]}
        ) from exc
    problems = meezan_problems(parsed)
    if problems:
        raise ValidationFailed(f"{source_name}: {problems[0]['message']}", {"diagram": problems})
    return parsed


def deploy(
    bpmn_xml: bytes,
    source_name: str,
    deployed_by: User | None = None,
    comment: str | None = None,
    *,
    repeat_of: ProcessVersion | None = None,
) -> tuple[ProcessVersion, bool]:
    """Store a validated diagram as the next version of its process, unless the identical
    content is already a version. A rollback passes `repeat_of` (the older version whose XML
    this is) to get a new version even so. Adds to the caller's transaction; returns
    (version, created)."""
    parsed = parse_and_validate(bpmn_xml, source_name)
    digest = content_hash(bpmn_xml)
    model = db.session.scalar(select(ProcessModel).where(ProcessModel.key == parsed.process_id))
    if model is None:
        model = ProcessModel(key=parsed.process_id, name=parsed.name)
        db.session.add(model)
        db.session.flush()
    existing = db.session.scalar(
        select(ProcessVersion)
        .where(ProcessVersion.process_model_id == model.id, ProcessVersion.content_hash == digest)
        .order_by(ProcessVersion.version)
        .limit(1)
    )
    if existing is not None and repeat_of is None:
        return existing, False
    latest = db.session.scalar(
        select(func.max(ProcessVersion.version)).where(ProcessVersion.process_model_id == model.id)
    )
    version = ProcessVersion(
        process_model_id=model.id,
        version=(latest or 0) + 1,
        bpmn_xml=bpmn_xml.decode("utf-8"),
        content_hash=digest,
        source_name=source_name,
        comment=comment,
        deployed_by_id=deployed_by.id if deployed_by else None,
    )
    model.name = parsed.name
    db.session.add(version)
    db.session.flush()
    details: dict[str, Any] = {
        "process": model.key,
        "version": version.version,
        "content_hash": digest,
        "source": source_name,
        "comment": comment,
    }
    if repeat_of is not None:
        details["rollback_to"] = repeat_of.version
    audit.record(AuditEventType.PROCESS_VERSION_DEPLOYED, actor=deployed_by, details=details)
    return version, True


def sync_workflow_files(directory: str | Path) -> list[tuple[ProcessVersion, bool]]:
    """Deploy every BPMN file in `workflows/` whose content is not yet a version. One
    transaction: all files deploy, or none do."""
    results = []
    try:
        for path in sorted(Path(directory).glob("*.bpmn")):
            results.append(
                deploy(path.read_bytes(), path.name, comment=f"Deployed from workflows/{path.name}")
            )
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return results


def current_version(process_key: str) -> ProcessVersion:
    version = db.session.scalar(
        select(ProcessVersion)
        .join(ProcessModel)
        .where(ProcessModel.key == process_key)
        .order_by(ProcessVersion.version.desc())
        .limit(1)
    )
    if version is None:
        raise NotFound(f"No process named {process_key!r} is deployed.")
    return version


def parsed_version(version: ProcessVersion) -> ParsedProcess:
    """The executable spec of a version (parsed once per content hash, then cached)."""
    return parse_process(version.bpmn_xml.encode("utf-8"), version.source_name)


def startable_processes() -> list[ProcessModel]:
    return list(db.session.scalars(select(ProcessModel).order_by(ProcessModel.name)))
