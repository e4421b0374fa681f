"""Process models and their versions: deploy once, pin forever.

A diagram may call other processes (call activities) and DMN decisions (business-rule tasks).
Deploying it resolves each to the current deployed version and pins those versions on the new
process version (`ProcessVersion.dependencies`), so a case runs exactly what its version ran on
the day it was deployed, however the called processes and tables change later. A caller picks
up newer versions of what it calls when it is deployed again (`deploy-workflows` does so
whenever a called file changed: the same diagram pinned to other versions is a new version).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from app.engine import (
    ParsedProcess,
    ProcessDefinitionError,
    References,
    bundle_hash,
    cached_process,
    content_hash,
    decision_problems,
    parse_process,
    referenced_documents,
)
from app.extensions import db
from app.i18n import N_
from app.models import AuditEventType, DecisionVersion, ProcessModel, ProcessVersion, User
from app.services import audit
from app.services.assignment import KNOWN_LANES
from app.services.errors import Message, NotFound, ValidationFailed
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


def parse_and_validate(
    bpmn_xml: bytes,
    source_name: str,
    called_processes: dict[str, tuple[bytes, str]] | None = None,
    decisions: dict[str, tuple[bytes, str]] | None = None,
) -> ParsedProcess:
    """Engine checks and the app's rules. A diagram that calls other processes or decisions is
    parsed with the current versions of those unless the caller passes the documents."""
    if called_processes is None and decisions is None:
        called_processes, decisions, _pins = resolve_references(
            _references(bpmn_xml, source_name))
    try:
        parsed = parse_process(
            bpmn_xml, source_name, called_processes=called_processes, decisions=decisions
        )
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
    called, decisions, pins = resolve_references(_references(bpmn_xml, source_name))
    parsed = parse_and_validate(bpmn_xml, source_name, called, decisions)
    digest = content_hash(bpmn_xml)
    dependencies = None
    if pins["processes"] or pins["decisions"]:
        dependencies = {**pins, "bundle_hash": bundle_hash(bpmn_xml, called, decisions)}
    model = db.session.scalar(select(ProcessModel).where(ProcessModel.key == parsed.process_id))
    if model is None:
        model = ProcessModel(key=parsed.process_id, name=parsed.name)
        db.session.add(model)
        db.session.flush()
    same_content = db.session.scalars(
        select(ProcessVersion)
        .where(ProcessVersion.process_model_id == model.id, ProcessVersion.content_hash == digest)
        .order_by(ProcessVersion.version)
    )
    # The same diagram calling other contents is a different executable; the same contents
    # under other version numbers (a rollback) are not.
    bundle = (dependencies or {}).get("bundle_hash")
    existing = next((v for v in same_content
                     if (v.dependencies or {}).get("bundle_hash") == bundle), None)
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
        dependencies=dependencies,
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
    if dependencies:
        details["calls"] = _pinned_labels(dependencies)
    audit.record(AuditEventType.PROCESS_VERSION_DEPLOYED, actor=deployed_by, details=details)
    return version, True


def _references(bpmn_xml: bytes, source_name: str) -> References:
    try:
        return referenced_documents(bpmn_xml)
    except ProcessDefinitionError as exc:
        raise ValidationFailed(
            f"{source_name}: {exc.message}", {"diagram": [exc.to_dict()]}
        ) from exc


Documents = dict[str, tuple[bytes, str]]


def resolve_references(refs: References) -> tuple[Documents, Documents, dict[str, Any]]:
    """The current deployed version of every process and decision a diagram refers to, with
    everything those pin in turn: (called process documents, decision documents, pins)."""
    called: Documents = {}
    decisions: Documents = {}
    pins: dict[str, dict[str, int]] = {"processes": {}, "decisions": {}}
    for key in sorted(refs.processes):
        version = db.session.scalar(
            select(ProcessVersion).join(ProcessModel).where(ProcessModel.key == key)
            .order_by(ProcessVersion.version.desc()).limit(1)
        )
        if version is None:
            raise ValidationFailed(
                Message(N_("The diagram calls process %(process)s, which is not deployed: "
                           "deploy it first."), process=repr(key)),
                {"diagram": [_problem(f"Called process {key!r} is not deployed.", None)]})
        pins["processes"][key] = version.id
        _add_closure(version, called, decisions)
    for key in sorted(refs.decisions):
        decision = current_decision(key)
        pins["decisions"][key] = decision.id
        decisions[key] = (decision.dmn_xml.encode("utf-8"), decision.source_name)
    return called, decisions, pins


def _add_closure(version: ProcessVersion, called: Documents, decisions: Documents) -> None:
    """A called version and what it pins, recursively (each process once)."""
    key = version.process_model.key
    if key in called:
        return
    called[key] = (version.bpmn_xml.encode("utf-8"), version.source_name)
    pins = version.dependencies or {}
    for process_version_id in pins.get("processes", {}).values():
        _add_closure(db.session.get(ProcessVersion, process_version_id), called, decisions)
    for decision_key, decision_id in pins.get("decisions", {}).items():
        decision = db.session.get(DecisionVersion, decision_id)
        decisions.setdefault(decision_key, (decision.dmn_xml.encode("utf-8"),
                                            decision.source_name))


def dependency_documents(version: ProcessVersion) -> tuple[Documents, Documents]:
    """The exact documents a version pinned, for `parse_process(called_processes=...,
    decisions=...)` (e.g. when starting many cases in worker processes)."""
    called: Documents = {}
    decisions: Documents = {}
    pins = version.dependencies or {}
    for process_version_id in pins.get("processes", {}).values():
        _add_closure(db.session.get(ProcessVersion, process_version_id), called, decisions)
    for decision_key, decision_id in pins.get("decisions", {}).items():
        decision = db.session.get(DecisionVersion, decision_id)
        decisions.setdefault(decision_key, (decision.dmn_xml.encode("utf-8"),
                                            decision.source_name))
    return called, decisions


def _pinned_labels(dependencies: dict[str, Any]) -> list[str]:
    labels = []
    for key, version_id in sorted(dependencies.get("processes", {}).items()):
        labels.append(f"{key} v{db.session.get(ProcessVersion, version_id).version}")
    for key, decision_id in sorted(dependencies.get("decisions", {}).items()):
        labels.append(f"{key} v{db.session.get(DecisionVersion, decision_id).version} (DMN)")
    return labels


def current_decision(decision_key: str) -> DecisionVersion:
    decision = db.session.scalar(
        select(DecisionVersion).where(DecisionVersion.decision_key == decision_key)
        .order_by(DecisionVersion.version.desc()).limit(1)
    )
    if decision is None:
        raise ValidationFailed(
            Message(N_("The diagram uses decision %(decision)s, which is not deployed: deploy "
                       "its DMN file first."), decision=repr(decision_key)),
            {"diagram": [_problem(f"Decision {decision_key!r} is not deployed.", None)]})
    return decision


def deploy_decision(
    dmn_xml: bytes, source_name: str, deployed_by: User | None = None, comment: str | None = None
) -> tuple[DecisionVersion, bool]:
    """Store a validated DMN document (one decision, every cell passing the script
    restrictions) as the next version of its decision, unless the identical content already is
    one. Adds to the caller's transaction."""
    digest = content_hash(dmn_xml)
    known = db.session.scalar(
        select(DecisionVersion).where(DecisionVersion.content_hash == digest)
        .order_by(DecisionVersion.version).limit(1))
    if known is not None:  # validated when first deployed; the content cannot have changed
        return known, False
    parsed, problems = decision_problems(dmn_xml, source_name)
    if problems or parsed is None:
        raise ValidationFailed(f"{source_name}: {problems[0].message}",
                               {"diagram": [p.to_dict() for p in problems]})
    if len(parsed.decisions) != 1:
        raise ValidationFailed(Message(N_("%(file)s: a DMN file holds exactly one decision."),
                                       file=source_name),
                               {"diagram": []})
    decision = parsed.decisions[0]
    existing = db.session.scalar(
        select(DecisionVersion)
        .where(DecisionVersion.decision_key == decision["id"],
               DecisionVersion.content_hash == digest)
        .order_by(DecisionVersion.version).limit(1)
    )
    if existing is not None:
        return existing, False
    latest = db.session.scalar(
        select(func.max(DecisionVersion.version))
        .where(DecisionVersion.decision_key == decision["id"])
    )
    version = DecisionVersion(
        decision_key=decision["id"], name=decision["name"] or decision["id"],
        version=(latest or 0) + 1, dmn_xml=dmn_xml.decode("utf-8"), content_hash=digest,
        source_name=source_name, comment=comment,
        deployed_by_id=deployed_by.id if deployed_by else None,
    )
    db.session.add(version)
    db.session.flush()
    audit.record(AuditEventType.DECISION_VERSION_DEPLOYED, actor=deployed_by, details={
        "decision": version.decision_key, "version": version.version, "content_hash": digest,
        "source": source_name, "comment": comment,
    })
    return version, True


def _callees_first(paths: list[Path]) -> list[Path]:
    """BPMN files ordered so that every called process deploys before its callers."""
    refs = {path: referenced_documents(path.read_bytes()).processes for path in paths}
    by_process = {}
    for path in paths:
        for process_id in _own_process_ids(path.read_bytes()):
            by_process[process_id] = path
    ordered: list[Path] = []
    visiting: set[Path] = set()

    def visit(path: Path) -> None:
        if path in ordered or path in visiting:
            return
        visiting.add(path)
        for called in sorted(refs[path]):
            if called in by_process:
                visit(by_process[called])
        ordered.append(path)

    for path in paths:
        visit(path)
    return ordered


def _own_process_ids(bpmn_xml: bytes) -> list[str]:
    from app.engine import safe_xml_root

    root = safe_xml_root(bpmn_xml)
    return [str(p) for p in root.xpath(
        "//bpmn:process/@id", namespaces={"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL"})]


def sync_workflow_files(directory: str | Path) -> list[tuple[ProcessVersion, bool]]:
    """Deploy every DMN and BPMN file in `workflows/` whose content is not yet a version
    (decisions first, then processes with callees before callers). One transaction: all files
    deploy, or none do. Returns the BPMN results."""
    results = []
    try:
        for path in sorted(Path(directory).glob("*.dmn")):
            deploy_decision(path.read_bytes(), path.name,
                            comment=f"Deployed from workflows/{path.name}")
        for path in _callees_first(sorted(Path(directory).glob("*.bpmn"))):
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
        raise NotFound(Message(N_("No process named %(process)s is deployed."),
                               process=repr(process_key)))
    return version


def parsed_version(version: ProcessVersion) -> ParsedProcess:
    """The executable spec of a version with the exact called processes and decisions it
    pinned (parsed once per bundle of contents, then cached)."""
    pins = version.dependencies
    # A version's content never changes and its hash identifies it (with its pins: the bundle
    # hash), so a cached parse is found without reading the diagram's XML.
    cached = cached_process(pins.get("bundle_hash", "") if pins else version.content_hash)
    if cached is not None:
        return cached
    if not pins:
        return parse_process(version.bpmn_xml.encode("utf-8"), version.source_name)
    called, decisions = dependency_documents(version)
    return parse_process(version.bpmn_xml.encode("utf-8"), version.source_name,
                         called_processes=called, decisions=decisions)


def startable_processes() -> list[ProcessModel]:
    return list(db.session.scalars(select(ProcessModel).order_by(ProcessModel.name)))
