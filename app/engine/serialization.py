"""One configured SpiffWorkflow serializer for the whole app.

Case state is stored without the process spec (the spec is stored once, on the process version),
which halves the size of every case row.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.serializer.default.workflow import (
    BpmnWorkflowConverter,
    WorkflowConverter,
)
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG

# Key under which `workflow_from_json` hands already-parsed specs to the converter.
_SPECS = "meezan:parsed_specs"


class _CaseStateConverter(BpmnWorkflowConverter):
    """Serializes a workflow without its spec and its called processes' specs: those are
    stored once per process version, and converting them for every case only to throw them
    away was most of the cost of saving a case (a process with five call activities converts six
    specs). The same keys as BpmnWorkflowConverter.to_dict (SpiffWorkflow 3.2.0) otherwise;
    restoring is unchanged (`workflow_from_json` puts the specs back)."""

    def to_dict(self, workflow: Any) -> dict[str, Any]:
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct: dict[str, Any]) -> Any:
        """BpmnWorkflowConverter.from_dict (SpiffWorkflow 3.2.0), except that specs already
        parsed (`_SPECS`: the version's, shared like `WorkflowRuntime.start` shares them) are
        used as they are instead of being rebuilt from their dicts on every load (a third of
        what loading a case cost)."""
        specs = dct.pop(_SPECS, None)
        if specs is None:
            return super().from_dict(dct)
        spec, subprocess_specs = specs
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


_registry = BpmnWorkflowSerializer.configure({**SPIFF_CONFIG, BpmnWorkflow: _CaseStateConverter})
serializer = BpmnWorkflowSerializer(_registry)

SERIALIZER_VERSION: str = serializer.VERSION


def spec_to_json(spec: Any) -> str:
    """Specs are kept as JSON text: restoring consumes the dict it is given, so each load
    needs a fresh copy, and json.loads is the cheapest way to get one."""
    return json.dumps(serializer.to_dict(spec), separators=(",", ":"))


def workflow_to_json(workflow: Any) -> str:
    state = serializer.to_dict(workflow)
    state.pop("spec", None)
    state.pop("subprocess_specs", None)
    return json.dumps(state, separators=(",", ":"))


def workflow_from_json(
    state_json: str,
    version: str,
    spec_json: str,
    subprocess_specs_json: dict[str, str],
    specs: tuple[Any, dict[str, Any]] | None = None,
) -> Any:
    """Restore a case's workflow. `specs` (the parsed spec and called-process specs of the
    same version) are used directly when the state needs no migration; otherwise the specs are
    restored from their JSON, which a migration may rewrite along with the state."""
    state = json.loads(state_json)
    if specs is not None and version == SERIALIZER_VERSION:
        state[_SPECS] = specs
        return serializer.from_dict(state)
    state["spec"] = json.loads(spec_json)
    state["subprocess_specs"] = {k: json.loads(v) for k, v in subprocess_specs_json.items()}
    state[serializer.VERSION_KEY] = version
    serializer.migrate(state)
    return serializer.from_dict(state)
