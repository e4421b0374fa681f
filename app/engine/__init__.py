"""The only package that imports SpiffWorkflow: parse, run, serialize, restrict scripts."""

from app.engine.decisions import ParsedDecisions, decision_problems
from app.engine.parser import (
    MAX_BPMN_BYTES,
    ParsedProcess,
    ProcessDefinitionError,
    References,
    bundle_hash,
    cached_process,
    content_hash,
    diagram_problems,
    parse_process,
    referenced_documents,
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
    "References",
    "ReadyHumanTask",
    "ScriptRestrictionError",
    "TaskNotReadyError",
    "WorkflowRuntime",
    "bundle_hash",
    "cached_process",
    "content_hash",
    "decision_problems",
    "diagram_problems",
    "parse_process",
    "referenced_documents",
    "safe_xml_root",
]
