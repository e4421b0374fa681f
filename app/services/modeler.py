"""Process owners change how the organisation works by editing diagrams in the browser.

A draft per process holds what the owner is editing; validating it runs the engine's checks and
the app's own rules and reports every problem with the id of its diagram element; deploying a
valid draft makes it the next version (cases already running keep their own). Versions can be
listed, compared, exported, and rolled back to (an older version's XML deployed again).
Only process owners and administrators may do any of this; each public function that changes
state owns one transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from app.engine import (
    MAX_BPMN_BYTES,
    ProcessDefinitionError,
    WorkflowRuntime,
    content_hash,
    decision_problems,
    diagram_problems,
    safe_xml_root,
)
from app.extensions import db
from app.i18n import N_
from app.models import (
    Case,
    CaseStatus,
    HumanTask,
    ProcessDraft,
    ProcessModel,
    ProcessVersion,
    Role,
    TaskStatus,
    User,
)
from app.models.base import utcnow
from app.services import cases, process_models
from app.services.assignment import KNOWN_LANES
from app.services.diagram_diff import DiagramDiff, diff_diagrams
from app.services.errors import Conflict, Message, NotFound, PermissionDenied, ValidationFailed
from app.services.transaction import unit_of_work
from forms.registry import FORM_REGISTRY

MAX_COMMENT_CHARS = 2000


@contextmanager
def _one_at_a_time() -> Iterator[None]:
    """A unit of work where a concurrent save or deploy of the same process (caught by the
    unique constraints on drafts and version numbers) is a conflict, not a server error."""
    try:
        with unit_of_work():
            yield
    except IntegrityError as exc:
        raise Conflict(N_("Someone else changed this process at the same moment; reload and "
                          "try again.")) from exc


def may_model(user: User) -> bool:
    """Process owners maintain the diagrams; administrators may stand in for them."""
    return user.has_role(Role.PROCESS_OWNER) or user.has_role(Role.ADMIN)


def may_read_processes(user: User) -> bool:
    """Who may read the processes, their versions, diffs and exported XML: the modellers and
    auditors (who read everything and change nothing)."""
    return may_model(user) or user.has_role(Role.AUDITOR)


def _require_modeler(user: User) -> None:
    if not may_model(user):
        raise PermissionDenied(N_("Only process owners and administrators may edit processes."))


def _require_reader(user: User) -> None:
    if not may_read_processes(user):
        raise PermissionDenied(N_("Only process owners, auditors and administrators may read "
                                  "processes."))


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a diagram, next to the element it is about (when known)."""

    message: str
    element_id: str | None = None
    line: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"message": self.message, "element_id": self.element_id, "line": self.line}


@dataclass(frozen=True)
class ValidationReport:
    valid: bool
    problems: list[Problem]
    process_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "process_id": self.process_id,
            "problems": [p.to_dict() for p in self.problems],
        }


def check_diagram(bpmn_xml: bytes, source_name: str, process_key: str | None) -> ValidationReport:
    """Everything the engine and the app refuse in a diagram, each problem with its element id.
    With `process_key`, the diagram must also be that process."""
    parsed, errors = diagram_problems(bpmn_xml, source_name)
    problems = [Problem(e.message, e.element_id, e.line) for e in errors]
    if parsed is None:
        return ValidationReport(False, problems)
    problems += [
        Problem(p["message"], p["element_id"]) for p in process_models.meezan_problems(parsed)
    ]
    if process_key is not None and parsed.process_id != process_key:
        problems.append(Problem(
            f"This is the editor of process {process_key!r}, but the diagram's executable "
            f"process is {parsed.process_id!r}; keep the process id.", parsed.process_id))
    return ValidationReport(not problems, problems, parsed.process_id)


# ---- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProcessSummary:
    key: str
    name: str
    current: ProcessVersion | None
    draft: ProcessDraft | None


def list_processes(user: User) -> list[ProcessSummary]:
    _require_reader(user)
    models = db.session.scalars(
        select(ProcessModel).options(selectinload(ProcessModel.versions)).order_by(
            ProcessModel.name)
    )
    drafts = {d.process_key: d for d in db.session.scalars(select(ProcessDraft))}
    summaries = [
        ProcessSummary(
            m.key, m.name, m.versions[-1] if m.versions else None, drafts.pop(m.key, None)
        )
        for m in models
    ]
    summaries += [ProcessSummary(k, k, None, d) for k, d in sorted(drafts.items())]
    return summaries


def _model(process_key: str) -> ProcessModel | None:
    return db.session.scalar(select(ProcessModel).where(ProcessModel.key == process_key))


def _current(process_key: str) -> ProcessVersion | None:
    try:
        return process_models.current_version(process_key)
    except NotFound:
        return None


def _draft(process_key: str) -> ProcessDraft | None:
    return db.session.scalar(select(ProcessDraft).where(ProcessDraft.process_key == process_key))


@dataclass(frozen=True)
class ModelerView:
    process_key: str
    name: str
    bpmn_xml: str
    current: ProcessVersion | None
    draft: ProcessDraft | None

    @property
    def draft_is_stale(self) -> bool:
        """Someone deployed a version after this draft was started from another one."""
        return (
            self.draft is not None
            and self.current is not None
            and self.draft.base_version_id != self.current.id
        )


def modeler_view(user: User, process_key: str) -> ModelerView:
    """What the modeler opens: the saved draft if there is one, else the current version."""
    _require_modeler(user)
    current, draft = _current(process_key), _draft(process_key)
    if current is None and draft is None:
        raise NotFound(Message(N_("No process %(process)s is deployed or drafted."),
                               process=repr(process_key)))
    xml = draft.bpmn_xml if draft is not None else current.bpmn_xml  # type: ignore[union-attr]
    name = current.process_model.name if current is not None else process_key
    return ModelerView(process_key, name, xml, current, draft)


def modeler_options(user: User) -> dict[str, Any]:
    """What the properties panel offers: the forms the app knows and the lanes it resolves."""
    _require_modeler(user)
    return {
        "forms": [
            {"key": key, "title": key.replace("_", " ").capitalize()}
            for key in sorted(FORM_REGISTRY)
        ],
        "lanes": list(KNOWN_LANES),
        "max_bytes": MAX_BPMN_BYTES,
    }


# ---- drafts ----------------------------------------------------------------------------------


def _check_upload(bpmn_xml: bytes) -> None:
    """Size limit and hardened parsing before anything is stored."""
    if not bpmn_xml.strip():
        raise ValidationFailed(N_("The diagram is empty."),
                               {"diagram": [Problem("empty").to_dict()]})
    try:
        safe_xml_root(bpmn_xml)
    except ProcessDefinitionError as exc:
        raise ValidationFailed(exc.message, {"diagram": [exc.to_dict()]}) from exc


def save_draft(user: User, process_key: str, bpmn_xml: bytes) -> ProcessDraft:
    """Store what the owner is editing; it need not be valid yet, only safe XML."""
    _require_modeler(user)
    _check_upload(bpmn_xml)
    with _one_at_a_time():
        draft = _draft(process_key)
        if draft is None:
            if _model(process_key) is None:
                # A brand-new process starts from an uploaded diagram that must name it.
                report = check_diagram(bpmn_xml, f"{process_key}.bpmn", None)
                if report.process_id not in (None, process_key):
                    raise ValidationFailed(
                        Message(N_("The diagram's process id is %(found)s, not %(process)s."),
                                found=repr(report.process_id), process=repr(process_key)),
                        {"diagram": []})
            current = _current(process_key)
            draft = ProcessDraft(
                process_key=process_key,
                base_version_id=current.id if current is not None else None,
                created_at=utcnow(),
            )
            db.session.add(draft)
        draft.bpmn_xml = bpmn_xml.decode("utf-8")
        draft.content_hash = content_hash(bpmn_xml)
        draft.updated_by_id = user.id
        draft.updated_at = utcnow()
    return draft


def upload_new_process(user: User, bpmn_xml: bytes, filename: str) -> ProcessDraft:
    """Start a draft from an uploaded BPMN file, for a new process or an existing one."""
    _require_modeler(user)
    _check_upload(bpmn_xml)
    report = check_diagram(bpmn_xml, filename, None)
    if report.process_id is None:
        raise ValidationFailed(
            Message(N_("The file is not a diagram Meezan can read: %(problems)s"),
                    problems="; ".join(p.message for p in report.problems[:3])),
            {"diagram": [p.to_dict() for p in report.problems]},
        )
    return save_draft(user, report.process_id, bpmn_xml)


def discard_draft(user: User, process_key: str) -> None:
    _require_modeler(user)
    with unit_of_work():
        draft = _draft(process_key)
        if draft is None:
            raise NotFound(Message(N_("There is no draft of %(process)s."),
                                   process=repr(process_key)))
        db.session.delete(draft)


def validate_draft(user: User, process_key: str) -> ValidationReport:
    """Parse the saved draft with the engine and the app's rules."""
    _require_modeler(user)
    draft = _draft(process_key)
    if draft is None:
        raise NotFound(Message(N_("There is no draft of %(process)s: save first."),
                               process=repr(process_key)))
    return check_diagram(draft.bpmn_xml.encode("utf-8"), f"{process_key}.bpmn", process_key)


def _comment(comment: str | None) -> str:
    comment = (comment or "").strip()
    if not comment:
        raise ValidationFailed(N_("Say what changed: a comment is required."),
                               {"comment": ["Say what changed."]})
    if len(comment) > MAX_COMMENT_CHARS:
        raise ValidationFailed(N_("The comment is too long."),
                               {"comment": [f"At most {MAX_COMMENT_CHARS} characters."]})
    return comment


def deploy_draft(user: User, process_key: str, comment: str | None) -> ProcessVersion:
    """A valid draft becomes the next version: new cases start on it, running cases stay on
    theirs. Refused if another version was deployed since the draft was started."""
    _require_modeler(user)
    comment = _comment(comment)
    with _one_at_a_time():
        draft = _draft(process_key)
        if draft is None:
            raise NotFound(Message(N_("There is no draft of %(process)s to deploy."),
                                   process=repr(process_key)))
        current = _current(process_key)
        if current is not None and draft.base_version_id != current.id:
            raise Conflict(Message(
                N_("Version %(number)s was deployed after this draft was started; discard the "
                   "draft and make the change on the current version."),
                number=current.version))
        bpmn_xml = draft.bpmn_xml.encode("utf-8")
        report = check_diagram(bpmn_xml, f"{process_key}.bpmn", process_key)
        if not report.valid:
            raise ValidationFailed(
                Message(N_("The draft is not valid: %(problem)s"),
                        problem=report.problems[0].message),
                {"diagram": [p.to_dict() for p in report.problems]},
            )
        version, created = process_models.deploy(bpmn_xml, f"{process_key}.bpmn", user, comment)
        if not created:
            raise Conflict(Message(
                N_("The draft is identical to version %(number)s; nothing to deploy."),
                number=version.version))
        db.session.delete(draft)
    return version


# ---- versions --------------------------------------------------------------------------------


def list_versions(user: User, process_key: str) -> list[ProcessVersion]:
    _require_reader(user)
    versions = list(db.session.scalars(
        select(ProcessVersion)
        .join(ProcessModel)
        .where(ProcessModel.key == process_key)
        .options(selectinload(ProcessVersion.deployed_by))
        .order_by(ProcessVersion.version.desc())
    ))
    if not versions:
        raise NotFound(Message(N_("No process %(process)s is deployed."),
                               process=repr(process_key)))
    return versions


def get_version(user: User, process_key: str, number: int) -> ProcessVersion:
    _require_reader(user)
    version = db.session.scalar(
        select(ProcessVersion)
        .join(ProcessModel)
        .where(ProcessModel.key == process_key, ProcessVersion.version == number)
    )
    if version is None:
        raise NotFound(Message(N_("%(process)s has no version %(number)s."),
                               process=repr(process_key), number=number))
    return version


def export_version(user: User, process_key: str, number: int) -> tuple[str, bytes]:
    """The file name and XML of a version, as deployed."""
    version = get_version(user, process_key, number)
    return f"{process_key}-v{version.version}.bpmn", version.bpmn_xml.encode("utf-8")


def diff_versions(user: User, process_key: str, old: int, new: int) -> DiagramDiff:
    old_version = get_version(user, process_key, old)
    new_version = get_version(user, process_key, new)
    return diff_diagrams(old_version.bpmn_xml.encode("utf-8"),
                         new_version.bpmn_xml.encode("utf-8"))


def diff_against_current(user: User, process_key: str) -> DiagramDiff | None:
    """What deploying the draft would change, compared with the current version."""
    view = modeler_view(user, process_key)
    if view.draft is None or view.current is None:
        return None
    try:
        return diff_diagrams(view.current.bpmn_xml.encode("utf-8"),
                             view.draft.bpmn_xml.encode("utf-8"))
    except ProcessDefinitionError:
        return None


def rollback(user: User, process_key: str, number: int, comment: str | None) -> ProcessVersion:
    """Deploy an older version's XML again, as a new version: history only grows."""
    _require_modeler(user)
    comment = _comment(comment)
    with _one_at_a_time():
        target = get_version(user, process_key, number)
        current = process_models.current_version(process_key)
        if target.id == current.id:
            raise Conflict(Message(N_("Version %(number)s is already the current version."),
                                   number=number))
        version, _created = process_models.deploy(
            target.bpmn_xml.encode("utf-8"), target.source_name, user, comment, repeat_of=target
        )
    return version


# ---- impact and case diagrams ----------------------------------------------------------------


@dataclass(frozen=True)
class StepCount:
    version: int
    task_name: str
    title: str
    open_tasks: int


@dataclass(frozen=True)
class Impact:
    """Running cases of a process by version, and the steps they wait at."""

    cases_by_version: dict[int, int]
    steps: list[StepCount] = field(default_factory=list)

    @property
    def running_cases(self) -> int:
        return sum(self.cases_by_version.values())


def impact(user: User, process_key: str) -> Impact:
    """What a deploy touches: it changes none of these cases, but the owner should know how
    many are running on the old version(s), and where."""
    _require_modeler(user)
    running = (
        select(ProcessVersion.version, func.count(Case.id))
        .join(Case, Case.process_version_id == ProcessVersion.id)
        .join(ProcessModel)
        .where(ProcessModel.key == process_key, Case.status == CaseStatus.RUNNING)
        .group_by(ProcessVersion.version)
    )
    steps = (
        select(ProcessVersion.version, HumanTask.task_name, func.min(HumanTask.title),
               func.count(HumanTask.id))
        .join(Case, HumanTask.case_id == Case.id)
        .join(ProcessVersion, Case.process_version_id == ProcessVersion.id)
        .join(ProcessModel)
        .where(ProcessModel.key == process_key, Case.status == CaseStatus.RUNNING,
               HumanTask.status == TaskStatus.OPEN)
        .group_by(ProcessVersion.version, HumanTask.task_name)
        .order_by(ProcessVersion.version, HumanTask.task_name)
    )
    return Impact(
        cases_by_version={v: n for v, n in db.session.execute(running)},
        steps=[StepCount(v, name, title, n) for v, name, title, n in db.session.execute(steps)],
    )


def case_diagram(user: User, case_id: int) -> dict[str, Any]:
    """The diagram of the case's own version, with the steps done and the steps waiting; only
    for users who may view the case."""
    case = cases.get_case_for(user, case_id)
    version = case.process_version
    runtime = WorkflowRuntime.load(
        process_models.parsed_version(version), case.workflow_state, case.serializer_version
    )
    current = sorted({t.task_name for t in case.tasks if t.status == TaskStatus.OPEN})
    return {
        "case_id": case.id,
        "process": version.process_model.key,
        "version": version.version,
        "bpmn_xml": version.bpmn_xml,
        "completed": sorted(set(runtime.completed_element_ids()) - set(current)),
        "current": current,
    }


# ---- decision tables -------------------------------------------------------------------------


def validate_decision_table(user: User, dmn_xml: bytes, filename: str) -> dict[str, Any]:
    """Check an uploaded DMN table with SpiffWorkflow's DMN parser and the script restrictions
    (its cells are Python expressions). Nothing is stored."""
    _require_modeler(user)
    if len(dmn_xml) > MAX_BPMN_BYTES:
        problems = [Problem(f"The file is larger than {MAX_BPMN_BYTES} bytes")]
        return {"valid": False, "decisions": [], "problems": [p.to_dict() for p in problems]}
    parsed, errors = decision_problems(dmn_xml, filename)
    return {
        "valid": parsed is not None,
        "decisions": parsed.decisions if parsed is not None else [],
        "problems": [e.to_dict() for e in errors],
    }
