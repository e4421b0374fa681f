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
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"


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
    lanes: list[dict[str, Any]] = field(repr=False, default_factory=list)


def content_hash(bpmn_xml: bytes) -> str:
    return hashlib.sha256(bpmn_xml).hexdigest()


_SAFE_XML_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False
)

_cache: dict[str, ParsedProcess] = {}
_cache_lock = Lock()


def safe_xml_root(bpmn_xml: bytes) -> Any:
    """The document's root element, parsed without DTDs, entities or network access, within the
    size limit; anything else raises ProcessDefinitionError."""
    return _check_xml(bpmn_xml)


def _check_xml(bpmn_xml: bytes) -> Any:
    if len(bpmn_xml) > MAX_BPMN_BYTES:
        raise ProcessDefinitionError(f"The diagram is larger than {MAX_BPMN_BYTES} bytes")
    try:
        root = etree.fromstring(bpmn_xml, parser=_SAFE_XML_PARSER)  # noqa: S320 - hardened parser
    except etree.XMLSyntaxError as exc:
        raise ProcessDefinitionError(f"Not well-formed XML: {exc}", line=exc.lineno) from exc
    doctype = root.getroottree().docinfo.doctype
    if doctype:
        raise ProcessDefinitionError("Document type declarations (DTD, entities) are not allowed")
    return root


def _code_problems(spec: Any, subprocess_specs: dict[str, Any]) -> list[ProcessDefinitionError]:
    """Every script and condition the restrictions refuse, not just the first, so an editor can
    mark each offending element at once."""
    problems: list[ProcessDefinitionError] = []
    for process_spec in [spec, *subprocess_specs.values()]:
        for task_spec in process_spec.task_specs.values():
            if isinstance(task_spec, ScriptEngineTask) and getattr(task_spec, "script", None):
                try:
                    compile_script(task_spec.script)
                except ScriptRestrictionError as exc:
                    problems.append(ProcessDefinitionError(
                        f"Script of {task_spec.bpmn_id} is not allowed: {exc}", task_spec.bpmn_id
                    ))
            for key in ("preScript", "postScript"):
                code = getattr(task_spec, "extensions", {}).get(key)
                if code:
                    try:
                        compile_script(code)
                    except ScriptRestrictionError as exc:
                        problems.append(ProcessDefinitionError(
                            f"{key} of {task_spec.bpmn_id} is not allowed: {exc}",
                            task_spec.bpmn_id,
                        ))
            for condition, _target in getattr(task_spec, "cond_task_specs", []):
                if isinstance(condition, _BpmnCondition) and condition.args:
                    try:
                        compile_expression(condition.args[0])
                    except (ScriptRestrictionError, SyntaxError) as exc:
                        problems.append(ProcessDefinitionError(
                            f"Condition {condition.args[0]!r} on {task_spec.bpmn_id} is not "
                            f"allowed: {exc}",
                            task_spec.bpmn_id,
                        ))
    return problems


def _check_code(spec: Any, subprocess_specs: dict[str, Any]) -> None:
    problems = _code_problems(spec, subprocess_specs)
    if problems:
        raise problems[0]


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
                    "due_in_days": props.get("dueInDays"),
                }
            )
    return tasks


def _parse_specs(bpmn_xml: bytes, source_name: str) -> tuple[str, Any, dict[str, Any]]:
    """XML safety checks, then SpiffWorkflow's parser with its schema validator."""
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
        return process_id, parser.get_spec(process_id), parser.get_subprocess_specs(process_id)
    except ProcessDefinitionError:
        raise
    except SpiffWorkflowException as exc:
        raise ProcessDefinitionError(
            str(exc),
            element_id=getattr(exc, "id", None) or getattr(exc, "sourceline", None),
            line=getattr(exc, "line_number", None) or None,
        ) from exc
    except etree.XMLSyntaxError as exc:
        raise ProcessDefinitionError(f"Not well-formed XML: {exc}", line=exc.lineno) from exc


def parse_process(bpmn_xml: bytes, source_name: str = "diagram.bpmn") -> ParsedProcess:
    """Parse and validate one BPMN document holding one executable process."""
    key = content_hash(bpmn_xml)
    with _cache_lock:
        if key in _cache:
            return _cache[key]
    process_id, spec, subprocess_specs = _parse_specs(bpmn_xml, source_name)
    _check_code(spec, subprocess_specs)
    parsed = ParsedProcess(
        process_id=process_id,
        name=spec.description or process_id,
        spec=spec,
        subprocess_specs=subprocess_specs,
        spec_json=spec_to_json(spec),
        subprocess_specs_json={k: spec_to_json(v) for k, v in subprocess_specs.items()},
        user_tasks=_user_tasks(spec),
        lanes=_lanes(bpmn_xml, process_id),
    )
    with _cache_lock:
        _cache[key] = parsed
    return parsed


def _lanes(bpmn_xml: bytes, process_id: str) -> list[dict[str, Any]]:
    """The process's lanes (id and name): the app checks each names a role it can resolve."""
    root = etree.fromstring(bpmn_xml, parser=_SAFE_XML_PARSER)  # noqa: S320 - hardened parser
    lanes = root.xpath(
        "//bpmn:process[@id=$pid]//bpmn:lane", namespaces={"bpmn": BPMN_NS}, pid=process_id
    )
    return [{"id": lane.get("id"), "name": lane.get("name")} for lane in lanes]


def _locate(error: ProcessDefinitionError, bpmn_xml: bytes) -> ProcessDefinitionError:
    """Schema errors come with a line, not an element: name the element on that line (or the
    nearest enclosing one with an id) so an editor can mark it."""
    if error.element_id or not error.line:
        return error
    try:
        root = etree.fromstring(bpmn_xml, parser=_SAFE_XML_PARSER)  # noqa: S320 - hardened parser
    except etree.XMLSyntaxError:
        return error
    for element in root.iter():
        if element.sourceline == error.line:
            while element is not None and not element.get("id"):
                element = element.getparent()
            if element is not None:
                return ProcessDefinitionError(error.message, element.get("id"), error.line)
            break
    return error


def diagram_problems(
    bpmn_xml: bytes, source_name: str = "diagram.bpmn"
) -> tuple[ParsedProcess | None, list[ProcessDefinitionError]]:
    """Everything the engine refuses in a diagram, each with its element id where one is known,
    so an editor can mark every problem at once.

    Returns the parsed process and [] when nothing is wrong. When only diagram code is refused,
    returns every such problem and, for inspection only (the app's own rules), a parsed process
    that is neither cached nor ever given to a runtime. When parsing itself fails, returns None
    and that one error."""
    key = content_hash(bpmn_xml)
    with _cache_lock:
        if key in _cache:
            return _cache[key], []
    try:
        process_id, spec, subprocess_specs = _parse_specs(bpmn_xml, source_name)
    except ProcessDefinitionError as exc:
        return None, [_locate(exc, bpmn_xml)]
    problems = _code_problems(spec, subprocess_specs)
    if not problems:
        return parse_process(bpmn_xml, source_name), []
    inspected = ParsedProcess(
        process_id=process_id,
        name=spec.description or process_id,
        spec=None,
        subprocess_specs={},
        spec_json="",
        subprocess_specs_json={},
        user_tasks=_user_tasks(spec),
        lanes=_lanes(bpmn_xml, process_id),
    )
    return inspected, problems
