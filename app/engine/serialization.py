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
    state_json: str, version: str, spec_json: str, subprocess_specs_json: dict[str, str]
) -> Any:
    state = json.loads(state_json)
    state["spec"] = json.loads(spec_json)
    state["subprocess_specs"] = {k: json.loads(v) for k, v in subprocess_specs_json.items()}
    state[serializer.VERSION_KEY] = version
    serializer.migrate(state)
    return serializer.from_dict(state)
