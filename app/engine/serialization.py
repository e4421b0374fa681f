"""One configured SpiffWorkflow serializer for the whole app.

Case state is stored without the process spec (the spec is stored once, on the process version),
which halves the size of every case row.
"""

from __future__ import annotations

import json
from typing import Any

from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG

_registry = BpmnWorkflowSerializer.configure(SPIFF_CONFIG)
serializer = BpmnWorkflowSerializer(_registry)

SERIALIZER_VERSION: str = serializer.VERSION


def spec_to_dict(spec: Any) -> dict[str, Any]:
    return serializer.to_dict(spec)


def workflow_to_json(workflow: Any) -> str:
    state = serializer.to_dict(workflow)
    state.pop("spec", None)
    state.pop("subprocess_specs", None)
    return json.dumps(state, separators=(",", ":"))


def workflow_from_json(
    state_json: str, version: str, spec_dict: dict[str, Any], subprocess_specs_dict: dict[str, Any]
) -> Any:
    state = json.loads(state_json)
    state["spec"] = spec_dict
    state["subprocess_specs"] = subprocess_specs_dict
    state[serializer.VERSION_KEY] = version
    serializer.migrate(state)
    return serializer.from_dict(state)
