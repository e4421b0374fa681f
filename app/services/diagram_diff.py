"""What changed between two versions of a diagram, element by element (by BPMN id).

Both documents are parsed by the engine's hardened XML parser (no DTDs, no entities, size
limit). Only the process semantics are compared: layout (BPMN DI) moves nothing a case runs
through, so it is reported as one flag instead of as changed elements.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.engine import safe_xml_root

DI_NAMESPACES = (
    "http://www.omg.org/spec/BPMN/20100524/DI",
    "http://www.omg.org/spec/DD/20100524/DI",
    "http://www.omg.org/spec/DD/20100524/DC",
)


# Attributes at their BPMN schema default mean the same as no attribute; editors (bpmn-js) drop
# them on export, which must not show as a change.
SCHEMA_DEFAULTS = {
    "cancelActivity": "true",
    "isInterrupting": "true",
    "isForCompensation": "false",
    "startQuantity": "1",
    "completionQuantity": "1",
    "parallelMultiple": "false",
    "isClosed": "false",
    "gatewayDirection": "Unspecified",
    "isImmediate": "true",
}


@dataclass(frozen=True)
class ElementChange:
    element_id: str
    kind: str  # the element's tag without namespace: userTask, sequenceFlow, lane...
    name: str | None
    change: str  # added, removed or changed
    details: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DiagramDiff:
    added: list[ElementChange]
    removed: list[ElementChange]
    changed: list[ElementChange]
    layout_changed: bool

    @property
    def is_empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.layout_changed)


def _local(tag: Any) -> str:
    return tag.split("}", 1)[1] if isinstance(tag, str) and "}" in tag else str(tag)


def _namespace(tag: Any) -> str:
    return tag[1:].split("}", 1)[0] if isinstance(tag, str) and tag.startswith("{") else ""


def _is_di(element: Any) -> bool:
    return _namespace(element.tag) in DI_NAMESPACES


def _signature(element: Any, layout: bool = False) -> tuple:
    """The element's own content: attributes, text and children that have no id of their own
    (children with ids are compared as elements in their own right)."""
    children = tuple(
        _signature(child, layout)
        for child in element
        if isinstance(child.tag, str) and not child.get("id") and _is_di(child) == layout
    )
    text = (element.text or "").strip()
    return (_local(element.tag), tuple(sorted(_attributes(element).items())), text, children)


def _attributes(element: Any) -> dict[str, str]:
    return {k: v for k, v in element.attrib.items() if SCHEMA_DEFAULTS.get(k) != v}


def _elements(root: Any, *, layout: bool) -> dict[str, Any]:
    found = {}
    for element in root.iter():
        if not isinstance(element.tag, str) or not element.get("id"):
            continue
        if _is_di(element) == layout:
            found[element.get("id")] = element
    return found


def _details(old: Any, new: Any) -> list[str]:
    details = []
    old_attributes, new_attributes = _attributes(old), _attributes(new)
    for key in sorted(set(old_attributes) | set(new_attributes)):
        if key == "id":
            continue
        before, after = old_attributes.get(key), new_attributes.get(key)
        if before != after:
            details.append(f"{_local(key)}: {before!r} → {after!r}")
    if (old.text or "").strip() != (new.text or "").strip():
        details.append("text changed")
    old_children: dict[str, list[tuple]] = {}
    new_children: dict[str, list[tuple]] = {}
    for source, target in ((old, old_children), (new, new_children)):
        for child in source:
            if isinstance(child.tag, str) and not child.get("id") and not _is_di(child):
                target.setdefault(_local(child.tag), []).append(_signature(child))
    for tag in sorted(set(old_children) | set(new_children)):
        if sorted(old_children.get(tag, [])) != sorted(new_children.get(tag, [])):
            details.append(f"{tag} changed")
    return details


def _change(element: Any, change: str, details: list[str] | None = None) -> ElementChange:
    return ElementChange(
        element_id=element.get("id"),
        kind=_local(element.tag),
        name=element.get("name"),
        change=change,
        details=details or [],
    )


def diff_diagrams(old_xml: bytes, new_xml: bytes) -> DiagramDiff:
    """Added, removed and changed elements (by id) from `old_xml` to `new_xml`."""
    old_root, new_root = safe_xml_root(old_xml), safe_xml_root(new_xml)
    old, new = _elements(old_root, layout=False), _elements(new_root, layout=False)
    added = [_change(new[i], "added") for i in new if i not in old]
    removed = [_change(old[i], "removed") for i in old if i not in new]
    changed = [
        _change(new[i], "changed", _details(old[i], new[i]))
        for i in new
        if i in old and _signature(old[i]) != _signature(new[i])
    ]
    old_layout = {i: _signature(e, True) for i, e in _elements(old_root, layout=True).items()}
    new_layout = {i: _signature(e, True) for i, e in _elements(new_root, layout=True).items()}
    return DiagramDiff(added, removed, changed, layout_changed=old_layout != new_layout)
