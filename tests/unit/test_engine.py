"""The engine adapter executes the BPMN in workflows/ and refuses diagrams that must not run."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.engine import (
    EngineError,
    ProcessDefinitionError,
    ScriptRestrictionError,
    WorkflowRuntime,
    decision_problems,
    parse_process,
)
from app.engine.scripts import RestrictedEnvironment
from tests.helpers import good_scorecard

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"


def _parse(path: Path):  # noqa: ANN202
    return parse_process(path.read_bytes(), path.name)


@pytest.mark.parametrize("path", sorted((ROOT / "workflows").glob("*.bpmn")), ids=lambda p: p.name)
def test_every_workflow_file_parses_with_the_validator(path: Path) -> None:
    # Call activities and business-rule tasks resolve against the other files in workflows/.
    others = {p.stem: (p.read_bytes(), p.name)
              for p in (ROOT / "workflows").glob("*.bpmn") if p != path}
    decisions = {}
    for dmn in (ROOT / "workflows").glob("*.dmn"):
        parsed_dmn, problems = decision_problems(dmn.read_bytes(), dmn.name)
        assert not problems, problems
        for decision in parsed_dmn.decisions:
            decisions[decision["id"]] = (dmn.read_bytes(), dmn.name)
    parsed = parse_process(path.read_bytes(), path.name, called_processes=others,
                           decisions=decisions)
    assert parsed.process_id
    assert all(task["form_key"] for task in parsed.user_tasks)


def _goal_setting():  # noqa: ANN202
    return _parse(ROOT / "workflows" / "goal_setting.bpmn")


def _complete_ready(runtime: WorkflowRuntime, name: str, data: dict) -> None:
    ready = runtime.ready_human_tasks()
    assert [t.task_name for t in ready] == [name]
    runtime.complete_task(ready[0].engine_task_id, data)


def test_goal_setting_starts_at_scorecard_design_in_the_reporting_officer_lane() -> None:
    runtime = WorkflowRuntime.start(_goal_setting(), {"subject": {"name": "A"}})
    [task] = runtime.ready_human_tasks()
    assert (task.task_name, task.lane, task.form_key, task.due_in_days) == (
        "design_scorecard", "reporting_officer", "scorecard_design", 14)


def test_goal_setting_runs_to_the_end_when_everyone_agrees() -> None:
    runtime = WorkflowRuntime.start(_goal_setting(), {})
    _complete_ready(runtime, "design_scorecard", {"scorecard": good_scorecard()})
    _complete_ready(runtime, "review_scorecard", {"employee_decision": "agree"})
    _complete_ready(runtime, "countersign_scorecard", {"countersign_decision": "approve"})
    assert runtime.is_completed
    assert runtime.current_data()["scorecard_summary"] == {
        "kpi_count": 3, "quantity_weight": 65, "quality_weight": 35}


def test_employee_return_loops_back_to_design() -> None:
    runtime = WorkflowRuntime.start(_goal_setting(), {})
    _complete_ready(runtime, "design_scorecard", {"scorecard": good_scorecard()})
    _complete_ready(runtime, "review_scorecard",
                    {"employee_decision": "return", "employee_comment": "Targets too high"})
    [task] = runtime.ready_human_tasks()
    assert task.task_name == "design_scorecard"


def test_countersigning_return_loops_back_to_design() -> None:
    runtime = WorkflowRuntime.start(_goal_setting(), {})
    _complete_ready(runtime, "design_scorecard", {"scorecard": good_scorecard()})
    _complete_ready(runtime, "review_scorecard", {"employee_decision": "agree"})
    _complete_ready(runtime, "countersign_scorecard",
                    {"countersign_decision": "return", "countersign_comment": "Add a KPI"})
    assert [t.task_name for t in runtime.ready_human_tasks()] == ["design_scorecard"]


def test_state_survives_a_round_trip_through_json_without_the_spec() -> None:
    parsed = _goal_setting()
    runtime = WorkflowRuntime.start(parsed, {})
    _complete_ready(runtime, "design_scorecard", {"scorecard": good_scorecard()})
    state, version = runtime.dump()
    assert '"spec"' not in state[:200] and len(state) < len(parsed.spec_json) * 2
    for _ in range(2):  # loading must not consume the cached spec
        loaded = WorkflowRuntime.load(parsed, state, version)
        [ready] = loaded.ready_human_tasks()
        assert (ready.task_name, ready.form_key) == ("review_scorecard", "scorecard_review")
        assert loaded.current_data()["scorecard"] == good_scorecard()


def test_a_loaded_workflow_still_runs_scripts_restricted() -> None:
    parsed = _parse(DATA / "valid_minimal" / "fixture_process.bpmn")
    runtime = WorkflowRuntime.start(parsed, {"numbers": [1, 2, 3]})
    state, version = runtime.dump()
    loaded = WorkflowRuntime.load(parsed, state, version)
    assert isinstance(loaded._workflow.script_engine.environment, RestrictedEnvironment)
    assert loaded.current_data()["label"] == "total 12"


def test_completing_a_task_that_is_not_ready_is_refused() -> None:
    from app.engine import TaskNotReadyError

    runtime = WorkflowRuntime.start(_goal_setting(), {})
    [task] = runtime.ready_human_tasks()
    runtime.complete_task(task.engine_task_id, {"scorecard": good_scorecard()})
    with pytest.raises(TaskNotReadyError):
        runtime.complete_task(task.engine_task_id, {"scorecard": good_scorecard()})


def test_a_condition_failing_on_missing_data_is_an_engine_error() -> None:
    runtime = WorkflowRuntime.start(_goal_setting(), {})
    _complete_ready(runtime, "design_scorecard", {"scorecard": good_scorecard()})
    [task] = runtime.ready_human_tasks()
    with pytest.raises(EngineError):
        runtime.complete_task(task.engine_task_id, {})  # no employee_decision for the gateway


@pytest.mark.parametrize(
    "fixture, reason",
    [
        ("malicious_script/import_os.bpmn", "import"),
        ("malicious_script/dunder_escape.bpmn", "__class__"),
        ("malicious_script/open_file.bpmn", "open"),
        ("unsafe_condition/dunder_condition.bpmn", "__class__"),
        ("unsafe_condition/syntax_error.bpmn", "x =="),
    ],
)
def test_diagram_code_that_could_escape_is_refused_at_parse_time(fixture: str, reason: str) -> None:
    with pytest.raises(ProcessDefinitionError) as error:
        _parse(DATA / fixture)
    assert reason in error.value.message


def test_xml_with_external_entities_is_refused() -> None:
    with pytest.raises(ProcessDefinitionError) as error:
        _parse(DATA / "xxe" / "external_entity.bpmn")
    assert "DTD" in error.value.message


def test_malformed_xml_is_refused_with_the_parsers_reason() -> None:
    with pytest.raises(ProcessDefinitionError) as error:
        parse_process(b"<bpmn:definitions", "broken.bpmn")
    assert "Not well-formed XML" in error.value.message


def test_schema_invalid_bpmn_is_refused_by_the_validator() -> None:
    xml = (ROOT / "workflows" / "goal_setting.bpmn").read_bytes().replace(
        b"<bpmn:startEvent ", b"<bpmn:startEventX ", 1).replace(
        b"</bpmn:startEvent>", b"</bpmn:startEventX>", 1)
    with pytest.raises(ProcessDefinitionError):
        parse_process(xml, "invalid.bpmn")


@pytest.mark.parametrize(
    "code",
    [
        "().__class__.__base__.__subclasses__()",
        "[c for c in ().__class__.__mro__]",
        "__import__('os')",
        "getattr(1, '__class__')",
        "type(1)",
    ],
)
def test_restricted_compiler_refuses_escapes(code: str) -> None:
    from app.engine.scripts import compile_expression

    with pytest.raises((ScriptRestrictionError, SyntaxError)):
        compile_expression(code)


def test_restricted_environment_evaluates_ordinary_expressions() -> None:
    env = RestrictedEnvironment()
    data = {"scorecard": good_scorecard()}
    assert env.evaluate('sum([k["weight"] for k in scorecard])', data) == 100
    env.execute("total = 0\nfor k in scorecard:\n    total += k['weight']", data)
    assert data["total"] == 100
