"""Parse BPMN into specs the runtime can execute, and refuse what must never run.

Every process version's XML goes through here: schema validation by SpiffWorkflow's validator,
XML parsed without entity expansion or network access, a size limit, and every script and
gateway condition compiled under the script restrictions. Parsed versions are cached by content
hash, so a case never re-parses its diagram.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
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
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"

# Documents a diagram depends on, by the id it refers to them with: a call activity's
# `calledElement` (a process id) or a business-rule task's `calledDecisionId`.
# Each value is (document bytes, source name).
Documents = Mapping[str, tuple[bytes, str]]


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


def bundle_hash(bpmn_xml: bytes, called_processes: Documents, decisions: Documents) -> str:
    """The identity of a diagram together with the exact documents it calls: a caller pinned to
    other versions of its callees is a different executable."""
    if not called_processes and not decisions:
        return content_hash(bpmn_xml)
    digest = hashlib.sha256(content_hash(bpmn_xml).encode())
    for kind, documents in (("process", called_processes), ("decision", decisions)):
        for key in sorted(documents):
            digest.update(f"|{kind}:{key}:{content_hash(documents[key][0])}".encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class References:
    """What a diagram calls: process ids of its call activities, ids of its decisions."""

    processes: frozenset[str]
    decisions: frozenset[str]


def referenced_documents(bpmn_xml: bytes) -> References:
    """The call-activity targets and DMN decisions a diagram refers to, read from its XML (the
    app looks these up among deployed versions before the engine parses the diagram)."""
    root = _check_xml(bpmn_xml)
    ns = {"bpmn": BPMN_NS, "spiffworkflow": SPIFF_NS}
    processes = {str(v) for v in root.xpath("//bpmn:callActivity/@calledElement", namespaces=ns)}
    decisions = {
        (el.text or "").strip()
        for el in root.xpath("//bpmn:businessRuleTask//spiffworkflow:calledDecisionId",
                             namespaces=ns)
    }
    own = {str(v) for v in root.xpath("//bpmn:process/@id", namespaces=ns)}
    return References(frozenset(processes - own - {""}), frozenset(decisions - {""}))


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


def _user_tasks(
    spec: Any, subprocess_specs: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """User tasks of the process and of every process it calls (a called task is routed by its
    own lane, for the same subject, so a case can check them all before it starts)."""
    tasks = []
    specs = [spec, *(subprocess_specs or {}).values()]
    for task_spec in (ts for process_spec in specs for ts in process_spec.task_specs.values()):
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


def _parse_specs(
    bpmn_xml: bytes,
    source_name: str,
    called_processes: Documents | None = None,
    decisions: Documents | None = None,
) -> tuple[str, Any, dict[str, Any]]:
    """XML safety checks, then SpiffWorkflow's parser with its schema validator. The documents
    the diagram calls go to the same parser, so call activities and business-rule tasks resolve
    against exactly those versions."""
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
        for called_xml, called_name in (called_processes or {}).values():
            _check_xml(called_xml)
            parser.add_bpmn_str(called_xml, filename=called_name)
        for decision_xml, decision_name in (decisions or {}).values():
            parser.add_dmn_xml(_check_xml(decision_xml), filename=decision_name)
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


def cached_process(key: str) -> ParsedProcess | None:
    """A process already parsed under `bundle_hash` key, without fetching its documents again."""
    with _cache_lock:
        return _cache.get(key)


def parse_process(
    bpmn_xml: bytes,
    source_name: str = "diagram.bpmn",
    *,
    called_processes: Documents | None = None,
    decisions: Documents | None = None,
) -> ParsedProcess:
    """Parse and validate one BPMN document holding one executable process, with the documents
    its call activities and business-rule tasks refer to (cached per bundle of contents)."""
    called_processes = called_processes or {}
    decisions = decisions or {}
    key = bundle_hash(bpmn_xml, called_processes, decisions)
    with _cache_lock:
        if key in _cache:
            return _cache[key]
    _check_decision_cells(decisions)
    process_id, spec, subprocess_specs = _parse_specs(
        bpmn_xml, source_name, called_processes, decisions
    )
    _check_code(spec, subprocess_specs)
    parsed = ParsedProcess(
        process_id=process_id,
        name=spec.description or process_id,
        spec=spec,
        subprocess_specs=subprocess_specs,
        spec_json=spec_to_json(spec),
        subprocess_specs_json={k: spec_to_json(v) for k, v in subprocess_specs.items()},
        user_tasks=_user_tasks(spec, subprocess_specs),
        lanes=_lanes(bpmn_xml, process_id),
    )
    with _cache_lock:
        _cache[key] = parsed
    return parsed


def _check_decision_cells(decisions: Documents) -> None:
    """DMN cells are code: every table a diagram uses is checked under the script restrictions
    again here, not only when it was deployed."""
    from app.engine.decisions import decision_problems  # decisions imports this module

    for decision_xml, decision_name in decisions.values():
        _parsed, problems = decision_problems(decision_xml, decision_name)
        if problems:
            raise problems[0]


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
    bpmn_xml: bytes,
    source_name: str = "diagram.bpmn",
    *,
    called_processes: Documents | None = None,
    decisions: Documents | None = None,
) -> tuple[ParsedProcess | None, list[ProcessDefinitionError]]:
    """Everything the engine refuses in a diagram, each with its element id where one is known,
    so an editor can mark every problem at once.

    Returns the parsed process and [] when nothing is wrong. When only diagram code is refused,
    returns every such problem and, for inspection only (the app's own rules), a parsed process
    that is neither cached nor ever given to a runtime. When parsing itself fails, returns None
    and that one error."""
    called_processes = called_processes or {}
    decisions = decisions or {}
    key = bundle_hash(bpmn_xml, called_processes, decisions)
    with _cache_lock:
        if key in _cache:
            return _cache[key], []
    try:
        _check_decision_cells(decisions)
        process_id, spec, subprocess_specs = _parse_specs(
            bpmn_xml, source_name, called_processes, decisions
        )
    except ProcessDefinitionError as exc:
        return None, [_locate(exc, bpmn_xml)]
    problems = _code_problems(spec, subprocess_specs)
    if not problems:
        return parse_process(
            bpmn_xml, source_name, called_processes=called_processes, decisions=decisions
        ), []
    inspected = ParsedProcess(
        process_id=process_id,
        name=spec.description or process_id,
        spec=None,
        subprocess_specs={},
        spec_json="",
        subprocess_specs_json={},
        user_tasks=_user_tasks(spec, subprocess_specs),
        lanes=_lanes(bpmn_xml, process_id),
    )
    return inspected, problems
