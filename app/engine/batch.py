"""Starting many workflows of one process version at once, optionally in worker processes.

A cycle launch starts tens of thousands of cases of one version. The engine's part of each start
(building the task tree, running to the first wait state, serializing) is CPU-bound and
independent per case, so it can run in parallel processes. Each start comes back as a
`StartedWorkflow`: the serialized state, the user tasks waiting for people, the next timer and
whether the process already ended — the same answers a live `WorkflowRuntime` gives the service
layer after `WorkflowRuntime.start`, so both paths store cases with the same code.

Worker processes parse the diagram once, read "now" from the parent (the app clock is
per-process, and tests freeze it), and exit by themselves if the parent dies (e.g. `kill -9` of a
launch), so an interrupted launch never leaves orphans behind.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.clock import clock
from app.engine.parser import Documents, parse_process
from app.engine.runtime import EngineError, ReadyHumanTask, WorkflowRuntime

CHUNK_SIZE = 50


@dataclass(frozen=True)
class StartedWorkflow:
    """A workflow just started and run to its first wait state, as plain values."""

    state_json: str
    serializer_version: str
    ready: tuple[ReadyHumanTask, ...]
    timer_due: datetime | None
    completed: bool
    # What the reporting projection reads (WorkflowRuntime.current_data, .active_elements).
    data: dict[str, Any]
    elements: tuple[str, ...]

    def current_data(self) -> dict[str, Any]:
        return self.data

    def active_elements(self) -> list[str]:
        return list(self.elements)

    def dump(self) -> tuple[str, str]:
        return self.state_json, self.serializer_version

    def ready_human_tasks(self) -> list[ReadyHumanTask]:
        return list(self.ready)

    def next_timer_due(self) -> datetime | None:
        return self.timer_due

    @property
    def is_completed(self) -> bool:
        return self.completed


def snapshot(runtime: WorkflowRuntime) -> StartedWorkflow:
    state_json, version = runtime.dump()
    return StartedWorkflow(
        state_json=state_json,
        serializer_version=version,
        ready=tuple(runtime.ready_human_tasks()),
        timer_due=runtime.next_timer_due(),
        completed=runtime.is_completed,
        data=runtime.current_data(),
        elements=tuple(runtime.active_elements()),
    )


@dataclass(frozen=True)
class _Bundle:
    """Everything `parse_process` needs, picklable for the worker processes."""

    bpmn_xml: bytes
    source_name: str
    called_processes: Mapping[str, tuple[bytes, str]]
    decisions: Mapping[str, tuple[bytes, str]]

    def parse(self) -> Any:
        return parse_process(self.bpmn_xml, self.source_name,  # cached by content
                             called_processes=self.called_processes, decisions=self.decisions)


def _start_all(bundle: _Bundle,
               datas: Sequence[dict[str, Any]]) -> list[StartedWorkflow | EngineError]:
    process = bundle.parse()
    results: list[StartedWorkflow | EngineError] = []
    for data in datas:
        try:
            results.append(snapshot(WorkflowRuntime.start(process, data)))
        except EngineError as exc:
            results.append(exc)
    return results


# --- worker processes -------------------------------------------------------------------------

_worker_bundle: _Bundle | None = None


def _exit_when_orphaned(parent_pid: int) -> None:
    while True:
        if os.getppid() != parent_pid:
            os._exit(1)
        time.sleep(0.5)


def _init_worker(bundle: _Bundle, parent_pid: int) -> None:
    global _worker_bundle
    _worker_bundle = bundle
    bundle.parse()
    threading.Thread(target=_exit_when_orphaned, args=(parent_pid,), daemon=True).start()


def _start_chunk(now: datetime,
                 datas: Sequence[dict[str, Any]]) -> list[StartedWorkflow | EngineError]:
    assert _worker_bundle is not None, "worker not initialised"
    clock.freeze(now)  # the parent's "now": timers are computed from the same instant
    return _start_all(_worker_bundle, datas)


class WorkflowStarter:
    """Starts workflows of one process version (with the exact called processes and decisions
    it pinned): in this process (`workers=0`), or spread over `workers` processes. Use as a
    context manager so the workers are shut down."""

    def __init__(
        self,
        bpmn_xml: bytes,
        source_name: str,
        workers: int = 0,
        *,
        called_processes: Documents | None = None,
        decisions: Documents | None = None,
    ) -> None:
        self._bundle = _Bundle(bpmn_xml, source_name, dict(called_processes or {}),
                               dict(decisions or {}))
        self._bundle.parse()  # refuse a bad diagram before any worker starts
        self._pool: Executor | None = None
        if workers > 0:
            self._pool = ProcessPoolExecutor(
                max_workers=workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(self._bundle, os.getpid()),
            )

    @property
    def parallel(self) -> bool:
        """Whether starts run in worker processes (so starting early overlaps other work)."""
        return self._pool is not None

    def start_many(
        self, datas: Sequence[dict[str, Any]]
    ) -> list[StartedWorkflow | EngineError]:
        """One result per start data, in order: the started workflow, or why it could not start."""
        return self.start_later(datas)()

    def start_later(
        self, datas: Sequence[dict[str, Any]]
    ) -> Callable[[], list[StartedWorkflow | EngineError]]:
        """Hand the starts to the workers now and return a function that waits for their
        results (in this process, the work is done when the function is called)."""
        datas = list(datas)
        if self._pool is None:
            return lambda: _start_all(self._bundle, datas)
        now = clock.now()
        futures = [self._pool.submit(_start_chunk, now, datas[i:i + CHUNK_SIZE])
                    for i in range(0, len(datas), CHUNK_SIZE)]
        return lambda: [result for future in futures for result in future.result()]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> WorkflowStarter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
