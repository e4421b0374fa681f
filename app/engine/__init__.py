"""The only package that imports SpiffWorkflow: parse, run, serialize, restrict scripts."""

from app.engine.decisions import ParsedDecisions, decision_problems
from app.engine.parser import (
    MAX_BPMN_BYTES,
    ParsedProcess,
    ProcessDefinitionError,
    content_hash,
    diagram_problems,
    parse_process,
    safe_xml_root,
)
from app.engine.runtime import (
    EngineError,
    FiredTimer,
    ReadyHumanTask,
    TaskNotReadyError,
    WorkflowRuntime,
)
from app.engine.scripts import ScriptRestrictionError

__all__ = [
    "MAX_BPMN_BYTES",
    "ParsedDecisions",
    "EngineError",
    "FiredTimer",
    "ParsedProcess",
    "ProcessDefinitionError",
    "ReadyHumanTask",
    "ScriptRestrictionError",
    "TaskNotReadyError",
    "WorkflowRuntime",
    "content_hash",
    "decision_problems",
    "diagram_problems",
    "parse_process",
    "safe_xml_root",
]
