"""Process models and their versions: deploy once, pin forever."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from app.engine import ParsedProcess, ProcessDefinitionError, content_hash, parse_process
from app.extensions import db
from app.models import AuditEventType, ProcessModel, ProcessVersion, User
from app.services import audit
from app.services.assignment import KNOWN_LANES
from app.services.errors import NotFound, ValidationFailed
from forms.registry import FORM_REGISTRY


def validate_for_meezan(parsed: ParsedProcess) -> list[str]:
    """The app's own rules on top of the engine's: every user task names a known form and sits
    in a lane Meezan can resolve to a person or role."""
    problems = []
    for task in parsed.user_tasks:
        if task["form_key"] not in FORM_REGISTRY:
            problems.append(
                f"User task {task['id']} names form {task['form_key']!r}, which Meezan does not "
                f"know (known: {', '.join(sorted(FORM_REGISTRY))})."
            )
        if task["lane"] not in KNOWN_LANES:
            problems.append(
                f"User task {task['id']} is in lane {task['lane']!r}; lanes must be one of "
                f"{', '.join(KNOWN_LANES)}."
            )
    return problems


def parse_and_validate(bpmn_xml: bytes, source_name: str) -> ParsedProcess:
    try:
        parsed = parse_process(bpmn_xml, source_name)
    except ProcessDefinitionError as exc:
        raise ValidationFailed(
            f"{source_name}: {exc.message}", {"diagram": [exc.to_dict()]}
        ) from exc
    problems = validate_for_meezan(parsed)
    if problems:
        raise ValidationFailed(
            f"{source_name}: {problems[0]}", {"diagram": [{"message": p} for p in problems]}
        )
    return parsed


def deploy(
    bpmn_xml: bytes, source_name: str, deployed_by: User | None = None, comment: str | None = None
) -> tuple[ProcessVersion, bool]:
    """Store a validated diagram as the next version of its process, unless the identical
    content is already a version. Adds to the caller's transaction; returns (version, created)."""
    parsed = parse_and_validate(bpmn_xml, source_name)
    digest = content_hash(bpmn_xml)
    model = db.session.scalar(select(ProcessModel).where(ProcessModel.key == parsed.process_id))
    if model is None:
        model = ProcessModel(key=parsed.process_id, name=parsed.name)
        db.session.add(model)
        db.session.flush()
    existing = db.session.scalar(
        select(ProcessVersion).where(
            ProcessVersion.process_model_id == model.id, ProcessVersion.content_hash == digest
        )
    )
    if existing is not None:
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
    audit.record(
        AuditEventType.PROCESS_VERSION_DEPLOYED,
        actor=deployed_by,
        details={
            "process": model.key,
            "version": version.version,
            "content_hash": digest,
            "source": source_name,
            "comment": comment,
        },
    )
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
