"""The only package that imports SpiffWorkflow: parse, run, serialize, restrict scripts."""

from app.engine.parser import ParsedProcess, ProcessDefinitionError, content_hash, parse_process
from app.engine.runtime import EngineError, ReadyHumanTask, TaskNotReadyError, WorkflowRuntime
from app.engine.scripts import ScriptRestrictionError

__all__ = [
    "EngineError",
    "ParsedProcess",
    "ProcessDefinitionError",
    "ReadyHumanTask",
    "ScriptRestrictionError",
    "TaskNotReadyError",
    "WorkflowRuntime",
    "content_hash",
    "parse_process",
]
