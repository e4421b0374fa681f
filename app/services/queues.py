"""The approver's queue: open tasks a user may act on, filtered, sorted and paginated, and bulk
approval of many at once.

The page is one indexed query (partial indexes on open tasks by holder and by role pool, see
HumanTask) plus a count; filters narrow it by process, step, unit, due date and overdue.
Bulk actions complete each task separately through `tasks.complete_task` — its own transaction,
audit event and outcome — so one failing item never rolls back the others.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import aliased, defer, joinedload

from app.clock import clock
from app.extensions import db
from app.i18n import N_
from app.models import Case, Employee, HumanTask, OrgUnit, ProcessModel, ProcessVersion, User
from app.models.absence import as_utc
from app.services import process_models, tasks
from app.services.assignment import actionable_tasks_query, may_act_on
from app.services.errors import Message, ServiceError, ValidationFailed
from app.services.org import descendant_unit_ids
from forms.registry import UnknownFormError, form_for_key

# "due" walks the partial index (assignee_id, due_at, id) in order, so a page of a large queue
# is read without sorting the queue.
SORTS = {
    "due": (HumanTask.due_at.asc().nulls_last(), HumanTask.id),
    "-due": (HumanTask.due_at.desc().nulls_last(), HumanTask.id.desc()),
    "created": (HumanTask.created_at, HumanTask.id),
    "-created": (HumanTask.created_at.desc(), HumanTask.id.desc()),
    "step": (HumanTask.title, HumanTask.due_at, HumanTask.id),
}
MAX_PER_PAGE = 200
MAX_INT = 2**31 - 1
BULK_ACTIONS = ("approve", "return")
MAX_BULK = 200


@dataclass(frozen=True)
class QueueFilters:
    process: str | None = None  # process key: the step's own process or its case's
    step: str | None = None  # BPMN element id of the user task
    unit_id: int | None = None  # the subject's unit, and units below it
    due_before: datetime | None = None
    overdue: bool = False
    sort: str = "due"
    page: int = 1
    per_page: int = 50

    @classmethod
    def from_args(cls, args: Any) -> QueueFilters:
        """Read filters from query-string arguments; bad values fall back to defaults."""

        def integer(name: str, default: int | None) -> int | None:
            try:
                value = int(args.get(name)) if args.get(name) not in (None, "") else default
            except (TypeError, ValueError):
                return default
            # Ids and page numbers fit the database's 32-bit integers; a larger one would be a
            # driver error (PostgreSQL: integer out of range), not an empty page.
            return value if value is None or abs(value) <= MAX_INT else default

        due_before = None
        if args.get("due_before"):
            try:
                due_before = datetime.fromisoformat(args["due_before"])
            except ValueError:
                due_before = None
            if due_before is not None and due_before.tzinfo is None:
                due_before = due_before.replace(tzinfo=clock.now().tzinfo)
            if due_before is not None and len(args["due_before"]) == 10:  # a date: whole day
                try:
                    due_before += timedelta(days=1)
                except OverflowError:  # 9999-12-31: the end of time, so no filter at all
                    due_before = None
        sort = args.get("sort") or "due"
        return cls(
            process=args.get("process") or None,
            step=args.get("step") or None,
            unit_id=integer("unit", None),
            due_before=due_before,
            overdue=str(args.get("overdue", "")).lower() in ("1", "true", "on", "yes"),
            sort=sort if sort in SORTS else "due",
            page=max(1, integer("page", 1) or 1),
            per_page=min(MAX_PER_PAGE, max(1, integer("per_page", 50) or 50)),
        )


@dataclass
class QueuePage:
    items: list[HumanTask]
    total: int
    filters: QueueFilters
    now: datetime

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.filters.per_page))

    def is_overdue(self, task: HumanTask) -> bool:
        return task.due_at is not None and as_utc(task.due_at) < self.now


def _filtered(user: User, filters: QueueFilters, now: datetime) -> Any:
    query = actionable_tasks_query(user).order_by(None)
    # Process versions and units are few: resolved to literal ids first, and each task's case
    # is looked up by a correlated scalar subquery (a primary-key probe per candidate task), so
    # PostgreSQL never trades the user's few indexed tasks for a scan of every case.
    case = aliased(Case)
    subject = aliased(Employee)
    if filters.process:
        version_ids = list(db.session.scalars(
            select(ProcessVersion.id).join(ProcessModel)
            .where(ProcessModel.key == filters.process)))
        version_of_case = (select(case.process_version_id).where(case.id == HumanTask.case_id)
                           .correlate(HumanTask).scalar_subquery())
        # A step belongs to its own process (the called one, inside a call activity) and to its
        # case's: "Goal setting" lists goal-setting steps wherever they run, stand-alone or
        # inside an annual appraisal; "Annual appraisal" lists every step of an appraisal case,
        # those of the processes it calls included.
        query = query.where(or_(HumanTask.process_key == filters.process,
                                version_of_case.in_(version_ids)))
    if filters.step:
        query = query.where(HumanTask.task_name == filters.step)
    if filters.unit_id is not None:
        unit_of_subject = (
            select(subject.org_unit_id).join(case, case.subject_employee_id == subject.id)
            .where(case.id == HumanTask.case_id).correlate(HumanTask).scalar_subquery()
        )
        query = query.where(unit_of_subject.in_(sorted(descendant_unit_ids(filters.unit_id))))
    if filters.due_before is not None:
        query = query.where(HumanTask.due_at < filters.due_before)
    if filters.overdue:
        query = query.where(HumanTask.due_at < now)
    return query


def queue_page(user: User, filters: QueueFilters) -> QueuePage:
    """One page of the user's queue and its total. The page's ids are found first (index, filter,
    sort on narrow rows), then only those tasks are loaded with their case, subject, unit,
    process and people joined in, so sorting a large queue never drags the joins along."""
    now = clock.now()
    query = _filtered(user, filters, now)
    # The page's ids and the queue's total in one pass (a window count); a page past the end
    # has no rows to carry the total, so only then is it counted separately.
    rows = db.session.execute(
        query.with_only_columns(HumanTask.id, func.count().over())
        .order_by(*SORTS[filters.sort])
        .offset((filters.page - 1) * filters.per_page)
        .limit(filters.per_page)
    ).all()
    ids = [task_id for task_id, _ in rows]
    total = rows[0][1] if rows else (
        db.session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    loaded = {task.id: task for task in db.session.scalars(
        select(HumanTask).where(HumanTask.id.in_(ids)).options(
            joinedload(HumanTask.case).joinedload(Case.subject).joinedload(Employee.org_unit),
            joinedload(HumanTask.case).joinedload(Case.process_version)
            .defer(ProcessVersion.bpmn_xml).joinedload(ProcessVersion.process_model),
            joinedload(HumanTask.owner),
            joinedload(HumanTask.assignee),
            joinedload(HumanTask.delegate),
        )
    )} if ids else {}
    items = [loaded[task_id] for task_id in ids]
    return QueuePage(items, total, filters, now)


# (version id, content hash) -> the version's user tasks; a version never changes.
_STEPS: dict[tuple[int, str], list[tuple[str, str]]] = {}


def _steps_of(version: ProcessVersion) -> list[tuple[str, str]]:
    key = (version.id, version.content_hash)
    if key not in _STEPS:
        try:
            parsed = process_models.parsed_version(version)
        except ServiceError:  # a version that no longer parses offers no steps
            return []
        _STEPS[key] = [(t["id"], t["name"]) for t in parsed.user_tasks]
    return _STEPS[key]


def filter_choices() -> dict[str, list[tuple[str, str]]]:
    """Processes (every deployed one: those run as cases and those called inside them, e.g.
    goal setting within an annual appraisal), their steps (from the current diagrams, parsed
    once and cached) and org units to filter the queue by: no scan of the task table."""
    models = list(db.session.scalars(select(ProcessModel).order_by(ProcessModel.name)))
    steps: set[tuple[str, str]] = set()
    newest = select(ProcessVersion.process_model_id,
                    func.max(ProcessVersion.version).label("version")).group_by(
        ProcessVersion.process_model_id).subquery()
    latest = db.session.scalars(
        select(ProcessVersion).options(defer(ProcessVersion.bpmn_xml))
        .join(newest, (newest.c.process_model_id == ProcessVersion.process_model_id)
              & (newest.c.version == ProcessVersion.version)))
    for version in latest:
        steps.update(_steps_of(version))
    units = [(str(u.id), u.name) for u in db.session.scalars(
        select(OrgUnit).order_by(OrgUnit.name).limit(500))]
    return {"processes": [(m.key, m.name) for m in models],
            "steps": sorted(steps, key=lambda step: step[1]), "units": units}


def supports_bulk(form_key: str) -> bool:
    try:
        return form_for_key(form_key).bulk_formdata("approve", "") is not None
    except UnknownFormError:
        return False


@dataclass(frozen=True)
class BulkOutcome:
    task_id: int
    title: str
    ok: bool
    message: str  # English; a `Message`, so a page shows it in the reader's language
    details: tuple[str, ...] = ()  # the field errors behind a refusal

    @property
    def full_message(self) -> str:
        """The message with its field errors, as the API reports it."""
        return f"{self.message} {'; '.join(self.details)}" if self.details else self.message


@dataclass
class BulkResult:
    action: str
    outcomes: list[BulkOutcome] = field(default_factory=list)

    @property
    def succeeded(self) -> int:
        return sum(o.ok for o in self.outcomes)

    @property
    def failed(self) -> int:
        return len(self.outcomes) - self.succeeded


def bulk_complete(user: User, task_ids: list[int], action: str, comment: str | None
                  ) -> BulkResult:
    """Approve (or return, with one comment) each task separately; report each outcome."""
    if action not in BULK_ACTIONS:
        raise ValidationFailed(N_("Choose approve or return."), {"action": ["Unknown action."]})
    comment = (comment or "").strip()
    if action == "return" and not comment:
        raise ValidationFailed(N_("Say why you are returning them: a comment is required."),
                               {"comment": ["Required when returning."]})
    ids = list(dict.fromkeys(task_ids))
    if not ids:
        raise ValidationFailed(N_("Select at least one task."), {"task_ids": ["Select tasks."]})
    if len(ids) > MAX_BULK:
        raise ValidationFailed(Message(N_("At most %(count)s tasks at once."), count=MAX_BULK),
                               {"task_ids": ["Too many."]})
    result = BulkResult(action)
    for task_id in ids:
        task = db.session.get(HumanTask, task_id)
        # Name only tasks the user may see in their queue; others stay "Task <id>".
        title = task.title if task is not None and may_act_on(user, task) else f"Task {task_id}"
        try:
            if task is None:
                raise ServiceError(Message(N_("No task %(id)s."), id=task_id))
            try:
                formdata = form_for_key(task.form_key).bulk_formdata(action, comment)
            except UnknownFormError:
                formdata = None
            if formdata is None:
                raise ServiceError(Message(
                    N_("“%(task)s” cannot be approved in bulk: open it."), task=task.title))
            tasks.complete_task(user, task_id, formdata, audit_details={"bulk": action})
        except ServiceError as exc:
            details = tuple(
                str(m) for msgs in exc.errors.values()
                for m in (msgs if isinstance(msgs, list) else [msgs])
            ) if isinstance(exc, ValidationFailed) and exc.errors else ()
            result.outcomes.append(BulkOutcome(task_id, title, False, exc.message, details))
        else:
            done = (N_("“%(task)s” approved.") if action == "approve"
                    else N_("“%(task)s” returned."))
            result.outcomes.append(BulkOutcome(task_id, title, True, Message(done, task=title)))
    return result
