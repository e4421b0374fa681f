"""The one class that holds a live BpmnWorkflow.

Services load a case's workflow into a `WorkflowRuntime`, act on it, and dump its state back in
the same transaction. Nothing outside `app.engine` sees a SpiffWorkflow object.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState

from app.engine.parser import ParsedProcess
from app.engine.scripts import restricted_script_engine
from app.engine.serialization import SERIALIZER_VERSION, workflow_from_json, workflow_to_json
from app.engine.timers import TIMER_EVENT_TYPES, parse_due

# SpiffWorkflow names the split before an activity with boundary events
# "<activity>.BoundaryEventSplit".
_BOUNDARY_SPLIT = ".BoundaryEventSplit"


class EngineError(RuntimeError):
    """The engine could not run the process (bad data for a condition, a failing script...)."""


class TaskNotReadyError(LookupError):
    """The engine task is not waiting for a person (already completed, or never existed)."""


@dataclass(frozen=True)
class FiredTimer:
    element_id: str
    name: str | None
    # For a boundary timer: the activity it is attached to, and its `timerPurpose` property
    # ("reminder" or "escalation") telling the app what to do beyond what the diagram does.
    attached_to: str | None = None
    purpose: str | None = None


@dataclass(frozen=True)
class ReadyHumanTask:
    """What the app needs to know about a user task waiting for a person."""

    engine_task_id: str
    task_name: str
    title: str
    lane: str | None
    form_key: str | None
    due_in_days: int | None
    instructions: str | None
    # The process the task's diagram belongs to: the called process's id for a step inside a
    # call activity (goal setting inside an annual appraisal), else the case's own process.
    process_key: str | None = None


def _to_ready(task: Any) -> ReadyHumanTask:
    spec = task.task_spec
    props = spec.extensions.get("properties", {})
    due = props.get("dueInDays")
    return ReadyHumanTask(
        engine_task_id=str(task.id),
        task_name=spec.bpmn_id,
        title=spec.bpmn_name or spec.bpmn_id,
        lane=spec.lane,
        form_key=props.get("formKey"),
        due_in_days=int(due) if due not in (None, "") else None,
        instructions=spec.extensions.get("instructionsForEndUser"),
        process_key=task.workflow.spec.name,
    )


class WorkflowRuntime:
    def __init__(self, workflow: BpmnWorkflow) -> None:
        self._workflow = workflow

    @classmethod
    def start(cls, process: ParsedProcess, data: dict[str, Any]) -> WorkflowRuntime:
        workflow = BpmnWorkflow(
            process.spec, process.subprocess_specs, script_engine=restricted_script_engine()
        )
        workflow.data.update(data)
        start = workflow.get_tasks(state=TaskState.READY)
        for task in start:
            task.data.update(data)
        runtime = cls(workflow)
        runtime._run_engine()
        return runtime

    @classmethod
    def load(cls, process: ParsedProcess, state_json: str, version: str) -> WorkflowRuntime:
        workflow = workflow_from_json(
            state_json, version, process.spec_json, process.subprocess_specs_json,
            specs=(process.spec, process.subprocess_specs),
        )
        # The script engine is not serialized: without this the case would run unrestricted.
        workflow.script_engine = restricted_script_engine()
        return cls(workflow)

    def dump(self) -> tuple[str, str]:
        return workflow_to_json(self._workflow), SERIALIZER_VERSION

    def _run_engine(self) -> None:
        try:
            self._workflow.do_engine_steps()
        except SpiffWorkflowException as exc:
            raise EngineError(str(exc)) from exc

    def ready_human_tasks(self) -> list[ReadyHumanTask]:
        return [_to_ready(t) for t in self._workflow.get_tasks(state=TaskState.READY, manual=True)]

    def task_data(self, engine_task_id: str) -> dict[str, Any]:
        task = self._get_ready(engine_task_id)
        return dict(task.data)

    def _get_ready(self, engine_task_id: str) -> Any:
        try:
            task = self._workflow.get_task_from_id(UUID(engine_task_id))
        except (KeyError, ValueError, SpiffWorkflowException) as exc:
            raise TaskNotReadyError(engine_task_id) from exc
        if task is None or task.state != TaskState.READY or not task.task_spec.manual:
            raise TaskNotReadyError(engine_task_id)
        return task

    def complete_task(self, engine_task_id: str, data: dict[str, Any]) -> None:
        """Merge validated form data into the task and run the engine to the next wait state."""
        task = self._get_ready(engine_task_id)
        task.data.update(data)
        try:
            task.run()
        except SpiffWorkflowException as exc:
            raise EngineError(str(exc)) from exc
        self._run_engine()

    @property
    def is_completed(self) -> bool:
        return self._workflow.is_completed()

    def current_data(self) -> dict[str, Any]:
        """The case's data as the engine sees it now: the ready tasks' data, or the final data."""
        if self._workflow.is_completed():
            return dict(self._workflow.data) | dict(self._workflow.last_task.data
                                                    if self._workflow.last_task else {})
        ready = self._workflow.get_tasks(state=TaskState.READY, manual=True)
        if ready:
            return dict(ready[0].data)
        # Waiting for a timer, perhaps inside a called process (an interview scheduled, not yet
        # due): the task that changed last holds the newest data. The top workflow's own last
        # task knows nothing of a call activity still running.
        candidates = list(self._workflow.get_tasks(state=TaskState.WAITING))
        if self._workflow.last_task is not None:
            candidates.append(self._workflow.last_task)
        if candidates:
            return dict(max(candidates, key=lambda task: task.last_state_change).data)
        return dict(self._workflow.data)

    def next_timer_due(self) -> datetime | None:
        """When the earliest pending timer of this case falls due (stored on the case row so a
        worker finds due cases with one indexed query)."""
        dues = [
            parse_due(event.value)
            for event in self._workflow.waiting_events()
            if event.event_type in TIMER_EVENT_TYPES
        ]
        dues = [d for d in dues if d is not None]
        return min(dues) if dues else None

    def fire_due_timers(self) -> list[FiredTimer]:
        """Let every timer whose time has come fire, and run the engine on from there.

        A timer fired if its waiting task is gone afterwards, or (a cycle timer) its next due
        time moved on."""
        before = self._waiting_timers()
        try:
            self._workflow.refresh_timers()
        except SpiffWorkflowException as exc:
            raise EngineError(str(exc)) from exc
        self._run_engine()
        after = self._waiting_timers()
        return [
            FiredTimer(
                element_id=spec.bpmn_id,
                name=spec.bpmn_name,
                attached_to=attached,
                purpose=spec.extensions.get("properties", {}).get("timerPurpose"),
            )
            for task_id, (spec, value, attached) in before.items()
            if task_id not in after or after[task_id][1] != value
        ]

    def _waiting_timers(self) -> dict[Any, tuple[Any, Any, str | None]]:
        timers = {}
        for task_id, task in self._workflow.event_manager.tasks.items():
            details = task.task_spec.event_definition.details(task)
            if details.event_type in TIMER_EVENT_TYPES:
                parent = task.parent.task_spec.name if task.parent is not None else ""
                attached = parent.removesuffix(_BOUNDARY_SPLIT) if parent.endswith(
                    _BOUNDARY_SPLIT) else None
                timers[task_id] = (task.task_spec, repr(details.value), attached)
        return timers

    def active_elements(self) -> list[str]:
        """BPMN ids of the main process's elements that are under way: a call activity whose
        process runs, a timer event waiting, a user task ready. Where the case is in its year
        (the reporting projection maps them to stages)."""
        live = (TaskState.READY, TaskState.WAITING, TaskState.STARTED)
        return [t.task_spec.bpmn_id for t in self._workflow.tasks.values()
                if t.state in live and getattr(t.task_spec, "bpmn_id", None)]

    def completed_element_ids(self) -> list[str]:
        return [
            t.task_spec.bpmn_id
            for t in self._workflow.get_tasks(state=TaskState.COMPLETED)
            if getattr(t.task_spec, "bpmn_id", None)
        ]
