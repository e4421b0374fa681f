"""Restricted evaluation of BPMN scripts, gateway conditions and DMN cells.

SpiffWorkflow's default engine runs diagram code with plain `exec`/`eval` and full builtins, so a
diagram could `import os`. Here every piece of diagram code is compiled with RestrictedPython
(no imports, no dunder or underscore attribute access, guarded item access and iteration) and run
with a short whitelist of builtins. Code that does not compile under those rules is refused when a
process version is parsed, before any case can run it.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable
from functools import lru_cache
from types import CodeType
from typing import Any

from RestrictedPython import compile_restricted_eval, compile_restricted_exec, safe_builtins
from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr,
)
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment


class ScriptRestrictionError(ValueError):
    """Diagram code that the restricted compiler refuses."""


_EXTRA_BUILTINS: dict[str, Any] = {
    name: __builtins__[name] if isinstance(__builtins__, dict) else getattr(__builtins__, name)
    for name in (
        "all", "any", "dict", "enumerate", "list", "max", "min", "sorted", "sum", "reversed",
        "map", "filter",
    )
}

_INPLACE_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "+=": operator.iadd, "-=": operator.isub, "*=": operator.imul, "/=": operator.itruediv,
    "//=": operator.ifloordiv, "%=": operator.imod, "**=": operator.ipow,
}


def _inplacevar(op: str, x: Any, y: Any) -> Any:
    if op not in _INPLACE_OPERATORS:
        raise ScriptRestrictionError(f"operator {op} is not allowed in diagram code")
    return _INPLACE_OPERATORS[op](x, y)


def restricted_globals() -> dict[str, Any]:
    """The whole world diagram code can see, besides the case's task data."""
    builtins = dict(safe_builtins)
    builtins.update(_EXTRA_BUILTINS)
    return {
        "__builtins__": builtins,
        "_getattr_": safer_getattr,
        "_getitem_": default_guarded_getitem,
        "_getiter_": default_guarded_getiter,
        "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
        "_unpack_sequence_": guarded_unpack_sequence,
        "_write_": full_write_guard,
        "_inplacevar_": _inplacevar,
    }


# Names that are not builtins here anyway; refusing them up front gives the process owner a clear
# reason at validation time instead of a NameError in a running case.
FORBIDDEN_NAMES = frozenset({
    "open", "eval", "exec", "compile", "__import__", "globals", "locals", "vars", "getattr",
    "setattr", "delattr", "input", "breakpoint", "help", "exit", "quit", "memoryview", "type",
    "super", "object", "classmethod", "staticmethod", "property",
})


def _refuse_forbidden_names(source: str, mode: str) -> None:
    tree = ast.parse(source, mode=mode)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            raise ScriptRestrictionError(
                f"Line {node.lineno}: import is not allowed in diagram code."
            )
        if isinstance(node, ast.Name) and node.id in FORBIDDEN_NAMES:
            raise ScriptRestrictionError(
                f"Line {node.lineno}: {node.id!r} is not available to diagram code."
            )


@lru_cache(maxsize=2048)
def compile_expression(expression: str) -> CodeType:
    result = compile_restricted_eval(expression, "<condition>")
    if result.errors or result.code is None:
        raise ScriptRestrictionError("; ".join(result.errors) or "expression does not compile")
    _refuse_forbidden_names(expression, "eval")
    return result.code


@lru_cache(maxsize=1024)
def compile_script(script: str) -> CodeType:
    result = compile_restricted_exec(script, "<script>")
    if result.errors or result.code is None:
        raise ScriptRestrictionError("; ".join(result.errors) or "script does not compile")
    _refuse_forbidden_names(script, "exec")
    return result.code


class RestrictedEnvironment(TaskDataEnvironment):
    """A TaskDataEnvironment that evaluates RestrictedPython byte code only."""

    def __init__(self) -> None:
        super().__init__(restricted_globals())

    def evaluate(self, expression, context, external_context=None):  # noqa: ANN001, ANN201
        code = compile_expression(expression)
        my_globals = dict(self.globals)
        my_globals.update(external_context or {})
        my_globals.update(context)
        return eval(code, my_globals)  # noqa: S307 - restricted byte code, guarded globals

    def execute(self, script, context, external_context=None):  # noqa: ANN001, ANN201
        code = compile_script(script)
        self.check_for_overwrite(context, external_context or {})
        context.update(self.globals)
        context.update(external_context or {})
        try:
            exec(code, context)  # noqa: S102 - restricted byte code, guarded globals
        finally:
            self._remove_globals_and_functions_from_context(context, external_context)
        return True


def restricted_script_engine() -> PythonScriptEngine:
    """A fresh engine; it is not serialized, so set it again after every load."""
    return PythonScriptEngine(environment=RestrictedEnvironment())
