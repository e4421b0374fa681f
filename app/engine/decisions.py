"""DMN decision tables: parsed by SpiffWorkflow's DMN parser and its schema, behind the same XML
hardening as BPMN, and every cell compiled under the script restrictions.

DMN cells are Python expressions in SpiffWorkflow (not FEEL), so an uploaded table is code and
gets the same treatment as a script task: refused before anything could evaluate it.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Any

from lxml import etree
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser

from app.engine.parser import ProcessDefinitionError, safe_xml_root
from app.engine.scripts import ScriptRestrictionError, compile_expression

# SpiffWorkflow's DMN engine turns `?` outside quotes into the input's value.
_QUESTION_MARK = re.compile(r"(\?)(?=(?:[^'\"]|['\"][^'\"]*['\"])*$)")


@dataclass(frozen=True)
class ParsedDecisions:
    """What a valid DMN document offers a business-rule task: its decisions by id."""

    decisions: list[dict[str, Any]]


def _check_match(input_expression: str, match: str, element_id: str) -> None:
    """Compile a rule's input cell the way the DMN engine will evaluate it: `?` stands for the
    input, else `input == cell` if that parses, else `input cell` (e.g. `>= 90`)."""
    if "?" in match:
        candidates = [_QUESTION_MARK.sub("dmninputexpr", match)]
    else:
        candidates = [f"({input_expression}) == ({match})", f"{input_expression} {match}"]
    for candidate in candidates:
        try:
            ast.parse(candidate, mode="eval")
        except SyntaxError:
            continue
        try:
            compile_expression(candidate)
        except ScriptRestrictionError as exc:
            raise ProcessDefinitionError(
                f"Cell {match!r} of {element_id} is not allowed: {exc}", element_id
            ) from exc
        return
    raise ProcessDefinitionError(f"Cell {match!r} of {element_id} does not parse", element_id)


def _check_table(table: Any) -> list[ProcessDefinitionError]:
    problems: list[ProcessDefinitionError] = []
    for column in table.inputs:
        if column.expression:
            try:
                compile_expression(column.expression)
            except (ScriptRestrictionError, SyntaxError) as exc:
                problems.append(ProcessDefinitionError(
                    f"Input expression {column.expression!r} of {column.id} is not allowed: "
                    f"{exc}", column.id))
    for rule in table.rules:
        for entry in rule.inputEntries:
            for match in entry.lhs:
                if match is None:
                    continue
                try:
                    _check_match(entry.input.expression or "None", match, entry.id or rule.id)
                except ProcessDefinitionError as exc:
                    problems.append(exc)
        for entry in rule.outputEntries:
            if getattr(entry, "text", ""):
                try:
                    compile_expression(entry.text)
                except (ScriptRestrictionError, SyntaxError) as exc:
                    problems.append(ProcessDefinitionError(
                        f"Output {entry.text!r} of {entry.id or rule.id} is not allowed: {exc}",
                        entry.id or rule.id))
    return problems


def decision_problems(
    dmn_xml: bytes, source_name: str = "decision.dmn"
) -> tuple[ParsedDecisions | None, list[ProcessDefinitionError]]:
    """Validate a DMN document (XML safety, schema, structure, restricted cells): the decisions
    it offers when nothing is wrong, else every problem found, each with its element id."""
    try:
        root = safe_xml_root(dmn_xml)
    except ProcessDefinitionError as exc:
        return None, [exc]
    parser = SpiffBpmnParser(validator=VALIDATOR)
    decisions = []
    problems: list[ProcessDefinitionError] = []
    try:
        parser.add_dmn_xml(root, filename=source_name)
        for decision_id, dmn_parser in parser.dmn_parsers.items():
            dmn_parser.parse()
            decision = dmn_parser.decision
            for table in decision.decisionTables:
                problems += _check_table(table)
            decisions.append({
                "id": decision_id,
                "name": decision.name,
                "rules": sum(len(t.rules) for t in decision.decisionTables),
            })
    except SpiffWorkflowException as exc:
        return None, [ProcessDefinitionError(
            str(exc), element_id=getattr(exc, "id", None) or None,
            line=getattr(exc, "line_number", None) or None,
        )]
    except (etree.LxmlError, AttributeError, IndexError, KeyError, ValueError, TypeError) as exc:
        # The DMN parser assumes a well-formed table and fails with plain errors otherwise.
        return None, [ProcessDefinitionError(f"Not a DMN decision table Meezan can read: {exc}")]
    if not decisions:
        problems.append(ProcessDefinitionError("The document holds no DMN decision"))
    if problems:
        return None, problems
    return ParsedDecisions(decisions=decisions), []
