"""Starting many workflows at once, in this process or in worker processes: the same answers as
`WorkflowRuntime.start`, with the parent's clock, and a failing start reported, not raised."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.clock import clock
from app.engine import EngineError, WorkflowRuntime, parse_process
from app.engine.batch import StartedWorkflow, WorkflowStarter

DATA = Path(__file__).resolve().parents[1] / "data"
TIMERS = DATA / "timers" / "reminder_then_escalation.bpmn"
MINIMAL = DATA / "valid_minimal" / "fixture_process.bpmn"
FROZEN = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_clock() -> Iterator[None]:
    clock.freeze(FROZEN)
    yield
    clock.reset()


def _shape(started: StartedWorkflow) -> tuple:
    return (tuple((t.task_name, t.lane, t.form_key) for t in started.ready), started.timer_due,
            started.completed)


@pytest.mark.parametrize("workers", [0, 2])
def test_started_workflows_answer_like_a_live_runtime(workers: int) -> None:
    live = WorkflowRuntime.start(parse_process(TIMERS.read_bytes(), TIMERS.name), {"n": 1})
    with WorkflowStarter(TIMERS.read_bytes(), TIMERS.name, workers) as starter:
        started = starter.start_many([{"n": i} for i in range(120)])
    assert len(started) == 120
    expected = (tuple((t.task_name, t.lane, t.form_key) for t in live.ready_human_tasks()),
                live.next_timer_due(), live.is_completed)
    assert {_shape(s) for s in started} == {expected}
    assert expected[1] == FROZEN + timedelta(days=1)  # computed from the parent's frozen clock


def test_a_started_workflow_is_stored_without_its_spec_and_loads_back() -> None:
    process = parse_process(MINIMAL.read_bytes(), MINIMAL.name)
    with WorkflowStarter(MINIMAL.read_bytes(), MINIMAL.name) as starter:
        [started] = starter.start_many([{"numbers": [1, 2]}])
    state = json.loads(started.state_json)
    assert "spec" not in state and "subprocess_specs" not in state  # kept on the version
    runtime = WorkflowRuntime.load(process, *started.dump())
    assert runtime.current_data()["label"] == "total 6"
    assert [t.task_name for t in runtime.ready_human_tasks()] == ["ask"]


@pytest.mark.parametrize("workers", [0, 1])
def test_a_start_that_fails_is_reported_in_its_place(workers: int) -> None:
    with WorkflowStarter(MINIMAL.read_bytes(), MINIMAL.name, workers) as starter:
        results = starter.start_many([{"numbers": [1]}, {}, {"numbers": [5]}])
    assert isinstance(results[0], StartedWorkflow) and isinstance(results[2], StartedWorkflow)
    assert isinstance(results[1], EngineError) and "numbers" in str(results[1])
