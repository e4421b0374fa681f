"""Parse BPMN into specs the runtime can execute, and refuse what must never run.

Every process version's XML goes through here: schema validation by SpiffWorkflow's validator,
XML parsed without entity expansion or network access, a size limit, and every script and
gateway condition compiled under the script restrictions. Parsed versions are cached by content
hash, so a case never re-parses its diagram.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from threading import Lock
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.specs.bpmn_task_spec import _BpmnCondition
from SpiffWorkflow.bpmn.specs.mixins.script_task import ScriptEngineTask
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser

from app.engine.scripts import ScriptRestrictionError, compile_expression, compile_script
from app.engine.serialization import spec_to_json

MAX_BPMN_BYTES = 1024 * 1024


class ProcessDefinitionError(ValueError):
    """A diagram the engine refuses, with the reason and (where known) the element id."""

    def __init__(self, message: str, element_id: str | None = None, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.element_id = element_id
        self.line = line

    def to_dict(self) -> dict[str, Any]:
        return {"message": self.message, "element_id": self.element_id, "line": self.line}


@dataclass(frozen=True)
class ParsedProcess:
    """An executable process version: the spec objects and their serialized form."""

    process_id: str
    name: str
    spec: Any
    subprocess_specs: dict[str, Any]
    spec_json: str = field(repr=False)
    subprocess_specs_json: dict[str, str] = field(repr=False)
    user_tasks: list[dict[str, Any]] = field(repr=False)


def content_hash(bpmn_xml: bytes) -> str:
    return hashlib.sha256(bpmn_xml).hexdigest()


_SAFE_XML_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False
)

_cache: dict[str, ParsedProcess] = {}
_cache_lock = Lock()


def _check_xml(bpmn_xml: bytes) -> None:
    if len(bpmn_xml) > MAX_BPMN_BYTES:
        raise ProcessDefinitionError(f"The diagram is larger than {MAX_BPMN_BYTES} bytes")
    try:
        root = etree.fromstring(bpmn_xml, parser=_SAFE_XML_PARSER)  # noqa: S320 - hardened parser
    except etree.XMLSyntaxError as exc:
        raise ProcessDefinitionError(f"Not well-formed XML: {exc}", line=exc.lineno) from exc
    doctype = root.getroottree().docinfo.doctype
    if doctype:
        raise ProcessDefinitionError("Document type declarations (DTD, entities) are not allowed")


def _check_code(spec: Any, subprocess_specs: dict[str, Any]) -> None:
    specs = [spec, *subprocess_specs.values()]
    for process_spec in specs:
        for task_spec in process_spec.task_specs.values():
            if isinstance(task_spec, ScriptEngineTask) and getattr(task_spec, "script", None):
                try:
                    compile_script(task_spec.script)
                except ScriptRestrictionError as exc:
                    raise ProcessDefinitionError(
                        f"Script of {task_spec.bpmn_id} is not allowed: {exc}", task_spec.bpmn_id
                    ) from exc
            for key in ("preScript", "postScript"):
                code = getattr(task_spec, "extensions", {}).get(key)
                if code:
                    try:
                        compile_script(code)
                    except ScriptRestrictionError as exc:
                        raise ProcessDefinitionError(
                            f"{key} of {task_spec.bpmn_id} is not allowed: {exc}",
                            task_spec.bpmn_id,
                        ) from exc
            for condition, _target in getattr(task_spec, "cond_task_specs", []):
                if isinstance(condition, _BpmnCondition) and condition.args:
                    try:
                        compile_expression(condition.args[0])
                    except (ScriptRestrictionError, SyntaxError) as exc:
                        raise ProcessDefinitionError(
                            f"Condition {condition.args[0]!r} on {task_spec.bpmn_id} is not "
                            f"allowed: {exc}",
                            task_spec.bpmn_id,
                        ) from exc


def _user_tasks(spec: Any) -> list[dict[str, Any]]:
    tasks = []
    for task_spec in spec.task_specs.values():
        if getattr(task_spec, "manual", False):
            props = task_spec.extensions.get("properties", {})
            tasks.append(
                {
                    "id": task_spec.bpmn_id,
                    "name": task_spec.bpmn_name or task_spec.bpmn_id,
                    "lane": task_spec.lane,
                    "form_key": props.get("formKey"),
                }
            )
    return tasks


def parse_process(bpmn_xml: bytes, source_name: str = "diagram.bpmn") -> ParsedProcess:
    """Parse and validate one BPMN document holding one executable process."""
    key = content_hash(bpmn_xml)
    with _cache_lock:
        if key in _cache:
            return _cache[key]
    _check_xml(bpmn_xml)
    parser = SpiffBpmnParser(validator=VALIDATOR)
    try:
        parser.add_bpmn_str(bpmn_xml, filename=source_name)
        process_ids = parser.get_process_ids()
        executable = [pid for pid in process_ids if parser.process_parsers[pid].process_executable]
        if len(executable) != 1:
            raise ProcessDefinitionError(
                f"A diagram must hold exactly one executable process; found {len(executable)}"
            )
        process_id = executable[0]
        spec = parser.get_spec(process_id)
        subprocess_specs = parser.get_subprocess_specs(process_id)
    except ProcessDefinitionError:
        raise
    except SpiffWorkflowException as exc:
        raise ProcessDefinitionError(
            str(exc),
            element_id=getattr(exc, "id", None) or getattr(exc, "sourceline", None),
            line=getattr(exc, "line_number", None),
        ) from exc
    except etree.XMLSyntaxError as exc:
        raise ProcessDefinitionError(f"Not well-formed XML: {exc}", line=exc.lineno) from exc
    _check_code(spec, subprocess_specs)
    parsed = ParsedProcess(
        process_id=process_id,
        name=spec.description or process_id,
        spec=spec,
        subprocess_specs=subprocess_specs,
        spec_json=spec_to_json(spec),
        subprocess_specs_json={k: spec_to_json(v) for k, v in subprocess_specs.items()},
        user_tasks=_user_tasks(spec),
    )
    with _cache_lock:
        _cache[key] = parsed
    return parsed
